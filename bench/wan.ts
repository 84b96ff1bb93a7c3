/**
 * WAN benchmark: whole rounds between real node processes whose every peer link passes an
 * emulated WAN link (bench/wan-proxy.ts: one-way delay and token-bucket rate per direction, in
 * a process of its own, bench/wan-proxy-host.ts).
 *
 *   npm run bench:wan                  readable table
 *   npm run bench:wan -- --json        one JSON object per case, then {"summary":...}
 *   options: --n 3,5  --params 1e6,1e7  --protocol 1,2  --rtt-ms 100  --mbit 200
 *            --reps N (timed rounds per case, default 3)  --reps-large N (for params >= 5e6,
 *            default 1)  --calibrate-mb M (one bulk transfer through one proxy first, default
 *            50; 0 skips it)
 *
 * Per case (n, params, protocol) a fresh federation (its file says `round.protocol`) and a fresh
 * proxy process: each region's `endpoint` in the federation file is its proxy's port, the node
 * itself listens on another (`--peer-listen`), so every connection to a region passes its proxy.
 * The region whose id sorts lower dials (docs/transport.md), so each pair's one WebSocket passes
 * exactly one proxy, both directions shaped there, once. The file's round deadlines are raised
 * (phaseTimeoutMs 120 s, roundTimeoutMs 600 s): a benchmark measures a slow round, it does not
 * abort it. One warm-up round, then the timed ones;
 * every round all n trainers submit at once (`expect: 1`) and every result is checked against
 * the plaintext weighted mean (bench/support.ts). t = 2 for n = 3, t = 3 for n = 5.
 *
 * Per case: `seconds` (median; `seconds_all`), `link_bytes` (bytes of each link direction in a
 * round, "eu->us", from the proxies' own counters, median over the timed rounds), the floor =
 * max over link directions of bytes / rate + MESSAGE_HOPS x RTT / 2, and `ratio` = seconds /
 * floor. Also: the proxies' CPU seconds per GB forwarded and the rate their shapers achieved
 * while bytes waited for tokens, the nodes' CPU seconds per round (all n) and the CPU floor
 * (nodes' + proxies' CPU per round / cores: on this machine no round is shorter, whatever the
 * links), and the proxied bytes over the nodes' own
 * /v1/status counters (1.00x: nothing bypasses a proxy).
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aggregateDetailed } from '../src/client/index.js';
import { freePort, startNodeProcess, stopNode, waitConnected, writeLocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { socketOwner } from './socket-owner.js';
import { argValue, bytesSentByPeer, checkMean, cpuSeconds, live, machineInfo, median, runBench, syntheticUpdates } from './support.js';
import { calibrate } from './wan-calibrate.js';
import { ProxyHost, type HostSnapshot } from './wan-proxy-host.js';
import type { LinkShape } from './wan-proxy.js';

type Version = 1 | 2;

/**
 * Sequential one-way message hops on a round's critical path, per protocol version; the floor
 * charges each one one-way delay (RTT / 2): every step of the protocol is a broadcast that the
 * next step waits for, none a request waiting for its own answer. Version 1 (docs/protocol.md
 * "Phases"): (1) params, a node deals only once every peer's params matched; (2) shares +
 * commits, a holder receipts a dealer only after its whole share and its commits; (3) receipts
 * to the coordinator; (4) the decision; (5) aggregate shares + agg-done, the result is returned
 * once every aggregate share is in. The seal follows the result and is not counted. With n >= 3
 * the chain runs along one link whose ends are neither the coordinator, so all five hops and
 * both of that link's vectors are sequential.
 * Version 2: 7 (docs/protocol.md "Message rounds and bytes"; the same count from
 * src/protocol/shares-v2.ts and combine-v2.ts): (1) params; (2) commits, then the seeds and share
 * vectors (after one dealing pass, CPU, not a hop); (3) receipts with their projections; (4) the decision; (5) every
 * decided holder's aggregate commitment (`agg-done`), since the challenge needs all of them;
 * (6) the signed projections (`agg-proj`), since a holder streams only once all are in and
 * checked; (7) the aggregate shares to their fan-in targets.
 */
const MESSAGE_HOPS: Record<Version, number> = { 1: 5, 2: 7 };

const REGION_IDS = ['eu', 'us', 'apac', 'sa', 'af'];
const MB = 1e6;

interface Row {
  n: number;
  t: number;
  params: number;
  protocol: Version;
  rtt_ms: number;
  mbit: number;
  reps: number;
  seconds: number;
  seconds_all: number[];
  floor_s: number;
  ratio: number;
  message_hops: number;
  max_link: string;
  max_link_bytes: number;
  link_bytes: Record<string, number>;
  proxied_over_node_bytes: number;
  nodes_cpu_s_per_round: number;
  /** (nodes' + proxies' CPU seconds per round) / cores: no round on this machine is shorter. */
  cpu_floor_s: number;
  proxy_cpu_s_per_gb: number;
  proxy_cpu_s_per_round: number;
  shaper_busy_mbit: number;
  proxy_max_queued_bytes: number;
  connections: number;
  /** The proxy process's nice value (bench/wan-proxy-host.ts). */
  proxy_nice: number;
  max_abs_error: number;
}



/** Per link direction ("eu->us"), the bytes every proxied connection has released so far. */
class LinkCounter {
  readonly #owners = new Map<string, string>();
  readonly #pids: Map<number, string>;
  readonly #regionOfPort: Map<number, string>;

  constructor(nodes: NodeProcess[], regionOfPort: Map<number, string>) {
    this.#pids = new Map(nodes.map((p) => [p.child.pid!, p.region]));
    this.#regionOfPort = regionOfPort;
  }

  /** Names the dialler of every open connection not yet named (a closed one stays unnamed). */
  async name(snap: HostSnapshot): Promise<void> {
    for (const p of snap.proxies) {
      for (const c of p.connections) {
        const key = `${p.port}:${c.id}`;
        if (this.#owners.has(key) || c.closed) continue;
        const pid = await socketOwner(c.remotePort, p.port, [...this.#pids.keys()]);
        if (pid !== undefined) this.#owners.set(key, this.#pids.get(pid)!);
      }
    }
  }

  /** Bytes per direction; a connection whose dialler is unknown counts under "?->target". */
  bytes(snap: HostSnapshot): Map<string, { bytes: number; busyBytes: number; busyMs: number; maxQueued: number }> {
    const out = new Map<string, { bytes: number; busyBytes: number; busyMs: number; maxQueued: number }>();
    const add = (dir: string, s: HostSnapshot['proxies'][number]['connections'][number]['up']): void => {
      const o = out.get(dir) ?? { bytes: 0, busyBytes: 0, busyMs: 0, maxQueued: 0 };
      o.bytes += s.bytesOut;
      o.busyBytes += s.busyBytes;
      o.busyMs += s.busyMs;
      o.maxQueued = Math.max(o.maxQueued, s.maxQueuedBytes);
      out.set(dir, o);
    };
    for (const p of snap.proxies) {
      const target = this.#regionOfPort.get(p.port)!;
      for (const c of p.connections) {
        const from = this.#owners.get(`${p.port}:${c.id}`) ?? '?';
        add(`${from}->${target}`, c.up);
        add(`${target}->${from}`, c.down);
      }
    }
    return out;
  }

  /** Throws unless each pair of regions has exactly one open connection, dialled by the lower id. */
  checkTopology(snap: HostSnapshot, ids: string[]): number {
    const open = snap.proxies.flatMap((p) => p.connections.filter((c) => !c.closed).map((c) => `${this.#owners.get(`${p.port}:${c.id}`) ?? '?'}->${this.#regionOfPort.get(p.port)}`));
    const want = ids.flatMap((a) => ids.filter((b) => a < b).map((b) => `${a}->${b}`));
    if (open.length !== want.length || !want.every((w) => open.includes(w))) throw new Error(`proxied connections ${JSON.stringify(open.sort())}, expected one per pair ${JSON.stringify(want.sort())}`);
    return open.length;
  }
}

async function runCase(n: number, params: number, protocol: Version, reps: number, shape: LinkShape, log: (s: string) => void): Promise<Row> {
  const t = n === 3 ? 2 : n === 5 ? 3 : Math.floor(n / 2) + 1;
  const ids = REGION_IDS.slice(0, n);
  const dir = await mkdtemp(join(tmpdir(), 'mpc-node-bench-wan-'));
  const fed = await writeLocalFederation(dir, ids, {
    threshold: t,
    // deadlines for slow links on a loaded machine (a 5-region 1e7 round takes 40 s here; with the
    // default 30 s phase timeout a version-2 round was decided with no receipts in and aborted)
    round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 5000, maxParams: Math.max(params, 10_000_000), phaseTimeoutMs: 120_000, roundTimeoutMs: 600_000, protocol },
  });
  const nodes: NodeProcess[] = [];
  const host = await ProxyHost.start();
  try {
    // the file's endpoint port of each region is its proxy's; the node listens on a port of its own
    const used = new Set(fed.regions.flatMap((r) => [r.peerPort, r.apiPort]));
    const regionOfPort = new Map<number, string>();
    for (const r of fed.regions) {
      let real = await freePort();
      while (used.has(real)) real = await freePort();
      used.add(real);
      await host.startProxy(r.peerPort, real, shape);
      regionOfPort.set(r.peerPort, r.id);
      const p = await startNodeProcess(fed, r.id, {}, [], ['--peer-listen', `127.0.0.1:${real}`]);
      nodes.push(p);
      live.add(p);
    }
    await waitConnected(fed, 60_000);
    const links = new LinkCounter(nodes, regionOfPort);
    await links.name(await host.stats());
    const connections = links.checkTopology(await host.stats(), ids);
    const { updates, weights } = syntheticUpdates(n, params);
    const rate = shape.rateBitsPerSec / 8;
    const oneWay = shape.delayMs / 1000;
    const secs: number[] = [];
    const floors: number[] = [];
    const perLink = new Map<string, number[]>();
    const ratios: number[] = [];
    const nodeCpu: number[] = [];
    const cpuFloors: number[] = [];
    let proxyCpu = 0;
    let proxyBytes = 0;
    let busyBytes = 0;
    let busyMs = 0;
    let maxQueued = 0;
    let maxErr = 0;
    for (let rep = 0; rep <= reps; rep++) {
      const round = `wan-${n}-${params}-v${protocol}-${rep}-${Date.now()}`;
      const before = await host.stats();
      const nodeBefore = await Promise.all(fed.regions.map(bytesSentByPeer));
      const cpuBefore = await Promise.all(nodes.map((p) => cpuSeconds(p.child.pid!)));
      const t0 = performance.now();
      const results = await Promise.all(
        fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round, update: updates[i]!, weight: weights[i]!, reduce: 'mean', expect: 1 })),
      );
      const sec = (performance.now() - t0) / 1000;
      const cpuAfter = await Promise.all(nodes.map((p) => cpuSeconds(p.child.pid!)));
      const after = await host.stats();
      const nodeAfter = await Promise.all(fed.regions.map(bytesSentByPeer));
      maxErr = Math.max(maxErr, checkMean(round, results, updates, weights));
      await links.name(after);
      const b0 = links.bytes(before);
      const b1 = links.bytes(after);
      const delta = new Map([...b1].map(([d, v]) => [d, v.bytes - (b0.get(d)?.bytes ?? 0)]));
      const [maxDir, maxBytes] = [...delta].reduce((a, b) => (b[1] > a[1] ? b : a));
      const floor = maxBytes / rate + MESSAGE_HOPS[protocol] * oneWay;
      const proxied = [...delta.values()].reduce((a, b) => a + b, 0);
      const nodeSent = nodeAfter.reduce((s, a, i) => s + Object.entries(a).reduce((x, [peer, v]) => x + v - (nodeBefore[i]![peer] ?? 0), 0), 0);
      const cpu = cpuAfter.reduce((s, c, i) => s + c - cpuBefore[i]!, 0);
      log(`  n=${n} params=${params} v${protocol} ${rep === 0 ? 'warm-up' : `rep ${rep}`}: ${sec.toFixed(3)} s, floor ${floor.toFixed(3)} s (${maxDir} ${(maxBytes / MB).toFixed(2)} MB), ratio ${(sec / floor).toFixed(3)}, nodes' CPU ${cpu.toFixed(2)} s, proxy CPU ${(after.cpuSeconds - before.cpuSeconds).toFixed(2)} s`);
      if (rep === 0) continue;
      secs.push(sec);
      floors.push(floor);
      nodeCpu.push(cpu);
      cpuFloors.push((cpu + after.cpuSeconds - before.cpuSeconds) / cpus().length);
      ratios.push(proxied / nodeSent);
      for (const [d, v] of delta) perLink.set(d, [...(perLink.get(d) ?? []), v]);
      proxyCpu += after.cpuSeconds - before.cpuSeconds;
      proxyBytes += proxied;
      for (const [d, v] of b1) {
        busyBytes += v.busyBytes - (b0.get(d)?.busyBytes ?? 0);
        busyMs += v.busyMs - (b0.get(d)?.busyMs ?? 0);
        maxQueued = Math.max(maxQueued, v.maxQueued);
      }
    }
    links.checkTopology(await host.stats(), ids); // no link was lost and redialled meanwhile
    // a dial that reached a proxy before its node listened carried nothing: not a link
    const linkBytes = Object.fromEntries([...perLink].filter(([, v]) => v.some((x) => x > 0)).sort().map(([d, v]) => [d, Math.round(median(v))]));
    const [maxLink, maxLinkBytes] = Object.entries(linkBytes).reduce((a, b) => (b[1] > a[1] ? b : a));
    const seconds = median(secs);
    const floor = median(floors);
    return {
      n, t, params, protocol, rtt_ms: shape.delayMs * 2, mbit: shape.rateBitsPerSec / 1e6, reps,
      seconds: round4(seconds),
      seconds_all: secs.map(round4),
      floor_s: round4(floor),
      ratio: round4(seconds / floor),
      message_hops: MESSAGE_HOPS[protocol],
      max_link: maxLink,
      max_link_bytes: maxLinkBytes,
      link_bytes: linkBytes,
      proxied_over_node_bytes: round4(median(ratios)),
      nodes_cpu_s_per_round: round4(median(nodeCpu)),
      cpu_floor_s: round4(median(cpuFloors)),
      proxy_cpu_s_per_gb: round4(proxyCpu / (proxyBytes / 1e9)),
      proxy_cpu_s_per_round: round4(proxyCpu / reps),
      shaper_busy_mbit: round1((busyBytes * 8) / (busyMs / 1000) / 1e6),
      proxy_max_queued_bytes: maxQueued,
      connections,
      proxy_nice: host.priority,
      max_abs_error: maxErr,
    };
  } finally {
    await Promise.all(nodes.map(async (p) => {
      await stopNode(p);
      live.delete(p);
    }));
    await host.close().catch(() => host.kill());
    await rm(dir, { recursive: true, force: true });
  }
}

const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;
const round1 = (x: number): number => Math.round(x * 10) / 10;

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  // the default run stays under 15 min on the loaded 2-core machine (bench/RESULTS.md "WAN (emulated)")
  const reps = Number(argValue(argv, 'reps') ?? 3);
  const repsLarge = Number(argValue(argv, 'reps-large') ?? 1);
  const ns = (argValue(argv, 'n') ?? '3,5').split(',').map(Number);
  const paramList = (argValue(argv, 'params') ?? '1e6,1e7').split(',').map(Number);
  const protocols = (argValue(argv, 'protocol') ?? '1,2').split(',').map(Number);
  const rttMs = Number(argValue(argv, 'rtt-ms') ?? 100);
  const mbit = Number(argValue(argv, 'mbit') ?? 200);
  const calibrateMb = Number(argValue(argv, 'calibrate-mb') ?? 50);
  if (![reps, repsLarge, ...ns, ...paramList].every((x) => Number.isInteger(x) && x >= 1)) throw new Error('--reps, --reps-large, --n and --params take positive integers');
  if (!protocols.every((v): v is Version => v === 1 || v === 2)) throw new Error('--protocol takes 1, 2 or 1,2');
  if (!(rttMs >= 0) || !(mbit > 0) || !(calibrateMb >= 0)) throw new Error('--rtt-ms >= 0, --mbit > 0 and --calibrate-mb >= 0');
  const shape: LinkShape = { delayMs: rttMs / 2, rateBitsPerSec: mbit * 1e6 };
  const log = (s: string): void => void process.stderr.write(s + '\n');
  const started = { at: new Date().toISOString(), loadavg: loadavg().map(round4) };
  log(`bench:wan: RTT ${rttMs} ms (one-way ${rttMs / 2} ms each direction), ${mbit} Mbit/s per link and direction; load average ${started.loadavg.join(' ')}`);
  const calibration = calibrateMb > 0 ? await calibrate(shape, calibrateMb * MB) : null;
  if (calibration) {
    log(`  one bulk transfer of ${calibrateMb} MB through one proxy: ${calibration.achieved_mbit} Mbit/s achieved (configured ${mbit}), proxy CPU ${calibration.proxy_cpu_s_per_gb} s/GB, bucket ${calibration.bucket_bytes} B, high water ${calibration.high_water_bytes} B, nice ${calibration.proxy_nice}`);
    if (json) process.stdout.write(JSON.stringify({ calibration }) + '\n');
  }
  const rows: Row[] = [];
  const failures: { n: number; params: number; protocol: Version; reps: number; error: string }[] = [];
  const t0 = performance.now();
  for (const n of ns) {
    for (const params of paramList) {
      for (const protocol of protocols) {
        const caseReps = params >= 5_000_000 ? repsLarge : reps;
        try {
          const row = await runCase(n, params, protocol, caseReps, shape, log);
          rows.push(row);
          if (json) process.stdout.write(JSON.stringify(row) + '\n');
        } catch (e) {
          // a round that fails (an abort, a wrong result) fails its case, not the run
          const failure = { n, params, protocol, reps: caseReps, error: (e as Error).message };
          failures.push(failure);
          log(`  n=${n} params=${params} v${protocol} FAILED: ${failure.error}`);
          if (json) process.stdout.write(JSON.stringify(failure) + '\n');
        }
      }
    }
  }
  const v2OverV1 = rows.filter((r) => r.protocol === 2).flatMap((r2) => {
    const r1 = rows.find((r) => r.protocol === 1 && r.n === r2.n && r.params === r2.params);
    return r1 ? [{ n: r2.n, params: r2.params, seconds: round4(r2.seconds / r1.seconds), max_link_bytes: round4(r2.max_link_bytes / r1.max_link_bytes) }] : [];
  });
  const targets = { every_case_within_1_3x_floor: rows.every((r) => r.ratio <= 1.3), no_case_failed: failures.length === 0 };
  const summary = { targets, failures, v2_over_v1: v2OverV1, calibration, machine: { ...machineInfo(), cores: cpus().length }, loadavg_start: started.loadavg, loadavg_end: loadavg().map(round4), run_seconds: round1((performance.now() - t0) / 1000) };
  if (json) {
    process.stdout.write(JSON.stringify({ summary }) + '\n');
  } else {
    process.stdout.write('| n | t | params | protocol | seconds (median) | floor s | ratio | max link bytes | nodes CPU s/round | CPU floor s | proxy CPU s/GB | shaper Mbit/s busy |\n');
    process.stdout.write('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n');
    for (const r of rows) {
      process.stdout.write(`| ${r.n} | ${r.t} | ${r.params} | ${r.protocol} | ${r.seconds.toFixed(3)} | ${r.floor_s.toFixed(3)} | ${r.ratio.toFixed(3)} | ${r.max_link_bytes} (${r.max_link}) | ${r.nodes_cpu_s_per_round} | ${r.cpu_floor_s} | ${r.proxy_cpu_s_per_gb} | ${r.shaper_busy_mbit} |\n`);
    }
    process.stdout.write(`summary: ${JSON.stringify(summary)}\n`);
  }
  return Object.values(targets).every((v) => v) ? 0 : 1;
}

runBench('bench:wan', main);
