/**
 * Who may call the trainer API: named credentials with a role, kept hashed in
 * `<dataDir>/credentials.json` (mode 0600), the node's shared `api-token`, and the pseudonymous
 * trainer ids that stand for credential names in transcripts. The CLI (`mpc-node credential
 * add|list|revoke`, src/cli/credential.ts) writes the file; a running node rereads it when it
 * changes (a stat on each authentication), so a new or revoked credential counts from the next
 * request on, without a restart.
 *
 *   token      = "mpc_" || id (16 hex: which credential) || "_" || secret (64 hex: 32 random bytes)
 *   stored     = { id, name, role, hash: hex SHA-256(utf8 token), created }
 *   trainer id = hex( HMAC-SHA256(trainer-id-key, "mpc-node/trainer-id/v1\0" || utf8 name)[0..16) )
 *
 * A presented token is looked up by its id, and its SHA-256 compared with the stored hash in
 * constant time. Secrets (tokens, the trainer-id key) are never logged or put in errors; the
 * file holds hashes only. Spec: docs/api.md (roles), docs/configuration.md (the file).
 * @module
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { ConfigError } from '../errors.js';
import { HEX32_RE } from '../core/hex.js';
import { ensureNodeDirs, resolveNodePaths } from '../config/node-files.js';
import type { Logger } from './node-options.js';

/** What a credential may do: `trainer` submits updates, `auditor` reads the node's state, `operator` both. */
export type Role = 'trainer' | 'operator' | 'auditor';
export const ROLES: readonly Role[] = ['trainer', 'operator', 'auditor'];

/** A right a route needs: `aggregate` is POST /v1/aggregate, `read` is GET /v1/status and /metrics. */
export type Right = 'aggregate' | 'read';
/** The one table of who may do what (docs/api.md "Identity and roles"). */
export const RIGHTS: Readonly<Record<Role, readonly Right[]>> = { trainer: ['aggregate'], operator: ['aggregate', 'read'], auditor: ['read'] };

/** True if `role` carries `right`. */
export function mayDo(role: Role, right: Right): boolean {
  return RIGHTS[role].includes(right);
}

/** An authenticated caller: the credential's name (never the token) and its role. */
export interface Principal {
  readonly name: string;
  readonly role: Role;
}

/**
 * The name of the node's `api-token` credential: an operator, shared by whoever holds the file
 * (so its uploads are told apart only by their idempotency keys, src/node/submissions.ts).
 */
export const SHARED_CREDENTIAL = 'api-token';

/** A credential name: 1-64 of a-z, 0-9, `.`, `_`, `-`, starting with a letter or digit. */
export const CREDENTIAL_NAME_RE = /^[a-z0-9][a-z0-9._-]{0,63}$/;
export const CREDENTIAL_NAME_RULE = 'a credential name is 1-64 characters of a-z, 0-9, ".", "_" and "-", starting with a letter or digit';

const TOKEN_RE = /^mpc_([0-9a-f]{16})_[0-9a-f]{64}$/;
const TRAINER_ID_TAG = 'mpc-node/trainer-id/v1\0';
/** Bytes of HMAC kept in a trainer id (hex: 32 characters, core/ids.ts TRAINER_ID_RE). */
export const TRAINER_ID_BYTES = 16;

/** One credential as stored: never the token, only its hash. */
export interface StoredCredential {
  id: string;
  name: string;
  role: Role;
  hash: string;
  /** ISO 8601 UTC time of `credential add`. */
  created: string;
}

const FILE_VERSION = 1;

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

/**
 * The pseudonymous id of credential `name` in this node's transcripts (keyed: without the
 * node's trainer-id key nobody can tell which name an id stands for, or test a guessed name).
 * @param key - The trainer-id key (32 bytes as hex, `<dataDir>/trainer-id-key`).
 */
export function trainerPseudonym(key: string, name: string): string {
  return createHmac('sha256', Buffer.from(key, 'hex')).update(TRAINER_ID_TAG + name, 'utf8').digest().subarray(0, TRAINER_ID_BYTES).toString('hex');
}

/**
 * The credentials of a credentials.json text (strict: version, fields, names, roles, hashes).
 * @throws {ConfigError} CONFIG_INVALID naming the file and the first problem (never a hash).
 */
export function parseCredentials(text: string, path: string): StoredCredential[] {
  const bad = (why: string): never => {
    throw new ConfigError('CONFIG_INVALID', `credentials file ${path} is malformed: ${why}`);
  };
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return bad('not valid JSON');
  }
  const f = o as { version?: unknown; credentials?: unknown };
  if (typeof o !== 'object' || o === null || f.version !== FILE_VERSION || !Array.isArray(f.credentials)) return bad(`expected { "version": ${FILE_VERSION}, "credentials": [...] }`);
  const names = new Set<string>();
  const ids = new Set<string>();
  return f.credentials.map((c: unknown, i) => {
    const x = c as Partial<StoredCredential>;
    if (typeof c !== 'object' || c === null) return bad(`credentials[${i}] is not an object`);
    if (typeof x.name !== 'string' || !CREDENTIAL_NAME_RE.test(x.name) || x.name === SHARED_CREDENTIAL) return bad(`credentials[${i}].name is not a valid credential name`);
    if (typeof x.role !== 'string' || !ROLES.includes(x.role)) return bad(`credentials[${i}].role is not one of ${ROLES.join(', ')}`);
    if (typeof x.id !== 'string' || !/^[0-9a-f]{16}$/.test(x.id)) return bad(`credentials[${i}].id is not 16 hex characters`);
    if (typeof x.hash !== 'string' || !HEX32_RE.test(x.hash)) return bad(`credentials[${i}].hash is not a SHA-256 digest`);
    if (typeof x.created !== 'string') return bad(`credentials[${i}].created is not a time`);
    if (names.has(x.name)) return bad(`the name ${x.name} appears twice`);
    if (ids.has(x.id)) return bad(`credentials[${i}].id appears twice`);
    names.add(x.name);
    ids.add(x.id);
    return { id: x.id, name: x.name, role: x.role, hash: x.hash, created: x.created };
  });
}

/** Refuses a credentials file group/other can read or write (like ssh does). */
function checkMode(mode: number, path: string): void {
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new ConfigError('CONFIG_INVALID', `credentials file ${path} has permissions ${(mode & 0o777).toString(8)}, open to other users; run: chmod 600 ${path}`);
  }
}

/** The stored credentials of a data directory (none if the file does not exist). @throws {ConfigError} CONFIG_INVALID. */
export async function listCredentials(dataDir: string): Promise<StoredCredential[]> {
  const { credentials: path } = resolveNodePaths(dataDir);
  const st = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new ConfigError('CONFIG_INVALID', `cannot read credentials file ${path}: ${e.code ?? String(e)}`, { cause: e });
  });
  if (!st) return [];
  checkMode(st.mode, path);
  return parseCredentials(await readFile(path, 'utf8'), path);
}

/**
 * Changes the credentials file under an exclusive lock (`credentials.json.lock`, O_EXCL), and
 * replaces it atomically (a 0600 temp file renamed over it), so a node rereading it never sees half a file.
 * @throws {ConfigError} CONFIG_INVALID if another change holds the lock, or the file is malformed.
 */
async function updateCredentials<T>(dataDir: string, change: (list: StoredCredential[]) => { list: StoredCredential[]; out: T }): Promise<T> {
  const { credentials: path } = await ensureNodeDirs(dataDir);
  const lock = `${path}.lock`;
  const lh = await open(lock, 'wx', 0o600).catch((e: NodeJS.ErrnoException) => {
    throw new ConfigError('CONFIG_INVALID', e.code === 'EEXIST' ? `${lock} exists: another 'mpc-node credential' is changing the file (or one crashed: delete the lock file)` : `cannot lock ${path}: ${e.code ?? String(e)}`, { cause: e });
  });
  try {
    const { list, out } = change(await listCredentials(dataDir));
    const tmp = `${path}.${process.pid}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${JSON.stringify({ version: FILE_VERSION, credentials: list }, null, 2)}\n`, 'utf8');
      await fh.chmod(0o600);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    return out;
  } finally {
    await lh.close();
    await rm(lock, { force: true });
  }
}

/**
 * Adds a credential and returns its token (shown once: only its hash is kept).
 * @throws {ConfigError} CONFIG_INVALID for a bad or taken name, or an unknown role.
 */
export async function addCredential(dataDir: string, name: string, role: string, now = new Date()): Promise<{ token: string; credential: StoredCredential }> {
  if (!CREDENTIAL_NAME_RE.test(name)) throw new ConfigError('CONFIG_INVALID', `${JSON.stringify(name.slice(0, 80))}: ${CREDENTIAL_NAME_RULE}`);
  if (name === SHARED_CREDENTIAL) throw new ConfigError('CONFIG_INVALID', `the name ${SHARED_CREDENTIAL} is the node's api-token file; choose another name`);
  if (!ROLES.includes(role as Role)) throw new ConfigError('CONFIG_INVALID', `role ${JSON.stringify(role.slice(0, 32))} is not one of ${ROLES.join(', ')}`);
  return updateCredentials(dataDir, (list) => {
    if (list.some((c) => c.name === name)) throw new ConfigError('CONFIG_INVALID', `a credential named ${name} exists; revoke it first to replace it`);
    let id: string;
    do id = randomBytes(8).toString('hex');
    while (list.some((c) => c.id === id));
    const token = `mpc_${id}_${randomBytes(32).toString('hex')}`;
    const credential: StoredCredential = { id, name, role: role as Role, hash: sha256(token).toString('hex'), created: now.toISOString() };
    return { list: [...list, credential], out: { token, credential } };
  });
}

/** Removes credential `name`. @returns false if there was none of that name. */
export async function revokeCredential(dataDir: string, name: string): Promise<boolean> {
  return updateCredentials(dataDir, (list) => ({ list: list.filter((c) => c.name !== name), out: list.some((c) => c.name === name) }));
}

export interface CredentialStoreOptions {
  /** `<dataDir>/credentials.json` (it may not exist yet). */
  path: string;
  /** The node's api-token: the operator credential named {@link SHARED_CREDENTIAL}. */
  sharedToken?: string;
  /** The trainer-id key (`<dataDir>/trainer-id-key`, hex). */
  trainerIdKey: string;
  /** Where a credentials file that cannot be used is reported (event `credentials-invalid`). */
  log?: Logger;
}

/**
 * The credentials a running node accepts. Each {@link authenticate} first stats the file and
 * rereads it if it changed (inode, size or mtime), so additions and revocations take effect on
 * the next request. A file that cannot be read or parsed, or is open to other users, fails
 * closed: no named credential is accepted until it is fixed (the api-token still is).
 */
export class CredentialStore {
  private byId = new Map<string, StoredCredential>();
  private seen = '';
  private readonly shared: Buffer | undefined;
  private readonly pseudonyms = new Map<string, string>();

  constructor(private readonly o: CredentialStoreOptions) {
    this.shared = o.sharedToken === undefined ? undefined : sha256(o.sharedToken);
  }

  /** The principal a bearer token stands for, or undefined (unknown, revoked, malformed). */
  authenticate(token: string | undefined): Principal | undefined {
    if (token === undefined) return undefined;
    const got = sha256(token);
    const m = TOKEN_RE.exec(token);
    if (!m) return this.shared && timingSafeEqual(got, this.shared) ? { name: SHARED_CREDENTIAL, role: 'operator' } : undefined;
    this.reload();
    const c = this.byId.get(m[1]!);
    if (!c) return undefined;
    return timingSafeEqual(got, Buffer.from(c.hash, 'hex')) ? { name: c.name, role: c.role } : undefined;
  }

  /** The pseudonymous trainer id of credential `name` (see {@link trainerPseudonym}). */
  pseudonym(name: string): string {
    let p = this.pseudonyms.get(name);
    if (p === undefined) {
      p = trainerPseudonym(this.o.trainerIdKey, name);
      if (this.pseudonyms.size > 10_000) this.pseudonyms.clear();
      this.pseudonyms.set(name, p);
    }
    return p;
  }

  /** Rereads the file if it changed since the last read. */
  private reload(): void {
    const path = this.o.path;
    let sig: string;
    try {
      const st = statSync(path, { throwIfNoEntry: false });
      sig = st ? `${st.ino}:${st.size}:${st.mtimeMs}:${st.mode}` : 'none';
      if (sig === this.seen) return;
      this.seen = sig;
      if (!st) {
        this.byId = new Map();
        return;
      }
      checkMode(st.mode, path);
      this.byId = new Map(parseCredentials(readFileSync(path, 'utf8'), path).map((c) => [c.id, c]));
    } catch (e) {
      this.byId = new Map(); // fail closed
      this.o.log?.({ event: 'credentials-invalid', file: path, reason: (e as Error).message });
    }
  }
}
