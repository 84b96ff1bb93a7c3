/**
 * `mpc-node keygen`: creates a region node's Ed25519 identity file (mode 0600) and prints the
 * public key plus the region entry to paste into the federation file. The secret key is never
 * printed. File format: src/transport/identity.ts.
 * @module
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { PLACEHOLDER_PREFIX } from '../federation/index.js';
import { REGION_ID_RE } from '../core/ids.js';
import { defaultDataDir, resolveNodePaths } from '../config/node-files.js';
import { generateIdentity, publicKeyHex, saveIdentity } from '../transport/identity.js';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

/**
 * Runs `mpc-node keygen`.
 * @returns exit code.
 * @throws {UsageError} for bad options; {ConfigError} if the file exists (without --force) or cannot be written.
 */
export async function runKeygen({ opts }: Parsed<SpecOf<'keygen'>>, io: CliIo): Promise<number> {
  const region = opts.region;
  if (!REGION_ID_RE.test(region)) {
    throw new UsageError(`--region ${JSON.stringify(region)} is not a valid region id: 1-32 characters of a-z, 0-9 and "-", starting with a letter (e.g. eu, us-east)`);
  }
  const out = opts.out;
  const dataDir = opts['data-dir'];
  if (out !== undefined && dataDir !== undefined) throw new UsageError('give either --out or --data-dir, not both');
  const path = out !== undefined ? resolve(out) : resolveNodePaths(dataDir ?? defaultDataDir(region)).identity;
  const force = opts.force;

  // Checked first for a message in CLI terms; saveIdentity re-checks atomically (O_EXCL).
  const existing = await stat(path).catch(() => undefined);
  if (existing !== undefined && !existing.isFile()) throw new ConfigError('CONFIG_INVALID', `${path} exists and is not a file`);
  if (existing !== undefined && !force) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${path} already exists; refusing to overwrite an identity key (peers know this node by it, so replacing it means updating the federation file everywhere). Pass --force to replace it`,
    );
  }
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const id = generateIdentity(region);
  await saveIdentity(path, id, { force });
  id.secretKey.fill(0); // secret: not needed any more (JS cannot wipe every copy; best effort)

  const pk = publicKeyHex(id);
  const entry = {
    id: region,
    jurisdiction: opts.jurisdiction ?? region.toUpperCase(),
    endpoint: opts.endpoint ?? `${PLACEHOLDER_PREFIX}: wss://<this node's host>:<port>`,
    publicKey: pk,
    api: { host: '127.0.0.1', port: 7201 },
  };
  io.stdout(`${pk}\n`);
  io.stderr(
    `mpc-node: wrote the identity of region '${region}' to ${path} (mode 0600). It holds the secret key: keep it on this node and back it up.\n` +
      `mpc-node: add this entry to "regions" in the federation file on every node` +
      (opts.endpoint === undefined ? ' (fill in "endpoint", check "api")' : '') +
      ':\n',
  );
  io.stdout(`${JSON.stringify(entry, null, 2)}\n`);
  return 0;
}
