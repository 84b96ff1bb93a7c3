/**
 * Paired round benchmark: this build against another checkout's build, round by round.
 *
 *   npm run bench:round-pair -- --vs ../other-checkout          (that checkout built: npm ci)
 *   options: --params N (default 1e6), --n N (regions, default 3), --reps N (paired rounds after
 *            one warm-up round each, default 20), --node-arg ARG (repeatable: a Node or V8 option
 *            for this build's node processes only, e.g. --node-arg --initial-old-space-size=64),
 *            --json (one JSON object)
 *
 * One federation of real node processes per build (each build's own dist/, started by its own
 * local-federation.js), both up at once; every rep runs one round on each, in turn (A B, then
 * B A, ...), so a drift in the machine's speed reaches both sides of a pair. Per round: wall
 * seconds from the submissions to the last result, and the CPU seconds of that build's n nodes
 * (/proc/<pid>/stat, read before the submissions and 300 ms after the results, so the round's
 * tail — transcripts, wipes — is counted). Printed: each side's medians and the median of the
 * per-pair ratios A/B (A = this build). On a shared machine quote the CPU ratio: wall time
 * follows the load far more. Also printed: each side's peak RSS per node (VmHWM, MiB, the
 * largest of its nodes). Every result is checked against the plaintext weighted mean.
 * @module
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { argValue, cpuSeconds, live, machineInfo, median, runBench } from './support.js';

type LocalFed = typeof import('../src/node/local-federation.js');
type Client = typeof import('../src/client/index.js');

const REGION_IDS = ['eu', 'us', 'apac', 'sa', 'af'];

interface Side {
  label: string;
  lf: LocalFed;
  nodes: Awaited<ReturnType<LocalFed['startNodeProcess']>>[];
  fed: Awaited<ReturnType<LocalFed['writeLocalFederation']>>;
  client: Client;
  dir: string;
  wall: number[];
  cpu: number[];
}


/** Starts `root`'s build of the nodes (its dist/) as a federation of `n` regions. */
async function startSide(label: string, root: string, n: number, params: number, nodeArgs: string[]): Promise<Side> {
  const url = (p: string): string => pathToFileURL(join(root, p)).href;
  const lf = (await import(url('dist/src/node/local-federation.js'))) as LocalFed;
  const client = (await import(url('dist/src/client/index.js'))) as Client;
  const dir = await mkdtemp(join(tmpdir(), 'mpc-node-bench-pair-'));
  const t = n === 3 ? 2 : Math.floor(n / 2) + 1;
  const fed = await lf.writeLocalFederation(dir, REGION_IDS.slice(0, n), {
    threshold: t,
    round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 5000, maxParams: Math.max(params, 10_000_000) },
  });
  const side: Side = { label, lf, nodes: [], fed, client, dir, wall: [], cpu: [] };
  for (const r of fed.regions) {
    const p = await lf.startNodeProcess(fed, r.id, {}, nodeArgs);
    side.nodes.push(p);
    live.add(p);
  }
  await lf.waitConnected(fed, 30_000);
  return side;
}

async function peakRssMiB(s: Side): Promise<number> {
  const kb = await Promise.all(s.nodes.map(async (p) => Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${p.child.pid!}/status`, 'utf8'))?.[1] ?? NaN)));
  return Math.round((Math.max(...kb) / 1024) * 10) / 10;
}

async function round(s: Side, id: string, updates: Float32Array[], record: boolean): Promise<void> {
  const n = updates.length;
  const c0 = await Promise.all(s.nodes.map((p) => cpuSeconds(p.child.pid!)));
  const t0 = performance.now();
  const results = await Promise.all(
    s.fed.regions.map((r, i) => s.client.aggregateDetailed({ node: r.api, token: r.token, round: id, update: updates[i]!, weight: i + 1, reduce: 'mean', expect: 1 })),
  );
  const wall = (performance.now() - t0) / 1000;
  await new Promise((ok) => setTimeout(ok, 300));
  const c1 = await Promise.all(s.nodes.map((p) => cpuSeconds(p.child.pid!)));
  const W = (n * (n + 1)) / 2;
  for (const res of results) {
    for (let i = 0; i < res.vector.length; i += Math.max(1, Math.floor(res.vector.length / 997))) {
      let want = 0;
      for (let r = 0; r < n; r++) want += updates[r]![i]! * (r + 1);
      if (Math.abs(res.vector[i]! - want / W) > 1e-3) throw new Error(`${s.label} round ${id}: element ${i} is off`);
    }
  }
  if (!record) return;
  s.wall.push(wall);
  s.cpu.push(c1.reduce((a, c, i) => a + c - c0[i]!, 0));
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const vs = argValue(argv, 'vs');
  if (!vs) throw new Error('--vs DIR: the other checkout (built with npm ci) to pair this build with');
  const params = Number(argValue(argv, 'params') ?? 1e6);
  const n = Number(argValue(argv, 'n') ?? 3);
  const reps = Number(argValue(argv, 'reps') ?? 20);
  if (![params, n, reps].every((x) => Number.isInteger(x) && x >= 1) || n < 2 || n > REGION_IDS.length) throw new Error('--params, --reps take positive integers, --n 2 to 5');
  const json = argv.includes('--json');
  const nodeArgs = argv.flatMap((a, i) => (a === '--node-arg' && argv[i + 1] !== undefined ? [argv[i + 1]!] : []));
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const here = resolve(fileURLToPath(new URL('../..', import.meta.url)));
  const sides = [await startSide('this', here, n, params, nodeArgs), await startSide('vs', resolve(vs), n, params, [])];
  try {
    const updates = Array.from({ length: n }, (_, r) => {
      const u = new Float32Array(params);
      for (let i = 0; i < params; i++) u[i] = Math.sin(0.001 * i * (r + 1)) * 0.5 + r * 0.25;
      return u;
    });
    for (let rep = 0; rep <= reps; rep++) {
      for (const s of rep % 2 ? [...sides].reverse() : sides) {
        await round(s, `pair-${rep}-${s.label}-${Date.now()}`, updates, rep > 0);
        if (rep > 0) log(`  rep ${rep} ${s.label}: ${s.wall.at(-1)!.toFixed(3)} s, node CPU ${s.cpu.at(-1)!.toFixed(2)} s`);
      }
    }
    const [a, b] = sides as [Side, Side];
    const pairs = (x: number[], y: number[]): number => median(x.map((v, i) => v / y[i]!));
    const r4 = (x: number): number => Math.round(x * 1e4) / 1e4;
    const out = {
      n, params, reps, vs: resolve(vs), node_args: nodeArgs,
      this: { seconds: r4(median(a.wall)), node_cpu_seconds: r4(median(a.cpu)), peak_rss_mb_per_node: await peakRssMiB(a) },
      other: { seconds: r4(median(b.wall)), node_cpu_seconds: r4(median(b.cpu)), peak_rss_mb_per_node: await peakRssMiB(b) },
      ratio_seconds: r4(pairs(a.wall, b.wall)),
      ratio_node_cpu: r4(pairs(a.cpu, b.cpu)),
      machine: machineInfo(),
    };
    if (json) process.stdout.write(JSON.stringify(out) + '\n');
    else {
      process.stdout.write(`| build | seconds (median) | node CPU s (median) | peak RSS/node MiB |\n| --- | --- | --- | --- |\n`);
      for (const [name, x] of [[`this${nodeArgs.length ? ' ' + nodeArgs.join(' ') : ''}`, out.this], ['vs', out.other]] as const) {
        process.stdout.write(`| ${name} | ${x.seconds.toFixed(3)} | ${x.node_cpu_seconds.toFixed(3)} | ${x.peak_rss_mb_per_node} |\n`);
      }
      process.stdout.write(`this / vs, median of ${reps} pairs: seconds ${out.ratio_seconds}, node CPU ${out.ratio_node_cpu}\nmachine: ${JSON.stringify(out.machine)}\n`);
    }
    return 0;
  } finally {
    for (const s of sides) {
      await Promise.all(s.nodes.map(async (p) => {
        await s.lf.stopNode(p);
        live.delete(p);
      }));
      await rm(s.dir, { recursive: true, force: true });
    }
  }
}

runBench('bench:round-pair', main);
