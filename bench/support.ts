/**
 * What the process benchmarks share: the median they quote, the machine line they print, the
 * CPU time of a node process, the node processes they start (killed however the benchmark ends)
 * and their entry point, and the rounds' synthetic updates with the check of a result against
 * their plaintext weighted mean.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { LocalRegion, NodeProcess } from '../src/node/local-federation.js';

/** The value after `--name` on the command line, if the flag is there. */
export function argValue(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

/** The median (the mean of the two middle values for an even count). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** The machine a figure was measured on. */
export function machineInfo(): { cpus: number; cpu: string; node: string; date: string } {
  return { cpus: cpus().length, cpu: cpus()[0]?.model ?? '?', node: process.version, date: new Date().toISOString() };
}

/**
 * One update per region, weights 1..n: region r's element i is sin(0.001 i (r + 1)) / 2 + r / 4,
 * small enough to pass clipL2 = 1e4.
 */
export function syntheticUpdates(n: number, params: number): { updates: Float32Array[]; weights: number[] } {
  const updates = Array.from({ length: n }, (_, r) => {
    const u = new Float32Array(params);
    for (let i = 0; i < params; i++) u[i] = Math.sin(0.001 * i * (r + 1)) * 0.5 + r * 0.25;
    return u;
  });
  return { updates, weights: updates.map((_, r) => r + 1) };
}

/**
 * Checks every region's result of round `round` (all n contributed) against the plaintext
 * weighted mean on about 1000 elements. @returns the largest absolute error.
 * @throws when metadata differ or an element is off by more than 1e-3.
 */
export function checkMean(round: string, results: { contributors: string[]; totalWeight: number; vector: Float32Array }[], updates: Float32Array[], weights: number[]): number {
  const n = updates.length;
  const params = updates[0]!.length;
  const W = weights.reduce((a, b) => a + b, 0);
  let maxErr = 0;
  for (const res of results) {
    if (res.contributors.length !== n || res.totalWeight !== W || res.vector.length !== params) throw new Error(`round ${round}: unexpected result metadata`);
    for (let i = 0; i < params; i += Math.max(1, Math.floor(params / 997))) {
      let want = 0;
      for (let r = 0; r < n; r++) want += updates[r]![i]! * weights[r]!;
      maxErr = Math.max(maxErr, Math.abs(res.vector[i]! - want / W));
    }
  }
  if (maxErr > 1e-3) throw new Error(`round ${round}: aggregate off by ${maxErr}`);
  return maxErr;
}

/** A node's /v1/status `bytes.bytesSent`: bytes sent so far to each peer (every frame on every link). */
export async function bytesSentByPeer(r: LocalRegion): Promise<Record<string, number>> {
  const res = await fetch(`${r.api}/v1/status`, { headers: { authorization: `Bearer ${r.token}` } });
  if (!res.ok) throw new Error(`status of ${r.id}: HTTP ${res.status}`);
  const body = (await res.json()) as { bytes: { bytesSent: Record<string, number> } };
  return body.bytes.bytesSent;
}

/**
 * CPU seconds (user + system, all its threads) a process has used so far, from
 * /proc/<pid>/stat (Linux; clock ticks of 1/100 s). On a shared machine a process's CPU time
 * moves far less with the load than wall time does, so it is the figure to compare builds by.
 */
export async function cpuSeconds(pid: number): Promise<number> {
  const s = await readFile(`/proc/${pid}/stat`, 'utf8');
  // fields after the parenthesised command name: state is field 3, utime 14 and stime 15
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

/** Node processes a benchmark started: every one still running is killed (a stopped one woken first) when the benchmark ends. */
export const live = new Set<NodeProcess>();

export function killAll(): void {
  for (const p of live) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    p.child.kill('SIGCONT');
    p.child.kill('SIGKILL');
  }
}

/**
 * Runs a benchmark's `main` as the process: its exit code, 2 with the stack on a throw, 130 on
 * SIGINT/SIGTERM; the nodes in `live` are killed in every case.
 */
export function runBench(name: string, main: () => Promise<number>): void {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(130);
    });
  }
  process.once('exit', killAll);
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      killAll();
      process.stderr.write(`${name} failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 2;
    },
  );
}
