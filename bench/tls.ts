/**
 * TLS benchmark: what HTTPS (and mTLS) on the trainer API costs a whole round, side by side with
 * plain HTTP in one run.
 *
 *   npm run bench:tls                   readable table with the ratios to HTTP
 *   npm run bench:tls -- --json         one JSON object per case, then {"summary":...}
 *   options: --reps N (timed rounds per mode after one warm-up round, default 7),
 *            --params 1e6,1e7 (model sizes)
 *
 * Per model size, three federations of two node processes (eu, us; t = 2) run at once, all on
 * loopback: eu's trainer API over plain HTTP, over HTTPS (`--tls-cert/--tls-key`), and over
 * HTTPS with a client certificate instead of the token (`--tls-client-ca`); us is plain HTTP in
 * all three. Rounds take turns between the three modes (http, https, mtls, http, ...), so drift
 * of a noisy machine falls on all of them alike. Every round both trainers submit concurrently
 * (`aggregateDetailed`, `expect: 1`, a fresh connection each: the TLS handshake is in the time);
 * `seconds` is the wall time from the submissions to the last result, median over the timed
 * rounds; `ratio` is a mode's median over HTTP's. `eu_peak_rss_mib` is eu's VmHWM at the end.
 * Certificates are P-256, made with `openssl` (test/support/test-ca.ts).
 * @module
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aggregateDetailed, type AggregateOptions } from '../src/client/index.js';
import { startNodeProcess, stopNode, writeLocalFederation, type LocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { issue, makeCa } from '../test/support/test-ca.js';
import { argValue, live, machineInfo, median, runBench } from './support.js';

const MODES = ['http', 'https', 'mtls'] as const;
type Mode = (typeof MODES)[number];

interface Row {
  params: number;
  mode: Mode;
  seconds: number;
  ratio: number;
  seconds_all: number[];
  eu_peak_rss_mib: number;
  reps: number;
}


const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;


/** One mode's federation, running, and how its eu trainer reaches eu. */
interface Setup {
  mode: Mode;
  fed: LocalFederation;
  eu: NodeProcess;
  euTrainer: Pick<AggregateOptions, 'node' | 'token' | 'ca' | 'cert' | 'key'>;
}

async function setUp(mode: Mode, dir: string, params: number): Promise<Setup> {
  const fed = await writeLocalFederation(join(dir, mode), ['eu', 'us'], { threshold: 2, round: { clipL2: 1e4, collectMs: 5000, maxParams: Math.max(params, 10_000_000) } });
  const eu = fed.regions[0]!;
  let args: string[] = [];
  let euTrainer: Setup['euTrainer'] = { node: eu.api, token: eu.token };
  if (mode !== 'http') {
    const ca = makeCa(fed.dir, 'server');
    const cert = issue(ca, { dir: fed.dir, file: 'eu-node', subject: '/CN=eu-node', serial: 1, use: 'server' });
    args = ['--tls-cert', cert.cert, '--tls-key', cert.key];
    euTrainer = { node: eu.api.replace('http:', 'https:'), token: eu.token, ca: await readFile(ca.cert, 'utf8') };
    if (mode === 'mtls') {
      const clientCa = makeCa(fed.dir, 'trainers');
      const trainer = issue(clientCa, { dir: fed.dir, file: 'trainer', subject: '/CN=trainer', serial: 2, use: 'client' });
      args.push('--tls-client-ca', clientCa.cert);
      euTrainer = { node: euTrainer.node, ca: euTrainer.ca!, cert: await readFile(trainer.cert, 'utf8'), key: await readFile(trainer.key, 'utf8') };
    }
  }
  const [euProc, usProc] = await Promise.all([startNodeProcess(fed, 'eu', {}, [], args), startNodeProcess(fed, 'us')]);
  live.add(euProc!);
  live.add(usProc!);
  return { mode, fed, eu: euProc!, euTrainer };
}

/** Waits until us (plain HTTP) reports its link to eu. */
async function linked(s: Setup): Promise<void> {
  const us = s.fed.regions[1]!;
  for (const deadline = Date.now() + 30_000; ; ) {
    const h = await fetch(`${us.api}/healthz`).then((r) => r.json() as Promise<{ peersConnected: string[] }>, () => undefined);
    if (h?.peersConnected.includes('eu')) return;
    if (Date.now() > deadline) throw new Error(`${s.mode}: us did not link to eu in time`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One round of a setup: both trainers at once. @returns seconds. */
async function round(s: Setup, id: string, updates: Float32Array[]): Promise<number> {
  const us = s.fed.regions[1]!;
  const t0 = performance.now();
  const [a] = await Promise.all([
    aggregateDetailed({ ...s.euTrainer, round: id, update: updates[0]!, reduce: 'sum', expect: 1 }),
    aggregateDetailed({ node: us.api, token: us.token, round: id, update: updates[1]!, reduce: 'sum', expect: 1 }),
  ]);
  const sec = (performance.now() - t0) / 1000;
  const want = updates[0]![7]! + updates[1]![7]!;
  if (a!.contributors.length !== 2 || Math.abs(a!.vector[7]! - want) > 1e-3) throw new Error(`round ${id}: unexpected aggregate`);
  return sec;
}

async function vmHwmMiB(pid: number): Promise<number> {
  const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Math.round((Number(m[1]) / 1024) * 10) / 10 : NaN;
}

async function runSize(params: number, reps: number, log: (s: string) => void): Promise<Row[]> {
  const dir = await mkdtemp(join(tmpdir(), 'mpc-node-bench-tls-'));
  const setups: Setup[] = [];
  try {
    for (const mode of MODES) setups.push(await setUp(mode, dir, params));
    for (const s of setups) await linked(s);
    const updates = [0, 1].map((r) => Float32Array.from({ length: params }, (_, i) => Math.sin(0.001 * i * (r + 1)) * 0.5));
    const secs = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
    for (let rep = 0; rep <= reps; rep++) {
      for (const s of setups) {
        const sec = await round(s, `bench-tls-${params}-${s.mode}-${rep}-${Date.now()}`, updates);
        log(`  params=${params} ${s.mode} ${rep === 0 ? 'warm-up' : `rep ${rep}`}: ${sec.toFixed(3)} s`);
        if (rep > 0) secs.get(s.mode)!.push(sec);
      }
    }
    const http = median(secs.get('http')!);
    return await Promise.all(
      setups.map(async (s) => ({
        params,
        mode: s.mode,
        seconds: round4(median(secs.get(s.mode)!)),
        ratio: round4(median(secs.get(s.mode)!) / http),
        seconds_all: secs.get(s.mode)!.map(round4),
        eu_peak_rss_mib: await vmHwmMiB(s.eu.child.pid!),
        reps,
      })),
    );
  } finally {
    await Promise.all([...live].map(async (p) => {
      await stopNode(p);
      live.delete(p);
    }));
    await rm(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const reps = Number(argValue(argv, 'reps') ?? 7);
  const paramList = (argValue(argv, 'params') ?? '1e6,1e7').split(',').map(Number);
  if (![reps, ...paramList].every((x) => Number.isInteger(x) && x >= 1)) throw new Error('--reps and --params take positive integers');
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const rows: Row[] = [];
  for (const params of paramList) {
    const got = await runSize(params, reps, log);
    rows.push(...got);
    if (json) for (const r of got) process.stdout.write(JSON.stringify(r) + '\n');
  }
  const machine = machineInfo();
  if (json) {
    process.stdout.write(JSON.stringify({ summary: { machine } }) + '\n');
  } else {
    process.stdout.write('| params | eu trainer API | seconds per round (median) | ratio to HTTP | eu peak RSS MiB |\n| --- | --- | --- | --- | --- |\n');
    for (const r of rows) process.stdout.write(`| ${r.params} | ${r.mode} | ${r.seconds.toFixed(3)} | ${r.ratio.toFixed(2)} | ${r.eu_peak_rss_mib} |\n`);
    process.stdout.write(`machine: ${JSON.stringify(machine)}\n`);
  }
  return 0;
}

runBench('bench:tls', main);
