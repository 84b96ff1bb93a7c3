/**
 * A hung peer (its process stopped with SIGSTOP: the TCP connection stays open, nothing is read)
 * must not stall the live regions: real node processes on 127.0.0.1, 3 regions, t = 2. The two
 * live regions get the correct result without the stopped one: the transport reports its links
 * stalled (docs/transport.md "Stalled links"), the round goes on without it once every other
 * region has answered (docs/protocol.md "Dropouts and aborts"), and the transport later cuts it
 * for not draining ("Drain timeout"). Which comes first, the result or the cut, depends on the
 * machine's speed, so neither order is asserted: the result must be right either way.
 * Needs the built CLI (npm test builds it first). Outcome and logs are asserted, never time.
 */
import { describe, expect, it } from 'vitest';
import { aggregateDetailed } from '../src/client/index.js';
import { waitConnected, type LocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { useFederations } from './support/federation.js';

const fx = useFederations('mpc-node-hung-');
const IDS = ['apac', 'eu', 'us']; // apac coordinates; us is the one stopped
/** 2e6 parameters: a 16 MB share stream to each holder, more than the socket buffers hold. */
const L = 2_000_000;

const update = (r: number) => Float32Array.from({ length: L }, (_, i) => Math.sin(i * 0.001 + r) * (r + 1));

async function until<T>(what: string, get: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function bytesSentTo(fed: LocalFederation, from: string, to: string): Promise<number> {
  const r = fed.regions.find((x) => x.id === from)!;
  const res = await fetch(`${r.api}/v1/status`, { headers: { authorization: `Bearer ${r.token}` } });
  return ((await res.json()) as { bytes: { bytesSent: Record<string, number> } }).bytes.bytesSent[to] ?? 0;
}

/**
 * Runs one round in which apac and eu contribute and us (no trainer, a holder) is stopped by
 * `stopWhen`; resumes it in the end, whatever happens.
 */
async function roundWithHungPeer(round: string, stopWhen: (fed: LocalFederation, us: NodeProcess) => Promise<void>): Promise<void> {
  const fed = await fx.federation(IDS, { threshold: 2, round: { clipL2: 1e6, maxWeight: 1e4, collectMs: 300, phaseTimeoutMs: 5000, roundTimeoutMs: 60_000, maxParams: L } });
  await fx.start(fed);
  await waitConnected(fed);
  const us = fx.procs.find((p) => p.region === 'us')!;
  const pid = us.child.pid!;
  let stopped = false;
  try {
    const us0 = update(0);
    const us1 = update(1);
    const trainers = [0, 1].map((i) => aggregateDetailed({ node: fed.regions[i]!.api, token: fed.regions[i]!.token, round, update: i === 0 ? us0 : us1, weight: 10 * (i + 1), expect: 1 }));
    await stopWhen(fed, us);
    process.kill(pid, 'SIGSTOP');
    stopped = true;
    const res = await Promise.all(trainers);
    // the weighted mean of the two live regions' updates
    for (const r of res) {
      expect(r.contributors).toEqual(['apac', 'eu']);
      let err = 0;
      for (let i = 0; i < L; i += 997) err = Math.max(err, Math.abs(r.vector[i]! - (us0[i]! * 10 + us1[i]! * 20) / 30));
      expect(err).toBeLessThan(1e-3);
    }
    // both live regions saw the stopped one's link stall, then cut it for not draining (not the
    // heartbeat), logged and counted
    for (const id of ['apac', 'eu']) {
      const logs = fx.procs.find((p) => p.region === id)!.logs;
      expect(logs.some((e) => e['event'] === 'peer-stalled' && e['peer'] === 'us' && Number(e['queuedBytes']) > 0), `${id} saw its link to us stall`).toBe(true);
      await until(`${id} to cut us for not draining`, () => (logs.some((e) => e['event'] === 'drain-timeout' && e['peer'] === 'us' && Number(e['queuedBytes']) > 0) ? true : undefined));
      await until(`${id} to log the cut link down`, () => (logs.some((e) => e['event'] === 'peer-down' && e['peer'] === 'us' && e['reason'] === 'drain timeout') ? true : undefined));
      expect(logs.some((e) => e['event'] === 'heartbeat-timeout')).toBe(false);
      expect(logs.find((e) => e['event'] === 'round-done')).toMatchObject({ contributors: ['apac', 'eu'], holders: ['apac', 'eu'] });
      const r = fed.regions.find((x) => x.id === id)!;
      const metrics = await (await fetch(`${r.api}/metrics`, { headers: { authorization: `Bearer ${r.token}` } })).text();
      expect(metrics).toMatch(/mpc_node_peer_drain_timeouts_total\{peer="us",region="\w+"\} [1-9]/);
    }
  } finally {
    if (stopped) process.kill(pid, 'SIGCONT');
  }
}

describe('a hung peer does not stall the live regions (real node processes)', () => {
  it('stopped right after it opened the round (its parameters are out, it deals nothing): the two live regions get the correct result', async () => {
    // us opens the round on the first peer's parameters and logs round-open once its own are sent
    await roundWithHungPeer('hung-before-deal', (_fed, us) => until('us to open the round', () => (us.logs.some((e) => e['event'] === 'round-open') ? true : undefined)).then(() => undefined));
  }, 90_000);

  it('stopped in the middle of the share stream apac deals to it: the two live regions get the correct result', async () => {
    // share bytes are flowing to us (more than the round's small messages), not all 16 MB of them
    await roundWithHungPeer('hung-mid-stream', (fed) => until('share bytes flowing from apac to us', async () => ((await bytesSentTo(fed, 'apac', 'us')) > 1_000_000 ? true : undefined)).then(() => undefined));
  }, 90_000);
});
