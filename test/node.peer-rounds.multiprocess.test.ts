/**
 * Rounds a peer opens, against a real node process: the test speaks the peer protocol as the
 * federation's region apac (its own identity from the federation's files, a real authenticated
 * link to eu) and floods eu with 300 `params` messages of fresh round ids. eu opens rounds only
 * within policy.maxRoundsInFlight and the per-peer rate bound, counts every refusal in /metrics,
 * logs the throttling once per burst, keeps running, and the rounds that never got anything (no
 * trainer of eu, no other party's signed message) leave no transcript file.
 * Needs the built CLI (npm test builds it first).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadFederation } from '../src/config/federation.js';
import { startNodeProcess, type LocalRegion } from '../src/node/local-federation.js';
import { PEER_ROUNDS_PER_SECOND } from '../src/node/peer-round-gate.js';
import { roundParamsFor } from '../src/protocol/params.js';
import { loadIdentity } from '../src/transport/identity.js';
import { PeerNetwork } from '../src/transport/peer-network.js';
import { encodePeerMessageParts } from '../src/wire/codec.js';
import { useFederations } from './support/federation.js';
import { metric } from './support/leaks.js';

let nets: PeerNetwork[] = [];
const fx = useFederations('mpc-node-peer-rounds-', async () => {
  await Promise.all(nets.map((n) => n.close()));
  nets = [];
});

const auth = (r: LocalRegion) => ({ headers: { authorization: `Bearer ${r.token}` } });

async function until(what: string, ok: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

describe('rounds opened by a peer', () => {
  it('300 params of fresh rounds from one peer: rounds within maxRoundsInFlight and the rate bound, refusals counted, logged once per burst, no transcript files', async () => {
    const fed = await fx.federation(['apac', 'eu', 'us'], { threshold: 2, round: { collectMs: 200, phaseTimeoutMs: 1000, roundTimeoutMs: 20_000 } });
    const federation = await loadFederation(fed.config);
    const eu = fed.regions.find((r) => r.id === 'eu')!;
    const node = await startNodeProcess(fed, 'eu');
    fx.procs.push(node);
    // the test is apac (it sorts lower, so it dials eu); us never starts
    const apac = new PeerNetwork({
      federation: federation.federation,
      identity: await loadIdentity(join(fed.regions.find((r) => r.id === 'apac')!.dataDir, 'identity.json')),
      peers: new Map([['eu', { publicKey: Buffer.from(federation.regions.find((r) => r.id === 'eu')!.publicKey, 'hex'), endpoint: `ws://127.0.0.1:${eu.peerPort}` }]]),
      listen: { host: '127.0.0.1', port: 0 },
    });
    nets.push(apac);
    await apac.start();
    await until('apac is linked to eu', () => apac.connectedPeers().includes('eu'));

    const t0 = Date.now();
    const sent = Array.from({ length: 300 }, (_, i) => {
      const round = `flood-${i}`;
      return apac.send('eu', encodePeerMessageParts({ type: 'params', round, params: roundParamsFor(federation, round, 4) }));
    });
    await Promise.all(sent);
    // eu answers every round it opened with its own params: when all 300 are handled, the counts add up
    await until('eu has handled all 300', async () => {
      const st = (await (await fetch(`${eu.api}/v1/status`, auth(eu))).json()) as { refusedMessages: number };
      const opened = node.logs.filter((l) => l.event === 'round-open' && l.from === 'apac').length;
      return opened + st.refusedMessages === 300;
    });
    const opened = node.logs.filter((l) => l.event === 'round-open' && l.from === 'apac').length;
    // the rounds it opened have their memory reserved, and nothing allocated: no share has come
    const st = (await (await fetch(`${eu.api}/v1/status`, auth(eu))).json()) as { roundsInFlight: unknown[]; memory: { reserved: number; wasmInUse: number } };
    expect(st.memory.wasmInUse).toBe(0);
    expect(st.memory.reserved > 0).toBe(st.roundsInFlight.length > 0);
    const max = federation.policy.maxRoundsInFlight;
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(max); // they stay open for seconds: the in-flight bound holds them
    const m = await (await fetch(`${eu.api}/metrics`, auth(eu))).text();
    const throttled = metric(m, 'mpc_node_peer_rounds_throttled_total', { peer: 'apac' })!;
    const inFlightRefused = metric(m, 'mpc_node_rounds_total', { outcome: 'refused' })!;
    expect(throttled + inFlightRefused + opened).toBe(300);
    // past the burst, at most PEER_ROUNDS_PER_SECOND per second of the flood even reach the in-flight check
    expect(opened + inFlightRefused).toBeLessThanOrEqual(max + Math.ceil(((Date.now() - t0) / 1000) * PEER_ROUNDS_PER_SECOND) + 1);
    expect(throttled).toBeGreaterThan(200);
    // logged once per burst of refusals, not once per message
    const logged = node.logs.filter((l) => l.event === 'peer-rounds-throttled').length;
    expect(logged).toBeGreaterThanOrEqual(1);
    expect(logged).toBeLessThanOrEqual(1 + opened + inFlightRefused);
    expect(logged).toBeLessThan(throttled / 10);

    // the node keeps serving; the opened rounds end (the coordinator, apac, never decides) and
    // leave no transcript file: nothing of them was worth keeping
    expect((await fetch(`${eu.api}/healthz`)).status).toBe(200);
    await until('eu has no round in flight', async () => ((await (await fetch(`${eu.api}/v1/status`, auth(eu))).json()) as { roundsInFlight: unknown[] }).roundsInFlight.length === 0);
    expect(node.logs.filter((l) => l.event === 'round-aborted').length).toBe(opened);
    expect(readdirSync(join(eu.dataDir, 'transcripts')).filter((f) => f.startsWith('flood-'))).toEqual([]);
    expect(node.child.exitCode).toBe(null);
  }, 60_000);
});
