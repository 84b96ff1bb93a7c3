/**
 * `mpc-node credential add|list|revoke`: the named credentials of a node's trainer API, kept
 * hashed in `<dataDir>/credentials.json` (src/node/credentials.ts). `add` prints the new token
 * once on stdout (only its hash is stored); a running node picks up every change at its next
 * request, without a restart.
 * @module
 */
import { addCredential, listCredentials, revokeCredential } from '../node/credentials.js';
import { defaultDataDir } from '../config/node-files.js';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

/** The data directory of `--data-dir DIR` or `--region ID`. @throws {UsageError} with neither. */
function dataDirOf(opts: { 'data-dir'?: string | undefined; region?: string | undefined }, cmd: string): string {
  const dir = opts['data-dir'] ?? (opts.region === undefined ? undefined : defaultDataDir(opts.region));
  if (dir === undefined) throw new UsageError(`'credential ${cmd}' needs --data-dir DIR or --region ID; see 'mpc-node credential ${cmd} --help'`);
  return dir;
}

/** `credential add`: prints the token on stdout, what it is on stderr. @returns exit code. */
export async function runCredentialAdd({ opts }: Parsed<SpecOf<'credential add'>>, io: CliIo): Promise<number> {
  const { token, credential } = await addCredential(dataDirOf(opts, 'add'), opts.name, opts.role);
  io.stdout(`${token}\n`);
  io.stderr(`mpc-node: added the ${credential.role} credential '${credential.name}'. The token above is shown only this once: hand it to its holder as "Authorization: Bearer <token>". A running node accepts it from its next request on.\n`);
  return 0;
}

/** `credential list`: names, roles and creation times (never a token or a hash). @returns exit code. */
export async function runCredentialList({ opts }: Parsed<SpecOf<'credential list'>>, io: CliIo): Promise<number> {
  const list = (await listCredentials(dataDirOf(opts, 'list'))).map((c) => ({ name: c.name, role: c.role, created: c.created }));
  if (opts.json) {
    io.stdout(`${JSON.stringify(list)}\n`);
    return 0;
  }
  if (list.length === 0) io.stderr('mpc-node: no named credentials (the api-token file is the operator credential)\n');
  for (const c of list) io.stdout(`${c.name}\t${c.role}\t${c.created}\n`);
  return 0;
}

/** `credential revoke`: a running node refuses the token from its next request on. @returns exit code (1: no such name). */
export async function runCredentialRevoke({ opts }: Parsed<SpecOf<'credential revoke'>>, io: CliIo): Promise<number> {
  if (!(await revokeCredential(dataDirOf(opts, 'revoke'), opts.name))) {
    io.stderr(`mpc-node: no credential named '${opts.name}'; 'mpc-node credential list' shows them\n`);
    return 1;
  }
  io.stderr(`mpc-node: revoked '${opts.name}': its token is refused from the next request on\n`);
  return 0;
}
