/**
 * `mpc-node demo [--params N] [--json] [--keep]`: three regions (eu, us, apac) on this machine.
 * Generates keys and a federation in a temporary folder, starts three real node processes on
 * loopback, runs one trainer per region with synthetic updates, and checks the aggregate against
 * the plaintext weighted mean. Exit 0 only if it matched.
 * @module
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { aggregateDetailed } from '../client/index.js';
import { auditDir } from '../node/audit-assets.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type NodeProcess } from '../node/local-federation.js';
import { f32Bytes } from '../protocol/commitments.js';
import { verifyRound } from '../verifier/index.js';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

const REGIONS = ['eu', 'us', 'apac'];

/** Runs `mpc-node demo` (a hook, see ./main.ts). @returns exit code. */
export async function run({ opts }: Parsed<SpecOf<'demo'>>, _io: CliIo): Promise<number> {
  const params = Number(opts.params);
  if (!Number.isInteger(params) || params < 1 || params > 50_000_000) throw new UsageError('--params must be an integer in [1, 50000000]');
  const asJson = opts.json;
  const say = (s: string) => !asJson && process.stdout.write(s + '\n');

  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'mpc-node-demo-'));
  const fed = await writeLocalFederation(dir, REGIONS, { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 2000, protocol: 2 } });
  say(`mpc-node demo: federation of ${REGIONS.join(', ')} (threshold 2) in ${dir}`);
  const nodes: NodeProcess[] = [];
  let ok = false;
  let maxErr = NaN;
  try {
    for (const r of REGIONS) nodes.push(await startNodeProcess(fed, r));
    await waitConnected(fed);
    say(`  3 node processes up on 127.0.0.1, peer links authenticated and encrypted`);

    // synthetic updates: different per region, weights 1000 / 2000 / 3000
    const updates = REGIONS.map((_, r) => Float32Array.from({ length: params }, (_, i) => Math.sin(0.001 * i * (r + 1)) + r * 0.25));
    const weights = [1000, 2000, 3000];
    const round = `demo-${Date.now()}`;
    say(`  3 trainers submit ${params} parameters each to their own region's node (round ${round})`);
    const results = await Promise.all(
      fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round, update: updates[i]!, weight: weights[i]!, reduce: 'mean', expect: 1 })),
    );
    const W = weights.reduce((a, b) => a + b, 0);
    maxErr = 0;
    for (const res of results) {
      for (let i = 0; i < params; i++) {
        const want = (updates[0]![i]! * weights[0]! + updates[1]![i]! * weights[1]! + updates[2]![i]! * weights[2]!) / W;
        maxErr = Math.max(maxErr, Math.abs(res.vector[i]! - want));
      }
    }
    // fixed point 2^-16 per value, float32 output rounding
    ok = maxErr < 1e-3 && results.every((r) => r.contributors.length === 3 && r.totalWeight === W);
    // audit: every region's sealed transcript of the round, and the result eu's trainer received
    const resultPath = join(dir, 'result.bin');
    const result = f32Bytes(results[0]!.vector);
    await writeFile(resultPath, result);
    const files = fed.regions.map((r) => join(r.dataDir, 'transcripts', `${round}.jsonl`));
    const transcripts = await Promise.all(files.map((f) => waitSealed(f)));
    const report = await verifyRound({ transcripts, federation: JSON.parse(await readFile(fed.config, 'utf8')), result, names: files });
    ok &&= report.ok;
    const seconds = (performance.now() - t0) / 1000;
    if (asJson) {
      process.stdout.write(JSON.stringify({ ok, regions: 3, params, max_abs_error: maxErr, seconds, transcripts_verified: report.ok, kept: opts.keep, ...(opts.keep ? { dir, data_dirs: fed.regions.map((r) => r.dataDir), transcripts: files, result: resultPath } : {}) }) + '\n');
    } else {
      say(`  every trainer received the weighted mean of all ${3} regions (total weight ${results[0]!.totalWeight})`);
      say(`  max |aggregate - plaintext weighted mean| = ${maxErr.toExponential(2)} (fixed point 2^-16)`);
      say(`  no node ever saw another region's update: only Shamir shares (t = 2 of 3) crossed the links`);
      say(ok ? `OK: private aggregation matched in ${seconds.toFixed(2)} s` : `FAILED: the aggregate did not match`);
      const failed = report.checks.filter((c) => !c.ok);
      say(report.ok ? `  transcripts verified: ${report.checks.length} checks passed over the 3 regions' signed transcripts and the result` : `  transcripts FAILED verification: ${failed.map((c) => `${c.name} (${c.detail})`).join('; ')}`);
    }
    if (!asJson && opts.keep) {
      say(`  data dirs (secret keys and API tokens inside: delete the folder when done): ${fed.regions.map((r) => r.dataDir).join(', ')}`);
      say(`  re-run the audit: mpc-node verify ${files.join(' ')} --federation ${fed.config} --result ${resultPath}`);
      // the auditor page (docs/audit.md): offline from the built file, or served by a node
      const page = auditDir();
      const eu = fed.regions[0]!;
      say(`  open the auditor: ${page ? pathToFileURL(join(page, 'index.html')).href : 'dist/web/index.html (npm run build:web)'} and pick ${fed.config}, ${resultPath} and ${files.join(', ')}`);
      say(`    or serve it: mpc-node --region ${eu.id} --config ${fed.config} --data-dir ${eu.dataDir}, then open ${eu.api}/audit/?round=${round}`);
    } else {
      say(`  removed ${dir} (its keys and tokens); run 'mpc-node demo --keep' to keep it and re-run the audit yourself`);
    }
  } finally {
    await Promise.all(nodes.map((n) => stopNode(n)));
    // it holds secret keys and API tokens: kept only when asked for (--keep)
    if (!opts.keep) await rm(dir, { recursive: true, force: true });
  }
  return ok ? 0 : 1;
}

/** Reads a transcript once its final entry is written (seals follow the result by a few ms). */
async function waitSealed(path: string, timeoutMs = 10_000): Promise<Uint8Array> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch {
      /* not yet */
    }
    const last = text.trimEnd().split('\n').pop() ?? '';
    if (/"kind":"(sealed|unsealed|abort)"/.test(last) || Date.now() > deadline) return new TextEncoder().encode(text);
    await new Promise((r) => setTimeout(r, 50));
  }
}
