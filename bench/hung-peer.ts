/**
 * Hung-peer benchmark: whole rounds between real node processes on loopback in which one of
 * three regions (t = 2) drops out right after it opened the round, either killed (kill -9: its
 * links close at once) or stopped (SIGSTOP: its TCP connections stay open and nothing is read,
 * until the live nodes' drain timeout cuts them, docs/transport.md). Side by side in one run,
 * alternating, median of several rounds each; the ratio hung / dead is the figure the liveness
 * issue bounds (<= 1.2). A round with all three alive is timed too, for scale.
 *
 *   npm run bench:hung                  readable table
 *   npm run bench:hung -- --json        one JSON object per mode, then {"summary":...}
 *   options: --reps N (rounds per mode, default 5), --params N (default 2e6: a 16 MB share
 *            stream to each holder, more than the socket buffers hold), --phase-timeout-ms MS
 *            (round.phaseTimeoutMs, default 5000), --collect-ms MS (default 300), --stop
 *            open|mid-stream (when us is killed or stopped: right after its `round-open` line,
 *            the default, or once apac has sent it 1 MB more than before the round: in the middle
 *            of the share stream apac deals to it)
 *
 * Every round: the dropping region (us, not the coordinator) has no trainer; apac and eu each
 * submit one update (`expect: 1`); the bench waits for us's `round-open` log line (written
 * once its parameters are out, so the others deal to it), then kills or stops it. `seconds` is
 * the wall time from the submissions to the last result, checked against the plaintext
 * weighted mean. After each round us is killed (resumed first if stopped) and restarted, so
 * every round starts from three connected nodes. A dead peer's link goes down at once and the
 * coordinator decides without it; a hung one's links stall (docs/transport.md "Stalled links")
 * and the round goes on without it once every other region has answered (docs/protocol.md
 * "Dropouts"). Every round also counts the `peer-stalled` events the nodes logged for a peer
 * that was running (any peer but a stopped us): false stalls, which the summary reports, with the
 * load average before and after the run.
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type LocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { argValue, killAll, live, machineInfo, median, runBench } from './support.js';

const IDS = ['apac', 'eu', 'us'];
type Mode = 'alive' | 'dead' | 'hung';


const round3 = (x: number): number => Math.round(x * 1e3) / 1e3;


async function start(fed: LocalFederation, id: string): Promise<NodeProcess> {
  const p = await startNodeProcess(fed, id);
  live.add(p);
  return p;
}

async function waitFor(what: string, pred: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Stalls logged by apac and eu for a running peer, over all rounds. */
let falseStalls = 0;

/** Bytes apac's node has sent to us so far (its status). */
async function apacSentToUs(fed: LocalFederation): Promise<number> {
  const r = fed.regions[0]!;
  const res = await fetch(`${r.api}/v1/status`, { headers: { authorization: `Bearer ${r.token}` } });
  return ((await res.json()) as { bytes: { bytesSent: Record<string, number> } }).bytes.bytesSent['us'] ?? 0;
}

/** One round with `mode`; returns its seconds. Restarts us afterwards unless it stayed alive. */
async function oneRound(fed: LocalFederation, nodes: Map<string, NodeProcess>, mode: Mode, round: string, updates: Float32Array[], log: (s: string) => void, stop: 'open' | 'mid-stream'): Promise<number> {
  const us = nodes.get('us')!;
  const marks = IDS.map((id) => nodes.get(id)!.logs.length);
  const sentBefore = stop === 'mid-stream' && mode !== 'alive' ? await apacSentToUs(fed) : 0;
  const t0 = performance.now();
  const pending = [0, 1].map((i) => aggregateDetailed({ node: fed.regions[i]!.api, token: fed.regions[i]!.token, round, update: updates[i]!, weight: i + 1, reduce: 'mean', expect: 1 }));
  if (mode !== 'alive') {
    await waitFor('us to open the round', () => us.logs.some((e) => e['event'] === 'round-open' && e['round'] === round));
    while (stop === 'mid-stream' && (await apacSentToUs(fed)) - sentBefore < 1_000_000) await new Promise((r) => setTimeout(r, 2));
    us.child.kill(mode === 'dead' ? 'SIGKILL' : 'SIGSTOP');
  }
  const results = await Promise.all(pending);
  const sec = (performance.now() - t0) / 1000;
  let err = 0;
  for (const r of results) {
    if (r.contributors.join() !== 'apac,eu') throw new Error(`round ${round}: contributors ${r.contributors.join()}`);
    for (let i = 0; i < updates[0]!.length; i += 997) err = Math.max(err, Math.abs(r.vector[i]! - (updates[0]![i]! + 2 * updates[1]![i]!) / 3));
  }
  if (err > 1e-3) throw new Error(`round ${round}: aggregate off by ${err}`);
  const cuts = [0, 1].map((i) => nodes.get(IDS[i]!)!.logs.filter((e) => e['event'] === 'drain-timeout' && e['peer'] === 'us').length);
  const stalls = IDS.flatMap((id, i) => nodes.get(id)!.logs.slice(marks[i]).filter((e) => e['event'] === 'peer-stalled').map((e) => `${id}>${String(e['peer'])}`));
  const falses = stalls.filter((x) => mode !== 'hung' || !x.endsWith('>us'));
  falseStalls += falses.length;
  log(`  ${mode}: ${sec.toFixed(3)} s, stalls seen: ${stalls.join(' ') || 'none'}${falses.length ? ` (${falses.length} false)` : ''}${mode === 'hung' ? `, drain-timeout cuts so far apac ${cuts[0]} / eu ${cuts[1]}` : ''}`);
  if (mode !== 'alive') {
    us.child.kill('SIGCONT');
    await stopNode(us, 'SIGKILL');
    live.delete(us);
    nodes.set('us', await start(fed, 'us'));
    await waitConnected(fed, 30_000);
  }
  return sec;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const reps = Number(argValue(argv, 'reps') ?? 5);
  const params = Number(argValue(argv, 'params') ?? 2e6);
  const phaseTimeoutMs = Number(argValue(argv, 'phase-timeout-ms') ?? 5000);
  const collectMs = Number(argValue(argv, 'collect-ms') ?? 300);
  const stop = argValue(argv, 'stop') ?? 'open';
  if (stop !== 'open' && stop !== 'mid-stream') throw new Error('--stop takes open or mid-stream');
  if (![reps, params, phaseTimeoutMs, collectMs].every((x) => Number.isInteger(x) && x >= 1)) throw new Error('--reps, --params, --phase-timeout-ms and --collect-ms take positive integers');
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const loadBefore = loadavg().map((x) => Math.round(x * 100) / 100);
  const dir = await mkdtemp(join(tmpdir(), 'mpc-node-bench-hung-'));
  const nodes = new Map<string, NodeProcess>();
  const secs: Record<Mode, number[]> = { alive: [], dead: [], hung: [] };
  try {
    const fed = await writeLocalFederation(dir, IDS, { threshold: 2, round: { clipL2: 1e6, maxWeight: 1e4, collectMs, phaseTimeoutMs, roundTimeoutMs: 120_000, maxParams: params } });
    for (const id of IDS) nodes.set(id, await start(fed, id));
    await waitConnected(fed, 30_000);
    const updates = [0, 1].map((r) => Float32Array.from({ length: params }, (_, i) => Math.sin(0.001 * i * (r + 1)) * 0.5 + r * 0.25));
    await oneRound(fed, nodes, 'alive', `warm-up-${Date.now()}`, updates, log, stop);
    for (let rep = 0; rep < reps; rep++) {
      for (const mode of ['alive', 'dead', 'hung'] as const) secs[mode].push(await oneRound(fed, nodes, mode, `${mode}-${rep}-${Date.now()}`, updates, log, stop));
    }
  } finally {
    killAll();
    await Promise.all([...nodes.values()].map((p) => p.exited));
    await rm(dir, { recursive: true, force: true });
  }
  const decideS = (collectMs + Math.min(phaseTimeoutMs, 5000) + phaseTimeoutMs) / 1000;
  const rows = (['alive', 'dead', 'hung'] as const).map((mode) => ({ mode, params, reps, seconds: round3(median(secs[mode])), seconds_all: secs[mode].map(round3) }));
  const ratio = round3(median(secs.hung) / median(secs.dead));
  const machine = machineInfo();
  const load = { before: loadBefore, after: loadavg().map((x) => Math.round(x * 100) / 100) };
  const summary = { ratio_hung_over_dead: ratio, target_le_1_2: ratio <= 1.2, stop, false_stalls: falseStalls, decide_deadline_s: decideS, collect_ms: collectMs, phase_timeout_ms: phaseTimeoutMs, machine, load_average_1_5_15: load };
  if (json) {
    for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
    process.stdout.write(JSON.stringify({ summary }) + '\n');
  } else {
    process.stdout.write('| mode | params | rounds | seconds (median) | every round |\n| --- | --- | --- | --- | --- |\n');
    for (const r of rows) process.stdout.write(`| ${r.mode} | ${r.params} | ${r.reps} | ${r.seconds.toFixed(3)} | ${r.seconds_all.join(', ')} |\n`);
    process.stdout.write(`stopped at ${stop}: hung / dead = ${ratio} (target <= 1.2); false stalls ${falseStalls}; decide deadline ${decideS} s\nmachine: ${JSON.stringify(machine)}\nload average (1, 5, 15 min): before ${load.before.join(' ')}, after ${load.after.join(' ')}\n`);
  }
  return summary.target_le_1_2 ? 0 : 1;
}

runBench('bench:hung', main);
