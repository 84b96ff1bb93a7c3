/**
 * Node identity: one long-term Ed25519 key pair per region, and its key file.
 *
 * Key file format (JSON, UTF-8, mode 0600):
 *
 * ```json
 * { "region": "eu-west", "publicKey": "<64 hex chars>", "secretKey": "<64 hex chars>" }
 * ```
 *
 * `secretKey` is the 32-byte RFC 8032 seed. The public key is stored only so operators can copy
 * it into the federation file; on load it must match the key derived from `secretKey`.
 *
 * Secrecy: identity objects made here redact `secretKey` from `JSON.stringify` and
 * `util.inspect`/`console.log`. Errors name the file and the field, never its contents.
 * @module
 */

import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import { chmod, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { ConfigError } from '../errors.js';
import { isRegionId, REGION_ID_RULE } from '../core/ids.js';
import { isHexBytes } from '../core/hex.js';

/** A region's long-term signing identity. `secretKey` is secret: never log or send it. */
export interface Identity {
  /** Region id, as listed in the federation file. */
  region: string;
  /** Ed25519 secret seed, 32 bytes (secret). */
  secretKey: Uint8Array;
  /** Ed25519 public key, 32 bytes. */
  publicKey: Uint8Array;
}

/** Ed25519 key and seed length in bytes (RFC 8032 §5.1.5). */
export const ED25519_KEY_BYTES = 32;
/** Largest key file we are willing to read; a real one is ~200 bytes. */
export const MAX_IDENTITY_FILE_BYTES = 4096;


const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Builds an identity object whose `secretKey` does not show up in JSON or console output.
 * The redaction hooks are non-enumerable, so `{ ...id }` still copies the three fields.
 */
function makeIdentity(region: string, secretKey: Uint8Array, publicKey: Uint8Array): Identity {
  const id: Identity = { region, secretKey, publicKey };
  const redacted = (): Record<string, string> => ({
    region: id.region,
    publicKey: bytesToHex(id.publicKey),
    secretKey: '<redacted>',
  });
  Object.defineProperty(id, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(id, INSPECT, { value: () => `Identity ${JSON.stringify(redacted())}`, enumerable: false });
  return id;
}

/**
 * Generates a fresh Ed25519 identity for `region` from the platform CSPRNG.
 * @param region - Region id (REGION_ID_RULE in src/core/ids.ts).
 * @returns The new identity.
 * @throws {RangeError} If `region` is not a valid region id.
 * @example
 * const id = generateIdentity('eu-west');
 */
export function generateIdentity(region: string): Identity {
  if (!isRegionId(region)) {
    throw new RangeError(`"region": ${REGION_ID_RULE}, got ${JSON.stringify(String(region)).slice(0, 80)}`);
  }
  const secretKey = randomBytes(ED25519_KEY_BYTES);
  return makeIdentity(region, secretKey, ed25519.getPublicKey(secretKey));
}

/**
 * Lowercase hex of the identity's public key (what goes into the federation file).
 * @param id - Identity.
 * @returns 64 hex characters.
 * @example
 * publicKeyHex(generateIdentity('eu'));
 */
export function publicKeyHex(id: Pick<Identity, 'publicKey'>): string {
  return bytesToHex(id.publicKey);
}

/**
 * Writes `id` as a key file with mode 0600. Refuses to overwrite an existing file unless
 * `force` is set; with `force`, the new file is written beside it and renamed over it, so a
 * crash never leaves a half-written key.
 * @param path - Destination file.
 * @param id - Identity to store.
 * @param opts - `{ force: true }` to replace an existing file.
 * @throws {ConfigError} CONFIG_INVALID if the file exists (without `force`) or cannot be written.
 * @example
 * await saveIdentity('/etc/mpc-node/eu.key.json', generateIdentity('eu'));
 */
export async function saveIdentity(path: string, id: Identity, opts: { force?: boolean } = {}): Promise<void> {
  if (!isRegionId(id.region)) throw new RangeError('"id.region" is not a valid region id');
  if (!(id.secretKey instanceof Uint8Array) || id.secretKey.length !== ED25519_KEY_BYTES) {
    throw new RangeError(`"id.secretKey" expected Uint8Array of length ${ED25519_KEY_BYTES}`);
  }
  if (!(id.publicKey instanceof Uint8Array) || id.publicKey.length !== ED25519_KEY_BYTES) {
    throw new RangeError(`"id.publicKey" expected Uint8Array of length ${ED25519_KEY_BYTES}`);
  }
  const text =
    JSON.stringify({ region: id.region, publicKey: bytesToHex(id.publicKey), secretKey: bytesToHex(id.secretKey) }, null, 2) + '\n';
  const force = opts.force === true;
  // Without force: O_EXCL creates the file atomically or fails if anything is there.
  // With force: write a sibling temp file (O_EXCL, 0600) then rename over the target.
  const target = force ? join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`) : path;
  let fh;
  try {
    fh = await open(target, 'wx', 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && !force) {
      throw new ConfigError('CONFIG_INVALID', `key file ${path} already exists; refusing to overwrite it (pass { force: true } to replace it)`);
    }
    throw new ConfigError('CONFIG_INVALID', `cannot create key file ${target}: ${code ?? 'unknown error'}`);
  }
  try {
    await fh.writeFile(text, 'utf8');
    await fh.chmod(0o600); // umask cannot widen 0600, but make it explicit
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(target).catch(() => undefined);
    throw new ConfigError('CONFIG_INVALID', `cannot write key file ${target}: ${(e as NodeJS.ErrnoException).code ?? 'unknown error'}`);
  }
  await fh.close();
  if (force) {
    try {
      await rename(target, path);
      await chmod(path, 0o600);
    } catch (e) {
      await unlink(target).catch(() => undefined);
      throw new ConfigError('CONFIG_INVALID', `cannot replace key file ${path}: ${(e as NodeJS.ErrnoException).code ?? 'unknown error'}`);
    }
  }
}


/**
 * Reads and validates a key file written by {@link saveIdentity}.
 *
 * Checks, in order: file size, permissions (no group/other access on POSIX, like ssh), JSON
 * syntax, exact key set, region id, hex lengths, and that `publicKey` matches `secretKey`.
 * @param path - Key file.
 * @returns The identity.
 * @throws {ConfigError} CONFIG_INVALID naming the file and what is wrong (never the key bytes).
 * @example
 * const id = await loadIdentity('/etc/mpc-node/eu.key.json');
 */
export async function loadIdentity(path: string): Promise<Identity> {
  const bad = (what: string): ConfigError => new ConfigError('CONFIG_INVALID', `key file ${path}: ${what}`);
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw bad(`cannot read (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  if (!st.isFile()) throw bad('not a regular file');
  if (st.size > MAX_IDENTITY_FILE_BYTES) throw bad(`too large (${st.size} bytes, limit ${MAX_IDENTITY_FILE_BYTES}); is this really a key file?`);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw bad(`permissions ${(st.mode & 0o777).toString(8)} allow group/other access; run: chmod 600 ${path}`);
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw bad(`cannot read (${(e as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    // V8's JSON.parse message quotes the input, which would print key material: no cause.
    throw bad('not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad('expected a JSON object { region, publicKey, secretKey }');
  const obj = raw as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  const want = ['publicKey', 'region', 'secretKey'];
  const unknownKeys = keys.filter((k) => !want.includes(k));
  if (unknownKeys.length > 0) throw bad(`unexpected field(s) ${unknownKeys.map((k) => JSON.stringify(k.slice(0, 40))).join(', ')}`);
  for (const k of want) if (!(k in obj)) throw bad(`missing field "${k}"`);
  if (!isRegionId(obj['region'])) throw bad(`"region": ${REGION_ID_RULE}`);
  const pkHex = obj['publicKey'];
  const skHex = obj['secretKey'];
  if (!isHexBytes(pkHex, 32, true)) throw bad('"publicKey" must be 64 hex characters (32 bytes)');
  if (!isHexBytes(skHex, 32, true)) throw bad('"secretKey" must be 64 hex characters (32 bytes)');
  const secretKey = hexToBytes(skHex);
  const publicKey = hexToBytes(pkHex);
  const derived = ed25519.getPublicKey(secretKey);
  if (bytesToHex(derived) !== bytesToHex(publicKey)) {
    throw bad('"publicKey" does not match the key derived from "secretKey" (file edited or keys mixed up)');
  }
  return makeIdentity(obj['region'], secretKey, publicKey);
}
