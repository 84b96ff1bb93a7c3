/**
 * `mpc-node init`: writes a federation file template. It is valid JSON whose guidance lives in
 * `"//"` comment keys (which the parser ignores), with every round default spelled out and a
 * placeholder public key per region, so it fails `config check` until every region has run
 * `mpc-node keygen` and its key is pasted in.
 * @module
 */
import { open } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { FEDERATION_FILE_VERSION, PLACEHOLDER_PREFIX, ROUND_DEFAULTS } from '../federation/index.js';
import { FEDERATION_NAME_RE, REGION_ID_RE } from '../core/ids.js';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

/** Most regions a template is made for (keeps peer ports 71xx and API ports 72xx apart). */
const MAX_TEMPLATE_REGIONS = 99;

/**
 * Builds the template object (pure).
 * @example
 * federationTemplate('acme-fl', ['eu', 'us', 'apac']).threshold; // 2
 */
export function federationTemplate(name: string, regions: readonly string[]): Record<string, unknown> {
  const n = regions.length;
  return {
    '//': 'mpc-node federation file: identical on every node. Keys starting with "//" are comments. Reference: docs/configuration.md',
    federation: name,
    version: FEDERATION_FILE_VERSION,
    '// threshold': `any ${Math.floor(n / 2) + 1} nodes reconstruct the aggregate; fewer learn nothing. Must be 2..${n}.`,
    threshold: Math.floor(n / 2) + 1,
    regions: regions.map((id, i) => ({
      '//': `on the ${id} node run: mpc-node keygen --region ${id}   then paste the printed publicKey below`,
      id,
      jurisdiction: id.toUpperCase(),
      endpoint: `ws://127.0.0.1:${7101 + i}`,
      publicKey: `${PLACEHOLDER_PREFIX}: run 'mpc-node keygen --region ${id}'`,
      api: { host: '127.0.0.1', port: 7201 + i },
    })),
    '// round': 'all round fields are optional; these are the defaults, but for protocol (default 1)',
    round: {
      scaleBits: ROUND_DEFAULTS.scaleBits,
      clipL2: ROUND_DEFAULTS.clipL2,
      clipMode: ROUND_DEFAULTS.clipMode,
      minContributors: Math.min(2, n),
      maxParams: ROUND_DEFAULTS.maxParams,
      maxTrainersPerRound: ROUND_DEFAULTS.maxTrainersPerRound,
      maxWeight: ROUND_DEFAULTS.maxWeight,
      collectMs: ROUND_DEFAULTS.collectMs,
      phaseTimeoutMs: ROUND_DEFAULTS.phaseTimeoutMs,
      roundTimeoutMs: ROUND_DEFAULTS.roundTimeoutMs,
      '// protocol': 'version 2: seeded shares and fan-in, half the bytes of version 1 (docs/protocol.md); every region must run the same',
      protocol: 2,
    },
  };
}

/** Runs `mpc-node init`. @returns exit code. */
export async function runInit({ opts }: Parsed<SpecOf<'init'>>, io: CliIo): Promise<number> {
  const name = opts.name;
  if (!FEDERATION_NAME_RE.test(name)) throw new UsageError(`--name ${JSON.stringify(name)}: use 1-64 letters, digits, ".", "_" or "-"`);
  const regions = opts.regions.split(',').map((s) => s.trim());
  for (const id of regions) {
    if (!REGION_ID_RE.test(id)) {
      throw new UsageError(`--regions: ${JSON.stringify(id)} is not a valid region id (1-32 characters of a-z, 0-9 and "-", starting with a letter)`);
    }
  }
  const dup = regions.find((id, i) => regions.indexOf(id) !== i);
  if (dup !== undefined) throw new UsageError(`--regions lists ${JSON.stringify(dup)} twice`);
  if (regions.length < 2) throw new UsageError('--regions needs at least 2 regions: with one, a threshold >= 2 is impossible and there is nothing to hide the data from');
  if (regions.length > MAX_TEMPLATE_REGIONS) throw new UsageError(`--regions: at most ${MAX_TEMPLATE_REGIONS} regions in a template`);

  const path = resolve(opts.out);
  const text = JSON.stringify(federationTemplate(name, regions), null, 2) + '\n';
  try {
    const fh = await open(path, opts.force ? 'w' : 'wx', 0o644);
    try {
      await fh.writeFile(text, 'utf8');
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConfigError('CONFIG_INVALID', `${path} already exists; pass --force to overwrite it, or --out another path`);
    throw new ConfigError('CONFIG_INVALID', `cannot write ${path}: ${code ?? String(err)}`, { cause: err });
  }
  io.stderr(
    `mpc-node: wrote ${path}: federation '${name}', ${regions.length} regions, threshold ${Math.floor(regions.length / 2) + 1}.\n` +
      'Next steps:\n' +
      regions.map((id) => `  - on the ${id} node: mpc-node keygen --region ${id}   and paste its publicKey into the "${id}" entry\n`).join('') +
      '  - for a real deployment, set each "endpoint" to wss://<host>:<port> and "jurisdiction" to the legal label\n' +
      `  - copy the same file to every node and run: mpc-node config check --config ${path}\n`,
  );
  return 0;
}
