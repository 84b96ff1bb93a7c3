/**
 * Liveness benchmark: how long a round's trainers wait after a region is killed (kill -9) at the
 * moment it has received and receipted shares but not yet committed (docs/protocol.md,
 * "Dropouts and aborts"), between real node processes on loopback.
 *
 *   npm run bench:liveness                  one JSON line per round, then {"summary":...}
 *   options: --reps N (rounds, default 3), --round-timeout-ms MS (default 20000),
 *            --phase-timeout-ms MS (default 5000)
 *
 * Per round a fresh federation apac, eu, us (t = 2) is started with collectMs 10 s; apac and us
 * each have one trainer (`expect: 1`), eu none, so eu's collection stays open while it takes the
 * others' shares. Once apac's transcript has eu's receipts for both dealers, eu is killed;
 * `ms_after_kill` is the wall time from the kill to the last trainer's answer (a result or an
 * error), `outcome` what the trainers got. A round that waits for eu ends only at a deadline.
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type LocalRegion, type NodeProcess } from '../src/node/local-federation.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
}

const reps = arg('--reps', 3);
const roundTimeoutMs = arg('--round-timeout-ms', 20_000);
const phaseTimeoutMs = arg('--phase-timeout-ms', 5000);

function receiptsOfEu(apac: LocalRegion, round: string): boolean {
  const file = join(apac.dataDir, 'transcripts', `${round}.jsonl`);
  if (!existsSync(file)) return false;
  const es = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as { kind: string; body: { holder?: string; dealer?: string } });
  const got = es.filter((e) => e.kind === 'receipt' && e.body.holder === 'eu').map((e) => e.body.dealer);
  return got.includes('apac') && got.includes('us');
}

async function oneRound(k: number): Promise<{ ms_after_kill: number; outcome: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'mpc-bench-liveness-'));
  const procs: NodeProcess[] = [];
  try {
    const fed = await writeLocalFederation(dir, ['apac', 'eu', 'us'], {
      threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 10_000, phaseTimeoutMs, roundTimeoutMs },
    });
    procs.push(...(await Promise.all(fed.regions.map((r) => startNodeProcess(fed, r.id)))));
    await waitConnected(fed);
    const [apac, , us] = fed.regions as [LocalRegion, LocalRegion, LocalRegion];
    const round = `kill-${k}`;
    const update = Float32Array.from({ length: 2000 }, (_, i) => Math.sin(i));
    const answers = [apac, us].map((r) => aggregateDetailed({ node: r.api, token: r.token, round, update, expect: 1 }).then(
      () => 'done',
      (e: { code?: string }) => `aborted ${e.code ?? '?'}`,
    ));
    for (let i = 0; !receiptsOfEu(apac, round); i++) {
      if (i > 2000) throw new Error('eu never receipted both dealers');
      await new Promise((ok) => setTimeout(ok, 10));
    }
    const killedAt = performance.now();
    process.kill(procs.find((p) => p.region === 'eu')!.child.pid!, 'SIGKILL');
    const outcomes = await Promise.all(answers);
    return { ms_after_kill: Math.round(performance.now() - killedAt), outcome: [...new Set(outcomes)].join(' / ') };
  } finally {
    await Promise.all(procs.map((p) => stopNode(p)));
    await rm(dir, { recursive: true, force: true });
  }
}

const rows: { ms_after_kill: number; outcome: string }[] = [];
for (let k = 0; k < reps; k++) {
  const row = await oneRound(k);
  rows.push(row);
  console.log(JSON.stringify({ round: k, ...row }));
}
const sorted = rows.map((r) => r.ms_after_kill).sort((a, b) => a - b);
console.log(JSON.stringify({ summary: { reps, roundTimeoutMs, phaseTimeoutMs, median_ms_after_kill: sorted[Math.floor(sorted.length / 2)], outcomes: [...new Set(rows.map((r) => r.outcome))] } }));
