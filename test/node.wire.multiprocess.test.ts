/**
 * What really crosses the network between real node processes on 127.0.0.1, and two operator
 * limits seen from outside:
 *
 * - "on the wire": recording TCP proxies sit in front of two nodes' peer ports (the federation
 *   file names the proxy as the region's endpoint, the node binds its real port through
 *   `mpc-node start --peer-listen`), so every byte of every peer link is captured. A trainer's
 *   distinctive values appear nowhere in it (neither as float32 nor as field elements), and the
 *   policy-forbidden flow eu -> US carries no share stream: counted frame by frame against the
 *   protocol's expectations for every link direction.
 * - policy.maxRoundsInFlight = 1: a second round is refused to the trainer with a clear error,
 *   counted in /metrics, and accepted once the first round has ended.
 * - a peer claiming an unknown region is counted in /metrics (refused connections).
 *
 * Needs the built CLI (npm test builds it first).
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed, AggregateError, type AggregateOptions } from '../src/client/index.js';
import { startNodeProcess, waitConnected, type LocalFederation } from '../src/node/local-federation.js';
import { decodeHandshakeMsg } from '../src/transport/handshake.js';
import { generateIdentity } from '../src/transport/identity.js';
import { PeerNetwork } from '../src/transport/peer-network.js';
import { WIRE_CHUNK_ELEMS } from '../src/protocol/memory/index.js';
import { useFederations } from './support/federation.js';
import { leakHits, metric, updateNeedles, type Haystack } from './support/leaks.js';

let proxies: Proxy[] = [];
let nets: PeerNetwork[] = [];

// after the node processes stop and before the temp dirs go: the impostor networks and the proxies
const fx = useFederations('mpc-node-wire-', async () => {
  await Promise.all(nets.map((n) => n.close()));
  nets = [];
  await Promise.all(proxies.map((p) => p.close()));
  proxies = [];
});
const procs = fx.procs;

function federation(ids: string[], t: number, round: Record<string, unknown>, policy?: Record<string, unknown>): Promise<LocalFederation> {
  return fx.federation(ids, { threshold: t, round, ...(policy ? { policy } : {}) });
}

const byId = (fed: LocalFederation, id: string) => fed.regions.find((r) => r.id === id)!;
const auth = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

async function metricsOf(fed: LocalFederation, id: string): Promise<string> {
  const r = byId(fed, id);
  const res = await fetch(`${r.api}/metrics`, auth(r.token));
  expect(res.status).toBe(200);
  return res.text();
}

async function statusOf(fed: LocalFederation, id: string): Promise<{ roundsInFlight: { round: string }[]; refusedConnections: number; roundsRefused: number; bytes: { bytesSent: Record<string, number> } }> {
  const r = byId(fed, id);
  return (await (await fetch(`${r.api}/v1/status`, auth(r.token))).json()) as never;
}


async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(50);
  }
}

// ---- a recording loopback TCP proxy ----

interface Captured {
  /** Bytes from the connecting side (the dialling node) towards the node behind the proxy. */
  up: Buffer[];
  /** Bytes from the node behind the proxy back to the dialler. */
  down: Buffer[];
}

interface Proxy {
  port: number;
  conns: Captured[];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (port from the OS, never one of `avoid`) and forwards every connection to 127.0.0.1:target, recording both directions. */
async function startProxy(target: number, avoid: ReadonlySet<number>): Promise<Proxy> {
  const conns: Captured[] = [];
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  for (;;) {
    const server: Server = createServer((client) => {
      const cap: Captured = { up: [], down: [] };
      conns.push(cap);
      const upstream = createConnection({ host: '127.0.0.1', port: target });
      track(client);
      track(upstream);
      client.on('data', (d: Buffer) => cap.up.push(d));
      upstream.on('data', (d: Buffer) => cap.down.push(d));
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', () => ok());
    });
    const a = server.address();
    const port = typeof a === 'object' && a ? a.port : 0;
    if (avoid.has(port)) {
      await new Promise<void>((ok) => server.close(() => ok()));
      continue;
    }
    let closing: Promise<void> | undefined;
    const proxy: Proxy = {
      port,
      conns,
      close: () =>
        (closing ??= new Promise<void>((ok) => {
          for (const s of sockets) s.destroy();
          server.close(() => ok());
        })),
    };
    proxies.push(proxy);
    return proxy;
  }
}

// ---- reading WebSocket traffic (RFC 6455 framing) from a captured byte stream ----

interface WsFrame {
  opcode: number;
  payload: Buffer;
}

/** The HTTP upgrade head, then every complete frame (unmasked). A trailing partial frame is ignored. */
function wsFrames(stream: Buffer): { head: string; frames: WsFrame[] } {
  const end = stream.indexOf('\r\n\r\n');
  if (end < 0) return { head: stream.toString('latin1'), frames: [] };
  const head = stream.subarray(0, end).toString('latin1');
  const frames: WsFrame[] = [];
  let i = end + 4;
  while (i + 2 <= stream.length) {
    const b0 = stream[i]!;
    const b1 = stream[i + 1]!;
    let len = b1 & 0x7f;
    let j = i + 2;
    if (len === 126) {
      if (j + 2 > stream.length) break;
      len = stream.readUInt16BE(j);
      j += 2;
    } else if (len === 127) {
      if (j + 8 > stream.length) break;
      len = Number(stream.readBigUInt64BE(j));
      j += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    const mask = masked ? stream.subarray(j, j + 4) : undefined;
    if (masked) j += 4;
    if (j + len > stream.length) break;
    const payload = Buffer.from(stream.subarray(j, j + len));
    if (mask) for (let k = 0; k < payload.length; k++) payload[k]! ^= mask[k & 3]!;
    frames.push({ opcode: b0 & 0x0f, payload });
    i = j + len;
  }
  return { head, frames };
}



describe('on the wire, between real node processes', () => {
  it('recording proxies see every peer link: no trace of a trainer update; the forbidden flow eu -> US carries no share stream, every other stream is where the protocol puts it', async () => {
    // eu may deal only to APAC (and itself); us and apac are unrestricted. t = 2.
    const L = 3 * WIRE_CHUNK_ELEMS - 1; // one stream (params + 1 elements) is exactly 3 vector-chunk messages
    const fed = await federation(['apac', 'eu', 'us'], 2, { clipL2: 1e7, maxWeight: 10, maxTrainersPerRound: 10, collectMs: 300, phaseTimeoutMs: 5000, roundTimeoutMs: 30_000 }, { regions: { eu: { classification: 'personal', shareTo: ['APAC'] } } });
    // Who dials whom (the lower id dials the higher one's endpoint): apac -> eu, apac -> us,
    // eu -> us. Proxies in front of eu and us therefore carry all three links; apac's own
    // endpoint is never dialled.
    const used = new Set(fed.regions.flatMap((r) => [r.peerPort, r.apiPort]));
    const proxyOf: Record<string, Proxy> = {};
    for (const id of ['eu', 'us']) proxyOf[id] = await startProxy(byId(fed, id).peerPort, used);
    const cfg = JSON.parse(readFileSync(fed.config, 'utf8')) as { regions: { id: string; endpoint: string }[] };
    for (const r of cfg.regions) if (proxyOf[r.id]) r.endpoint = `ws://127.0.0.1:${proxyOf[r.id]!.port}`;
    await writeFile(fed.config, JSON.stringify(cfg, null, 2) + '\n');
    // listeners first, so that no dial meets a closed port (every recorded connection is a link)
    for (const id of ['us', 'eu', 'apac']) {
      const listen = id === 'apac' ? [] : ['--peer-listen', `127.0.0.1:${byId(fed, id).peerPort}`];
      procs.push(await startNodeProcess(fed, id, {}, [], listen));
    }
    await waitConnected(fed);

    const pattern = [1234.5678, -8765.4321, 4242.4242];
    const euUpdate = Float32Array.from({ length: L }, (_, i) => pattern[i % 3]!);
    const other = (r: number) => Float32Array.from({ length: L }, (_, i) => Math.cos(i * 0.37 + r) * 3);
    const updates: Record<string, Float32Array> = { apac: other(1), eu: euUpdate, us: other(2) };
    const res = await Promise.all(fed.regions.map((r) => aggregateDetailed({ node: r.api, token: r.token, round: 'wire-1', update: updates[r.id]!.slice(), weight: 1, expect: 1, reduce: 'sum' })));
    for (const r of res) {
      expect(r.contributors).toEqual(['apac', 'eu', 'us']);
      for (const i of [0, 1, 2, L - 1]) expect(Math.abs(r.vector[i]! - (updates.apac![i]! + updates.eu![i]! + updates.us![i]!))).toBeLessThan(1e-2);
    }
    // wait for the seals (the last peer messages of the round), then read eu's own byte counters
    await until('every node has closed round wire-1', async () => {
      const st = await Promise.all(fed.regions.map((r) => statusOf(fed, r.id)));
      return st.every((s) => s.roundsInFlight.length === 0);
    });
    // us holds no share from eu, so only apac and eu hold shares of every contributor: R = {apac, eu}
    const decision = (await (await fetch(`${byId(fed, 'apac').api}/transcripts/wire-1`)).text()).split('\n').find((l) => l.includes('"kind":"decision"'))!;
    expect((JSON.parse(decision) as { body: { holders: string[] } }).body.holders).toEqual(['apac', 'eu']);
    const euSent = (await statusOf(fed, 'eu')).bytes.bytesSent;
    await fx.stopAll();
    await Promise.all(Object.values(proxyOf).map((p) => p.close()));

    // ---- decode the capture: per link direction, total wire bytes and the share-sized frames
    const S = 8 * (L + 1); // one share or aggregate-share stream: params + 1 field elements of 8 bytes
    const CHUNK_BYTES = 8 * WIRE_CHUNK_ELEMS; // the data of one share/agg message (a stream is 3 of them)
    // A stream of L + 1 <= 65536 elements (CHUNK_ELEMS) is one `share`/`agg` message, so one
    // channel frame, so one WebSocket frame whose payload is S plus a few dozen bytes (msgpack
    // envelope, channel counter and AES-GCM tag). Every other message is below 2 KiB.
    expect(L + 1).toBeLessThanOrEqual(65_536);
    type Dir = { wire: number; chunks: number; bigPayloads: number[] };
    const dirs: Record<string, Dir> = {};
    const dir = (k: string): Dir => (dirs[k] ??= { wire: 0, chunks: 0, bigPayloads: [] });
    const links: string[] = [];
    for (const [listener, proxy] of Object.entries(proxyOf)) {
      for (const c of proxy.conns) {
        const up = wsFrames(Buffer.concat(c.up));
        const down = wsFrames(Buffer.concat(c.down));
        expect(up.head).toMatch(/^GET \//);
        expect(down.head).toMatch(/^HTTP\/1\.1 101 /);
        // the dialler's first binary message is its handshake hello, which names it in clear
        const hello = up.frames.find((f) => f.opcode === 2)!;
        const dialler = decodeHandshakeMsg(hello.payload, 'hello').from;
        links.push(`${dialler}->${listener}`);
        for (const [k, stream, frames] of [[`${dialler}->${listener}`, c.up, up.frames], [`${listener}->${dialler}`, c.down, down.frames]] as const) {
          const d = dir(k);
          d.wire += stream.reduce((n, b) => n + b.length, 0);
          for (const f of frames) {
            if (f.opcode === 2 && f.payload.length >= CHUNK_BYTES) {
              d.chunks++;
              d.bigPayloads.push(f.payload.length);
            }
          }
        }
      }
    }
    // exactly one connection per link, nothing reconnected during the round
    expect(links.sort()).toEqual(['apac->eu', 'apac->us', 'eu->us']);
    // Expected streams per direction (D = {apac, eu, us} all contribute, R = holders = {apac, eu}):
    //   apac->eu: apac's share for eu + apac's aggregate share (apac in R)      = 2
    //   eu->apac: eu's share for apac (allowed: APAC) + eu's aggregate share    = 2
    //   apac->us: apac's share for us + apac's aggregate share                  = 2
    //   us->apac: us's share for apac (us is not in R: no aggregate share)      = 1
    //   us->eu:   us's share for eu                                             = 1
    //   eu->us:   eu's aggregate share only; eu's share for us is forbidden     = 1
    // (aggregate shares go from each holder in R to every other participant: docs/protocol.md)
    const want: Record<string, number> = { 'apac->eu': 2, 'eu->apac': 2, 'apac->us': 2, 'us->apac': 1, 'us->eu': 1, 'eu->us': 1 };
    expect(Object.fromEntries(Object.entries(dirs).map(([k, d]) => [k, d.chunks / 3]))).toEqual(want);
    // Each such frame is one vector chunk (CHUNK_BYTES) plus its envelope: well under 256 bytes more.
    for (const d of Object.values(dirs)) for (const n of d.bigPayloads) expect(n - CHUNK_BYTES).toBeLessThan(256);
    // Byte volume: k streams plus everything small (HTTP upgrade ~0.3 KiB, handshake < 1 KiB,
    // params/commits/receipts/decision/agg-done/seal a few KiB, WebSocket headers, pings,
    // close). MARGIN = 64 KiB bounds that with room to spare and is still far below one stream
    // (S = 393 216 bytes), so a single extra share stream cannot hide in it.
    const MARGIN = 64 * 1024;
    expect(MARGIN).toBeLessThan(S / 4);
    for (const [k, d] of Object.entries(dirs)) {
      expect(d.wire, k).toBeGreaterThanOrEqual(want[k]! * S);
      expect(d.wire, k).toBeLessThan(want[k]! * S + MARGIN);
    }
    // eu->us vs eu->apac: the allowed direction carries exactly one stream more (eu's share)
    expect(dirs['eu->apac']!.wire - dirs['eu->us']!.wire).toBeGreaterThan(S - MARGIN);
    expect(dirs['eu->apac']!.wire - dirs['eu->us']!.wire).toBeLessThan(S + MARGIN);
    // and the wire agrees with eu's own counter of encrypted frame bytes sent to us: the wire adds
    // only the HTTP upgrade, the handshake and WebSocket framing (a few hundred bytes each way)
    expect(dirs['eu->us']!.wire).toBeGreaterThanOrEqual(euSent.us!);
    expect(dirs['eu->us']!.wire - euSent.us!).toBeLessThan(8 * 1024);

    // ---- the leak test on the raw captured bytes of every connection, both directions
    const f32 = Buffer.from(euUpdate.buffer);
    const needles = updateNeedles(f32, pattern);
    const haystacks: Haystack[] = [];
    for (const [listener, proxy] of Object.entries(proxyOf)) {
      proxy.conns.forEach((c, i) => {
        haystacks.push({ where: `connection ${i} to ${listener}, towards it`, bytes: Buffer.concat(c.up) });
        haystacks.push({ where: `connection ${i} to ${listener}, from it`, bytes: Buffer.concat(c.down) });
      });
    }
    // the nine streams counted above are in there
    expect(haystacks.reduce((n, h) => n + h.bytes.length, 0)).toBeGreaterThanOrEqual(Object.values(want).reduce((a, b) => a + b, 0) * S);
    // the search works: each needle is found where it is, even at an odd offset
    for (const n of needles.slice(0, 3)) expect(Buffer.concat([Buffer.alloc(3), f32.subarray(0, 64)]).includes(n.bytes)).toBe(true);
    const hits = leakHits(haystacks, needles);
    expect(hits).toEqual([]);
  }, 60_000);
});

describe('operator limits in /metrics, between real node processes', () => {
  it('policy.maxRoundsInFlight = 1: a second round is refused to the trainer (POLICY_ROUNDS_IN_FLIGHT, 429), counted in /metrics, and accepted after the first ends', async () => {
    // collectMs long: a region whose trainer has not submitted keeps the round open (in
    // collection) for 10 s, far longer than this test needs; we end it by submitting.
    const fed = await federation(['apac', 'eu', 'us'], 2, { clipL2: 1e4, maxWeight: 10, maxTrainersPerRound: 10, collectMs: 10_000, phaseTimeoutMs: 5000, roundTimeoutMs: 30_000 }, { maxRoundsInFlight: 1 });
    await fx.start(fed);
    await waitConnected(fed);
    const eu = byId(fed, 'eu');
    const upd = (k: number) => Float32Array.from({ length: 16 }, (_, i) => i + k);
    const submit = (id: string, round: string, k: number, o: Partial<AggregateOptions> = {}) =>
      aggregateDetailed({ node: byId(fed, id).api, token: byId(fed, id).token, round, update: upd(k), weight: 1, expect: 1, reduce: 'sum', ...o });

    // round 1: only eu's trainer so far; eu's params open it at apac and us as well
    const firstEu = submit('eu', 'held-open', 1);
    firstEu.catch(() => {}); // awaited below
    await until('round held-open is open at every node', async () => {
      const st = await Promise.all(fed.regions.map((r) => statusOf(fed, r.id)));
      return st.every((s) => s.roundsInFlight.some((x) => x.round === 'held-open'));
    });

    // round 2 at eu: refused at once, with the code and a message naming the policy field
    const refused = await submit('eu', 'second', 2).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AggregateError);
    expect(refused).toMatchObject({ code: 'POLICY_ROUNDS_IN_FLIGHT', status: 429 });
    expect((refused as Error).message).toBe('round second refused: 1 rounds already in flight, policy.maxRoundsInFlight is 1: retry when one ends');
    // at apac too: a round opened by a peer's params takes the slot as well
    const refusedApac = await submit('apac', 'second', 3).catch((e: unknown) => e);
    expect(refusedApac).toMatchObject({ code: 'POLICY_ROUNDS_IN_FLIGHT', status: 429 });
    expect((refusedApac as Error).message).toMatch(/^round second refused: .*policy\.maxRoundsInFlight is 1/);

    // /metrics needs the token; with it, the refusal is counted (once per refused trainer)
    expect((await fetch(`${eu.api}/metrics`)).status).toBe(401);
    const m1 = await metricsOf(fed, 'eu');
    expect(metric(m1, 'mpc_node_rounds_total', { outcome: 'refused' })).toBe(1);
    expect(metric(m1, 'mpc_node_policy_violations_total', { kind: 'max-rounds-in-flight' })).toBe(1);
    expect(metric(m1, 'mpc_node_rounds_in_flight')).toBe(1);
    expect(metric(m1, 'mpc_node_rounds_total', { outcome: 'done' })).toBe(0);
    expect(metric(await metricsOf(fed, 'apac'), 'mpc_node_rounds_total', { outcome: 'refused' })).toBe(1);
    expect(metric(await metricsOf(fed, 'us'), 'mpc_node_rounds_total', { outcome: 'refused' })).toBe(0);
    expect((await statusOf(fed, 'eu')).roundsRefused).toBe(1);
    // the round never opened: no transcript; the violation is in eu's log
    expect((await fetch(`${eu.api}/transcripts/second`)).status).toBe(404);
    expect(procs.find((p) => p.region === 'eu')!.logs.find((l) => l.event === 'policy-violation')).toMatchObject({ rule: 'max-rounds-in-flight', subject: 'second', outcome: 'refused', round: 'second' });

    // end round 1: the other two trainers arrive, it completes
    const first = await Promise.all([firstEu, submit('apac', 'held-open', 4), submit('us', 'held-open', 5)]);
    for (const r of first) expect(r.contributors).toEqual(['apac', 'eu', 'us']);
    // the round leaves the in-flight set once its seals are in
    await until('no round in flight at any node', async () => {
      const st = await Promise.all(fed.regions.map((r) => statusOf(fed, r.id)));
      return st.every((s) => s.roundsInFlight.length === 0);
    });
    // now the refused round id is accepted (it never opened, so it is not "already ended")
    const second = await Promise.all(fed.regions.map((r, i) => submit(r.id, 'second', 10 + i)));
    for (const r of second) {
      expect(r.contributors).toEqual(['apac', 'eu', 'us']);
      expect(Array.from(r.vector.subarray(0, 2))).toEqual([33, 36]); // element i: (i + 10) + (i + 11) + (i + 12)
    }
    const m2 = await metricsOf(fed, 'eu');
    expect(metric(m2, 'mpc_node_rounds_total', { outcome: 'done' })).toBe(2);
    expect(metric(m2, 'mpc_node_rounds_total', { outcome: 'refused' })).toBe(1);
    expect(metric(m2, 'mpc_node_policy_violations_total', { kind: 'max-rounds-in-flight' })).toBe(1);
  }, 60_000);

  it('a peer claiming an unknown region is refused and counted in mpc_node_refused_connections_total', async () => {
    const fed = await federation(['apac', 'eu', 'us'], 2, { clipL2: 1e4, maxWeight: 10, collectMs: 300, phaseTimeoutMs: 5000, roundTimeoutMs: 30_000 });
    await fx.start(fed);
    await waitConnected(fed);
    const SERIES = 'mpc_node_refused_connections_total';
    for (const r of fed.regions) expect(metric(await metricsOf(fed, r.id), SERIES, { code: 'TRANSPORT_UNKNOWN_PEER' }) ?? 0).toBe(0);
    // 'aaa' sorts lowest, so it dials every real node; no federation file lists it
    const cfg = JSON.parse(readFileSync(fed.config, 'utf8')) as { regions: { id: string; publicKey: string }[] };
    const impostor = new PeerNetwork({
      federation: 'local-demo',
      identity: generateIdentity('aaa'),
      peers: new Map(fed.regions.map((r) => [r.id, { publicKey: Uint8Array.from(Buffer.from(cfg.regions.find((x) => x.id === r.id)!.publicKey, 'hex')), endpoint: `ws://127.0.0.1:${r.peerPort}` }])),
      listen: { host: '127.0.0.1', port: 0 },
    });
    nets.push(impostor);
    await impostor.start();
    await until('every node counted a refused connection', async () => {
      const ms = await Promise.all(fed.regions.map((r) => metricsOf(fed, r.id)));
      return ms.every((m) => (metric(m, SERIES, { code: 'TRANSPORT_UNKNOWN_PEER' }) ?? 0) >= 1);
    });
    await impostor.close(); // no more redials: the counts stop moving
    expect(impostor.connectedPeers()).toEqual([]);
    for (const r of fed.regions) {
      const m = await metricsOf(fed, r.id);
      const n = metric(m, SERIES, { code: 'TRANSPORT_UNKNOWN_PEER' })!;
      expect(n).toBeGreaterThanOrEqual(1);
      // the series and /v1/status count the same refusals (every refusal here is this impostor)
      expect((await statusOf(fed, r.id)).refusedConnections).toBe(n);
      expect(metric(m, SERIES, { region: r.id, code: 'TRANSPORT_UNKNOWN_PEER' })).toBe(n);
      expect(procs.find((p) => p.region === r.id)!.logs.filter((l) => l.event === 'refused').map((l) => l.code)).toContain('TRANSPORT_UNKNOWN_PEER');
    }
    // the federation still works
    await waitConnected(fed);
    const ok = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'after-impostor', update: Float32Array.of(i, 1), expect: 1 })));
    expect(ok).toHaveLength(3);
  }, 30_000);
});
