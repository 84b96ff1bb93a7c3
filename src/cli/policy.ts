/**
 * `mpc-node policy authority-keygen` and `mpc-node policy grant`: the policy authority's key and
 * signed exceptions to a region's `shareTo` list (docs/policy.md "Grants").
 *
 * The authority key file is JSON `{ "kind", "publicKey", "secretKey" }` (hex), mode 0600, never
 * printed. It belongs with whoever approves data transfers (a DPO, a legal team), not on a node.
 * @module
 */
import { open, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';
import { loadFederation } from '../config/federation.js';
import { JURISDICTION_RE, REGION_ID_RE } from '../core/ids.js';
import { formatGrantTime, GRANT_ID_RE, parseGrantTime, signGrant, verifyGrantSignature, type GrantFlow } from '../policy/index.js';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';
import { HEX32_RE } from '../core/hex.js';

/** `kind` of an authority key file. */
export const AUTHORITY_KEY_KIND = 'mpc-node policy authority';

/** Runs `mpc-node policy authority-keygen`. @returns exit code. */
export async function runAuthorityKeygen({ opts }: Parsed<SpecOf<'policy authority-keygen'>>, io: CliIo): Promise<number> {
  const path = resolve(opts.out);
  const force = opts.force;
  const sk = ed25519.utils.randomSecretKey();
  const pk = bytesToHex(ed25519.getPublicKey(sk));
  const text = JSON.stringify({ kind: AUTHORITY_KEY_KIND, publicKey: pk, secretKey: bytesToHex(sk) }, null, 2) + '\n';
  sk.fill(0); // secret: best effort (the hex string above cannot be wiped in JS)
  let fh;
  try {
    fh = await open(path, force ? 'w' : 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConfigError('CONFIG_INVALID', `${path} already exists; refusing to overwrite the authority key (grants signed by it would stop verifying). Pass --force to replace it`);
    throw new ConfigError('CONFIG_INVALID', `cannot write ${path}: ${code ?? String(err)}`, { cause: err });
  }
  try {
    await fh.chmod(0o600);
    await fh.writeFile(text);
  } finally {
    await fh.close();
  }
  io.stdout(`${pk}\n`);
  io.stderr(`mpc-node: wrote the policy authority key to ${path} (mode 0600). Keep it off the region nodes.\nmpc-node: add to the federation file: "policy": { "authority": "${pk}" }\n`);
  return 0;
}

/** Reads an authority key file; refuses one that group/other can read. The secret is returned, never printed. */
export async function loadAuthorityKey(path: string): Promise<{ publicKey: string; secretKey: Uint8Array }> {
  const bad = (why: string): ConfigError => new ConfigError('CONFIG_INVALID', `${path}: ${why}`);
  let st;
  try {
    st = await stat(path);
  } catch (err) {
    throw bad(`cannot read the authority key: ${(err as NodeJS.ErrnoException).code ?? String(err)} (create one with 'mpc-node policy authority-keygen --out ${path}')`);
  }
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) throw bad(`permissions ${(st.mode & 0o777).toString(8)} allow group/other access; run: chmod 600 ${path}`);
  if (st.size > 4096) throw bad('too large to be an authority key file');
  let j: { kind?: unknown; publicKey?: unknown; secretKey?: unknown };
  try {
    j = JSON.parse(await readFile(path, 'utf8')) as typeof j;
  } catch {
    throw bad('not valid JSON (contents not shown: it holds a secret key)');
  }
  if (j.kind !== AUTHORITY_KEY_KIND || typeof j.secretKey !== 'string' || !HEX32_RE.test(j.secretKey) || typeof j.publicKey !== 'string') {
    throw bad(`not an authority key file (expected "kind": "${AUTHORITY_KEY_KIND}" and a 64-hex secretKey; a region identity file is not an authority key)`);
  }
  const secretKey = hexToBytes(j.secretKey);
  const publicKey = bytesToHex(ed25519.getPublicKey(secretKey));
  if (publicKey !== j.publicKey.toLowerCase()) throw bad('publicKey does not match secretKey: the file is damaged');
  return { publicKey, secretKey };
}

/** `2026-12-31` -> start or end of that UTC day; a full grant time is kept as is. */
function grantTime(flag: string, v: string, end: boolean): string {
  if (/^\d{4}-\d{2}-\d{2}$/.test(v)) {
    const t = `${v}T${end ? '23:59:59' : '00:00:00'}Z`;
    if (parseGrantTime(t) !== undefined) return t;
  } else if (parseGrantTime(v) !== undefined) return v;
  throw new UsageError(`--${flag} ${JSON.stringify(v)} is not a date: write YYYY-MM-DD (UTC) or YYYY-MM-DDTHH:MM:SSZ`);
}

/** Runs `mpc-node policy grant`. @returns exit code. */
export async function runGrant({ opts }: Parsed<SpecOf<'policy grant'>>, io: CliIo): Promise<number> {
  const from = opts.from;
  if (!REGION_ID_RE.test(from)) throw new UsageError(`--from ${JSON.stringify(from)} is not a region id`);
  const toJ = opts.to;
  const toR = opts['to-region'];
  if ((toJ === undefined) === (toR === undefined)) throw new UsageError('give exactly one of --to JURISDICTION and --to-region ID');
  if (toJ !== undefined && !JURISDICTION_RE.test(toJ)) throw new UsageError(`--to ${JSON.stringify(toJ)} is not a jurisdiction label (e.g. US, EU, US-CA)`);
  if (toR !== undefined && !REGION_ID_RE.test(toR)) throw new UsageError(`--to-region ${JSON.stringify(toR)} is not a region id`);
  const notAfter = grantTime('not-after', opts['not-after'], true);
  const nb = opts['not-before'];
  const notBefore = nb === undefined ? formatGrantTime(Date.now()) : grantTime('not-before', nb, false);
  if (parseGrantTime(notBefore)! > parseGrantTime(notAfter)!) throw new UsageError(`--not-after ${notAfter} is before the start of validity ${notBefore}`);
  const id = opts.id ?? `${from}-to-${toJ ?? toR}-until-${notAfter.slice(0, 10)}`;
  if (!GRANT_ID_RE.test(id)) throw new UsageError(`--id ${JSON.stringify(id)}: 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit`);

  const fedName = opts.federation;
  const configPath = opts.config;
  if (fedName !== undefined && configPath !== undefined) throw new UsageError('give either --config or --federation, not both');
  const fed = fedName === undefined ? await loadFederation(configPath ?? 'federation.json') : undefined;
  const federation = fed?.federation ?? fedName!;

  const key = await loadAuthorityKey(opts['authority-key']);
  const flow: GrantFlow = toR !== undefined ? { from, toRegion: toR } : { from, toJurisdiction: toJ! };
  let grant;
  try {
    grant = signGrant(key.secretKey, { federation, id, flow, notBefore, notAfter });
  } finally {
    key.secretKey.fill(0);
  }
  if (fed !== undefined) {
    // Check it the way every node will, so a grant that would be refused is never printed.
    if (fed.policy.authority !== key.publicKey) {
      throw new ConfigError(
        'CONFIG_INVALID',
        fed.policy.authority === null
          ? `the federation file has no policy.authority: add "authority": "${key.publicKey}" to "policy" first`
          : `this key (${key.publicKey}) is not the federation's policy.authority (${fed.policy.authority}); nodes would refuse the grant`,
      );
    }
    const check = verifyGrantSignature(fed, fed.policy.authority, grant);
    if (!check.ok) throw new ConfigError('CONFIG_INVALID', check.reason);
  }
  io.stdout(`${JSON.stringify(grant, null, 2)}\n`);
  io.stderr(`mpc-node: add this grant to "policy": { "grants": [ ... ] } in the federation file on every node; it allows ${from} -> ${toJ ?? toR} from ${notBefore} through ${notAfter}\n`);
  return 0;
}
