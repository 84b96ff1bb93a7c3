/**
 * What the process benchmarks share: the median they quote, the machine line they print, the
 * CPU time of a node process, the node processes they start (killed however the benchmark ends)
 * and their entry point.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { NodeProcess } from '../src/node/local-federation.js';

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
