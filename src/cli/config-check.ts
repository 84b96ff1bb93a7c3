/**
 * `mpc-node config check`: validates a federation file, prints a summary and its digest, and
 * (with --region) checks that this node's identity file matches its entry.
 * @module
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';
import { loadFederation } from '../config/federation.js';
import { type Federation, federationDigestHex, federationWarnings, overflowBudget, regionById, OVERFLOW_BUDGET_LOG2 } from '../federation/index.js';
import { defaultDataDir, resolveNodePaths } from '../config/node-files.js';
import { loadIdentity } from '../transport/identity.js';
import { policyDigest, policyFeasibility } from '../policy/index.js';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

/** Human summary of a federation (public data only). */
export function summarizeFederation(f: Federation, digestHex: string): string {
  const n = f.regions.length;
  const r = f.round;
  const { worstCaseLog2, headroomBits } = overflowBudget(r, n);
  const w = (s: string, width: number): string => s.padEnd(width);
  const idW = Math.max(...f.regions.map((x) => x.id.length));
  const jW = Math.max(...f.regions.map((x) => x.jurisdiction.length));
  const eW = Math.max(...f.regions.map((x) => x.endpoint.length));
  const lines = [
    `federation  ${f.federation} (file version ${f.version})`,
    `digest      ${digestHex}`,
    `threshold   ${f.threshold} of ${n} regions: any ${f.threshold} nodes reconstruct, any ${f.threshold - 1} learn nothing`,
    'regions',
    ...f.regions.map((x) => `  ${w(x.id, idW)}  ${w(x.jurisdiction, jW)}  ${w(x.endpoint, eW)}  api ${x.api.host}:${x.api.port}  key ${x.publicKey}`),
    `round       scaleBits ${r.scaleBits}, clipL2 ${r.clipL2} (${r.clipMode}), minContributors ${r.minContributors}, maxParams ${r.maxParams}, maxTrainersPerRound ${r.maxTrainersPerRound}, maxWeight ${r.maxWeight}`,
    `timeouts    collect ${r.collectMs} ms, phase ${r.phaseTimeoutMs} ms, round ${r.roundTimeoutMs} ms`,
    `overflow    worst-case |sum| 2^${worstCaseLog2.toFixed(2)} < 2^${OVERFLOW_BUDGET_LOG2}: ${headroomBits.toFixed(2)} bits of headroom`,
    ...policySummary(f),
  ];
  return lines.join('\n') + '\n';
}

/** The policy section in a few lines: digest, per-region flows, limits, retention, grants. */
export function policySummary(f: Federation): string[] {
  const p = f.policy;
  const feas = policyFeasibility(f);
  const idW = Math.max(...f.regions.map((x) => x.id.length));
  return [
    `policy      digest ${policyDigest(f)} (in every round's parameters)`,
    ...f.regions.map((x) => {
      const rp = p.regions[x.id];
      const to = rp?.shareTo == null ? 'any member' : `own jurisdiction${rp.shareTo.length ? ` + ${rp.shareTo.join(', ')}` : ''}`;
      return `  ${x.id.padEnd(idW)}  ${rp?.classification ?? 'unclassified'}, shares to ${to}: may deal to ${(feas.dealTo[x.id] ?? []).join(', ')}`;
    }),
    `  minTrainers ${p.minTrainers}, maxRoundsInFlight ${p.maxRoundsInFlight}, transcripts kept ${p.retention.transcriptDays === null ? 'forever' : `${p.retention.transcriptDays} days`}, share material ${p.retention.shareMaterial}`,
    `  authority ${p.authority ?? 'none'}, ${p.grants.length} grant(s)${p.grants.length ? `: ${p.grants.map((g) => `${g.id} (${g.flow.from} -> ${'toRegion' in g.flow ? g.flow.toRegion : g.flow.toJurisdiction}, ${g.notBefore} .. ${g.notAfter})`).join('; ')}` : ''}`,
  ];
}

/** Runs `mpc-node config check`. @returns exit code. */
export async function runConfigCheck({ opts }: Parsed<SpecOf<'config check'>>, io: CliIo): Promise<number> {
  const path = opts.config;
  const fed = await loadFederation(path);
  const regionId = opts.region;
  const identityFlag = opts.identity;
  const dataDir = opts['data-dir'];
  if (regionId === undefined && (identityFlag !== undefined || dataDir !== undefined)) {
    throw new UsageError("--identity and --data-dir need --region ID (the region whose identity to check)");
  }
  if (identityFlag !== undefined && dataDir !== undefined) throw new UsageError('give either --identity or --data-dir, not both');
  const identityLine = regionId === undefined ? '' : await checkIdentity(fed, path, regionId, identityFlag ?? resolveNodePaths(dataDir ?? defaultDataDir(regionId)).identity);
  io.stdout(`${path}: OK\n${summarizeFederation(fed, federationDigestHex(fed))}${identityLine}`);
  for (const warning of federationWarnings(fed, Date.now())) io.stderr(`mpc-node: warning: ${warning}\n`);
  return 0;
}

/** Checks the identity file at `idPath` belongs to `regionId` of `fed`; returns a summary line. */
async function checkIdentity(fed: Federation, path: string, regionId: string, idPath: string): Promise<string> {
  const region = regionById(fed, regionId);
  const id = await loadIdentity(idPath).catch((err: unknown) => {
    const hint = err instanceof ConfigError && /ENOENT/.test(err.message) ? `; create it with 'mpc-node keygen --region ${regionId}'` : '';
    throw err instanceof ConfigError ? new ConfigError('CONFIG_INVALID', `${err.message}${hint}`, { cause: err }) : err;
  });
  id.secretKey.fill(0); // secret: only the public half is compared
  if (id.region !== regionId) {
    throw new ConfigError('CONFIG_INVALID', `${idPath} is the identity of region '${id.region}', not '${regionId}'; pass the right --identity or --data-dir`);
  }
  const pk = bytesToHex(id.publicKey);
  if (pk !== region.publicKey) {
    throw new ConfigError(
      'CONFIG_INVALID',
      `${idPath} has public key ${pk}, but ${path} lists ${region.publicKey} for region '${regionId}': ` +
        'paste this key into the federation file (on every node), or use the identity file that belongs to it',
    );
  }
  return `identity    ${idPath} matches region '${regionId}'\n`;
}
