/**
 * Round benchmark: whole aggregation rounds between real node processes on loopback.
 *
 *   npm run bench:round                 readable table, ratios and targets
 *   npm run bench:round -- --json       one JSON object per case, then {"summary":...}
 *   options: --quick (params 1e5 and 1e6 only), --reps N (timed rounds per case after one
 *            warm-up round, default 5), --reps-large N (timed rounds for 1e7 params, default 2),
 *            --n 3,5 (federation sizes), --params 1e5,1e6,1e7 (model sizes),
 *            --no-expect (trainers send no `expect`: each region's collection closes when
 *            collectMs is up; `--collect-ms MS`, default 200 in this mode and 5000 otherwise),
 *            --protocol 1,2 (round.protocol versions, each case once per version, default 1,2;
 *            the summary gives v2 / v1 per case)
 *
 * Per case (n, params) a fresh federation of n node processes is started (so the peak RSS of a
 * case is its own), t = 2 for n = 3 and t = 3 for n = 5. Every round, n trainers (one per
 * region, `expect: 1`) submit concurrently through the HTTP API (`aggregateDetailed`);
 * `seconds` is the wall time from the submissions to the last result (median over the timed
 * rounds). The result is checked against the plaintext weighted mean. With --no-expect a round
 * cannot end before collectMs: `seconds_beyond_collect` = seconds - collectMs is the part to
 * compare with a round that has `expect`.
 *
 * - bytes_sent_per_node: the delta of /v1/status `bytes.bytesSent` (every frame on every peer
 *   link: ciphertext + tags + envelopes + framing), summed over peers, *max over nodes*, median
 *   over the timed rounds. `bytes_min` = the protocol minimum 2 (n-1) (params+1) 8 (shares out
 *   plus aggregate shares out, docs/protocol.md "Bytes on the wire") in version 1, 8 (n-1) (params+2)
 *   in version 2 ((n-t) computed share vectors and t-1 aggregate shares, the vectors one element
 *   longer: the blind), `bytes_ratio` their ratio.
 * - node_cpu_seconds: CPU seconds (user + system) of all n node processes together per round,
 *   from /proc/<pid>/stat read before the submissions and after the round's status calls,
 *   median over the timed rounds (`node_cpu_all`: each round's). It varies far less with the
 *   machine's load than `seconds`: compare builds by it (bench/round-pair.ts pairs them).
 * - peak_rss_mb_per_node: max over nodes of VmHWM (/proc/<pid>/status) at the end of the case
 *   (warm-up and timed rounds included), in MiB (2^20 bytes). The target is
 *   4 x params x 4 bytes + 100 MB (`rss_target_mb`, same unit).
 * @module
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { argValue, bytesSentByPeer, checkMean, cpuSeconds, live, machineInfo, median, runBench, syntheticUpdates } from './support.js';

const REGION_IDS = ['eu', 'us', 'apac', 'sa', 'af'];
const MiB = 1024 * 1024;

interface Row {
  protocol: 1 | 2;
  n: number;
  t: number;
  params: number;
  seconds: number;
  node_cpu_seconds: number;
  expect: boolean;
  collect_ms: number;
  /** With --no-expect: seconds - collectMs (the round after its collection closed). */
  seconds_beyond_collect: number | null;
  bytes_sent_per_node: number;
  peak_rss_mb_per_node: number;
  seconds_all: number[];
  node_cpu_all: number[];
  bytes_min: number;
  bytes_ratio: number;
  bytes_sent_mean_per_node: number;
  model_f32_mb: number;
  rss_target_mb: number;
  reps: number;
  max_abs_error: number;
}


async function vmHwmMiB(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(s);
  if (!m) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(m[1]) / 1024;
}


async function runCase(n: number, params: number, reps: number, mode: { expect: boolean; collectMs: number; protocol: 1 | 2 }, log: (s: string) => void): Promise<Row> {
  const t = n === 3 ? 2 : n === 5 ? 3 : Math.floor(n / 2) + 1;
  const ids = REGION_IDS.slice(0, n);
  const dir = await mkdtemp(join(tmpdir(), 'mpc-node-bench-'));
  const fed = await writeLocalFederation(dir, ids, {
    threshold: t,
    round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: mode.collectMs, maxParams: Math.max(params, 10_000_000), protocol: mode.protocol },
  });
  const nodes: NodeProcess[] = [];
  try {
    for (const id of ids) {
      const p = await startNodeProcess(fed, id);
      nodes.push(p);
      live.add(p);
    }
    await waitConnected(fed, 30_000);
    const { updates, weights } = syntheticUpdates(n, params);
    const secs: number[] = [];
    const cpu: number[] = [];
    const bytesMax: number[] = [];
    const bytesMean: number[] = [];
    let maxErr = 0;
    for (let rep = 0; rep <= reps; rep++) {
      const round = `bench-${n}-${params}-${rep}-${Date.now()}`;
      const before = await Promise.all(fed.regions.map(bytesSentByPeer));
      const cpu0 = await Promise.all(nodes.map((p) => cpuSeconds(p.child.pid!)));
      const t0 = performance.now();
      const results = await Promise.all(
        fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round, update: updates[i]!, weight: weights[i]!, reduce: 'mean', ...(mode.expect ? { expect: 1 } : {}) })),
      );
      const sec = (performance.now() - t0) / 1000;
      const after = await Promise.all(fed.regions.map(bytesSentByPeer));
      const cpu1 = await Promise.all(nodes.map((p) => cpuSeconds(p.child.pid!)));
      const roundCpu = cpu1.reduce((a, c, i) => a + c - cpu0[i]!, 0);
      const sent = after.map((a, i) => Object.entries(a).reduce((s, [peer, b]) => s + b - (before[i]![peer] ?? 0), 0));
      maxErr = Math.max(maxErr, checkMean(round, results, updates, weights));
      log(`  v${mode.protocol} n=${n} params=${params} ${rep === 0 ? 'warm-up' : `rep ${rep}`}: ${sec.toFixed(3)} s, node CPU ${roundCpu.toFixed(2)} s, sent per node ${sent.map((b) => (b / MiB).toFixed(1)).join(' / ')} MiB`);
      if (rep === 0) continue;
      secs.push(sec);
      cpu.push(roundCpu);
      bytesMax.push(Math.max(...sent));
      bytesMean.push(sent.reduce((a, b) => a + b, 0) / n);
    }
    const rss = Math.max(...(await Promise.all(nodes.map((p) => vmHwmMiB(p.child.pid!)))));
    const bytesMin = mode.protocol === 2 ? 8 * (n - 1) * (params + 2) : 2 * (n - 1) * (params + 1) * 8;
    const bytes = median(bytesMax);
    const f32 = (params * 4) / MiB;
    return {
      protocol: mode.protocol, n, t, params,
      seconds: round4(median(secs)),
      node_cpu_seconds: round4(median(cpu)),
      expect: mode.expect,
      collect_ms: mode.collectMs,
      seconds_beyond_collect: mode.expect ? null : round4(median(secs) - mode.collectMs / 1000),
      bytes_sent_per_node: Math.round(bytes),
      peak_rss_mb_per_node: round1(rss),
      seconds_all: secs.map(round4),
      node_cpu_all: cpu.map(round4),
      bytes_min: bytesMin,
      bytes_ratio: round4(bytes / bytesMin),
      bytes_sent_mean_per_node: Math.round(median(bytesMean)),
      model_f32_mb: round1(f32),
      rss_target_mb: round1(4 * f32 + 100),
      reps,
      max_abs_error: maxErr,
    };
  } finally {
    await Promise.all(nodes.map(async (p) => {
      await stopNode(p);
      live.delete(p);
    }));
    await rm(dir, { recursive: true, force: true });
  }
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const round1 = (x: number): number => Math.round(x * 10) / 10;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const reps = Number(argValue(argv, 'reps') ?? 5);
  const repsLarge = Number(argValue(argv, 'reps-large') ?? 2);
  const ns = (argValue(argv, 'n') ?? '3,5').split(',').map(Number);
  const paramList = (argValue(argv, 'params') ?? (quick ? '1e5,1e6' : '1e5,1e6,1e7')).split(',').map(Number);
  const expect = !argv.includes('--no-expect');
  const collectMs = Number(argValue(argv, 'collect-ms') ?? (expect ? 5000 : 200));
  const protocols = (argValue(argv, 'protocol') ?? '1,2').split(',').map(Number);
  if (!protocols.every((v) => v === 1 || v === 2)) throw new Error('--protocol takes 1, 2 or 1,2');
  if (![reps, repsLarge, ...ns, ...paramList, collectMs].every((x) => Number.isInteger(x) && x >= 1)) throw new Error('--reps, --reps-large, --n, --params and --collect-ms take positive integers');
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const rows: Row[] = [];
  for (const n of ns) {
    for (const params of paramList) {
      for (const protocol of protocols as (1 | 2)[]) {
        const row = await runCase(n, params, params >= 5_000_000 ? repsLarge : reps, { expect, collectMs, protocol }, log);
        rows.push(row);
        if (json) process.stdout.write(JSON.stringify(row) + '\n');
      }
    }
  }
  const t1e6 = rows.find((r) => r.n === 3 && r.params === 1_000_000 && r.protocol === 1);
  // version 2 against version 1, per case of the same run
  const v2OverV1 = rows.filter((r) => r.protocol === 2).flatMap((r) => {
    const v1 = rows.find((x) => x.protocol === 1 && x.n === r.n && x.params === r.params);
    return v1 ? [{ n: r.n, params: r.params, seconds: round4(r.seconds / v1.seconds), bytes: round4(r.bytes_sent_per_node / v1.bytes_sent_per_node) }] : [];
  });
  const big = rows.filter((r) => r.params >= 10_000_000);
  const targets = {
    n3_1e6_seconds_le_0_5: t1e6 ? t1e6.seconds <= 0.5 : null,
    p1e7_rss_le_4x_f32_plus_100mb: big.length ? big.every((r) => r.peak_rss_mb_per_node <= r.rss_target_mb) : null,
    bytes_within_1_2x_min: rows.every((r) => r.bytes_ratio <= 1.2),
    v2_bytes_within_1_01x_formula: rows.some((r) => r.protocol === 2) ? rows.filter((r) => r.protocol === 2).every((r) => r.bytes_sent_per_node <= 1.01 * r.bytes_min + 64 * 1024) : null,
    v2_n3_1e6_le_0_6x_v1: v2OverV1.find((r) => r.n === 3 && r.params === 1_000_000)?.seconds !== undefined ? v2OverV1.find((r) => r.n === 3 && r.params === 1_000_000)!.seconds <= 0.6 : null,
  };
  const machine = machineInfo();
  if (json) {
    process.stdout.write(JSON.stringify({ summary: { targets, v2OverV1, machine } }) + '\n');
  } else {
    process.stdout.write('| protocol | n | t | params | seconds (median) | node CPU s (median) | bytes sent/node (max) | min | ratio | peak RSS/node MiB | model f32 MiB | RSS target MiB |\n');
    process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
    for (const r of rows) {
      process.stdout.write(`| ${r.protocol} | ${r.n} | ${r.t} | ${r.params} | ${r.seconds.toFixed(3)} | ${r.node_cpu_seconds.toFixed(2)} | ${r.bytes_sent_per_node} | ${r.bytes_min} | ${r.bytes_ratio.toFixed(4)} | ${r.peak_rss_mb_per_node} | ${r.model_f32_mb} | ${r.rss_target_mb} |\n`);
    }
    process.stdout.write(`v2 / v1: ${JSON.stringify(v2OverV1)}\ntargets: ${JSON.stringify(targets)}\nmachine: ${JSON.stringify(machine)}\n`);
  }
  return Object.values(targets).every((v) => v !== false) ? 0 : 1;
}

runBench('bench:round', main);
