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
import { type CommandSpec, UsageError, commandHelp, optionalFlag, parseArgs, requireFlag } from './args.js';
import type { CliIo } from './io.js';

export const KEYGEN: CommandSpec = {
  name: 'keygen',
  summary: "Create this region node's identity key (Ed25519) and print its public key.",
  usage: 'keygen --region ID [--data-dir DIR | --out PATH] [--force] [--endpoint URL] [--jurisdiction LABEL]',
  flags: [
    { name: 'region', kind: 'string', value: 'ID', help: 'region id, as in the federation file (e.g. eu)' },
    { name: 'data-dir', kind: 'string', value: 'DIR', help: "node data directory; the key goes to DIR/identity.json (default ./mpc-data/ID)" },
    { name: 'out', kind: 'string', value: 'PATH', help: 'write the key file to PATH instead' },
    { name: 'force', kind: 'boolean', help: 'replace an existing key file (the old key is lost)' },
    { name: 'endpoint', kind: 'string', value: 'URL', help: "this node's peer address for the printed snippet (wss://host:port)" },
    { name: 'jurisdiction', kind: 'string', value: 'LABEL', help: 'jurisdiction for the printed snippet (default: ID in upper case)' },
  ],
  details:
    'The key file holds the secret key: it is created with mode 0600 and never printed. Keep it on\n' +
    'this node and back it up; other nodes only need the public key, via the federation file.',
};

/**
 * Runs `mpc-node keygen`.
 * @returns exit code.
 * @throws {UsageError} for bad flags; {ConfigError} if the file exists (without --force) or cannot be written.
 */
export async function runKeygen(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, KEYGEN);
  if (args.help) {
    io.stdout(commandHelp(KEYGEN));
    return 0;
  }
  const region = requireFlag(args, KEYGEN, 'region');
  if (!REGION_ID_RE.test(region)) {
    throw new UsageError(`--region ${JSON.stringify(region)} is not a valid region id: 1-32 characters of a-z, 0-9 and "-", starting with a letter (e.g. eu, us-east)`);
  }
  const out = optionalFlag(args, 'out');
  const dataDir = optionalFlag(args, 'data-dir');
  if (out !== undefined && dataDir !== undefined) throw new UsageError('give either --out or --data-dir, not both');
  const path = out !== undefined ? resolve(out) : resolveNodePaths(dataDir ?? defaultDataDir(region)).identity;
  const force = args.flags['force'] === true;

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
    jurisdiction: optionalFlag(args, 'jurisdiction') ?? region.toUpperCase(),
    endpoint: optionalFlag(args, 'endpoint') ?? `${PLACEHOLDER_PREFIX}: wss://<this node's host>:<port>`,
    publicKey: pk,
    api: { host: '127.0.0.1', port: 7201 },
  };
  io.stdout(`${pk}\n`);
  io.stderr(
    `mpc-node: wrote the identity of region '${region}' to ${path} (mode 0600). It holds the secret key: keep it on this node and back it up.\n` +
      `mpc-node: add this entry to "regions" in the federation file on every node` +
      (optionalFlag(args, 'endpoint') === undefined ? ' (fill in "endpoint", check "api")' : '') +
      ':\n',
  );
  io.stdout(`${JSON.stringify(entry, null, 2)}\n`);
  return 0;
}
