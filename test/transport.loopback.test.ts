// Loopback tests of PeerNetwork (src/transport/peer-network.ts) with real WebSockets.
// Everything listens on and dials 127.0.0.1 only. No timing assertions: only "eventually".
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { TransportError } from '../src/errors.js';
import { startInitiator } from '../src/transport/handshake.js';
import { generateIdentity, type Identity } from '../src/transport/identity.js';
import { PeerNetwork, type PeerInfo, type PeerNetworkOptions, type RefusedInfo } from '../src/transport/peer-network.js';

// ----------------------------------------------------------------------------------------------
// Helpers

const HOST = '127.0.0.1';
const FED = 'loopback-test';

interface TestNode {
  region: string;
  identity: Identity;
  net: PeerNetwork;
  port: number;
  received: Array<{ from: string; msg: Uint8Array }>;
  refused: RefusedInfo[];
  logs: Array<Record<string, unknown>>;
  up: string[];
  down: string[];
}

/** Polls `pred` every 10 ms until true; throws with `what` after `timeoutMs`. */
async function waitFor(pred: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);

type Extra = Partial<Omit<PeerNetworkOptions, 'federation' | 'identity' | 'peers' | 'listen'>>;

/**
 * Starts one node. `endpoints` maps region -> endpoint for the peers it dials; peers it only
 * accepts get a placeholder endpoint (never dialled).
 */
async function startNode(
  identity: Identity,
  directory: ReadonlyMap<string, Identity | { publicKey: Uint8Array }>,
  endpoints: ReadonlyMap<string, string>,
  port = 0,
  extra: Extra = {},
): Promise<TestNode> {
  const peers = new Map<string, PeerInfo>();
  for (const [r, id] of directory) {
    if (r === identity.region) continue;
    peers.set(r, { publicKey: id.publicKey, endpoint: endpoints.get(r) ?? `ws://${HOST}:9` });
  }
  const node: Partial<TestNode> & { received: TestNode['received'] } = {
    region: identity.region,
    identity,
    received: [],
    refused: [],
    logs: [],
    up: [],
    down: [],
  };
  const net = new PeerNetwork({
    federation: FED,
    identity,
    peers,
    listen: { host: HOST, port },
    handshakeTimeoutMs: 2000,
    reconnect: { initialDelayMs: 20, maxDelayMs: 300 },
    log: (e) => node.logs!.push(e),
    onDecrypted: (from, msg) => node.received.push({ from, msg }),
    ...extra,
  });
  net.on('refused', (info) => node.refused!.push(info));
  net.on('peer-up', (p) => node.up!.push(p));
  net.on('peer-down', (p) => node.down!.push(p));
  node.net = net;
  node.port = (await net.start()).port;
  return node as TestNode;
}

/**
 * Starts a full mesh. Nodes start in descending region order so that every dialler (lower id)
 * already knows the port of every node it dials.
 */
async function startMesh(regions: string[], extra: Extra = {}): Promise<{ nodes: Map<string, TestNode>; ids: Map<string, Identity> }> {
  const ids = new Map(regions.map((r) => [r, generateIdentity(r)]));
  const nodes = new Map<string, TestNode>();
  const endpoints = new Map<string, string>();
  for (const r of [...regions].sort().reverse()) {
    const n = await startNode(ids.get(r)!, ids, endpoints, 0, extra);
    nodes.set(r, n);
    endpoints.set(r, `ws://${HOST}:${n.port}`);
  }
  return { nodes, ids };
}

async function waitMeshUp(nodes: Iterable<TestNode>, count: number): Promise<void> {
  for (const n of nodes) await waitFor(() => n.net.connectedPeers().length === count, `${n.region} to reach ${count} peers`);
}

/** Opens a raw ws client; resolves when open. Collects what it receives and its close code. */
async function rawClient(url: string): Promise<{ ws: WebSocket; got: Buffer[]; closed: Promise<number> }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  const got: Buffer[] = [];
  ws.on('message', (d) => got.push(d as Buffer));
  ws.on('error', () => undefined);
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, got, closed };
}

/**
 * A recording WebSocket relay: each inbound connection opens one upstream connection and both
 * directions are forwarded verbatim. Lets tests capture and inject frames on a real link.
 */
class RecordingProxy {
  readonly server: WebSocketServer;
  port = 0;
  /** Messages from the dialler (downstream) to the upstream node, per connection. */
  readonly captured: Buffer[][] = [];
  frozen = false;
  #upstream: string;
  #pairs: Array<{ down: WebSocket; up: WebSocket }> = [];

  constructor(upstream: string) {
    this.#upstream = upstream;
    // autoPong off: when frozen, the proxy looks like a dead peer to heartbeats.
    this.server = new WebSocketServer({ host: HOST, port: 0, perMessageDeflate: false, autoPong: false });
    this.server.on('connection', (down) => {
      const up = new WebSocket(this.#upstream, { perMessageDeflate: false });
      const rec: Buffer[] = [];
      this.captured.push(rec);
      const pair = { down, up };
      this.#pairs.push(pair);
      const pendingUp: Buffer[] = [];
      down.on('message', (d: Buffer) => {
        if (this.frozen) return;
        rec.push(Buffer.from(d));
        if (up.readyState === WebSocket.OPEN) up.send(d);
        else pendingUp.push(d);
      });
      down.on('ping', (d) => {
        if (!this.frozen) down.pong(d);
      });
      up.on('open', () => {
        for (const d of pendingUp.splice(0)) up.send(d);
      });
      up.on('message', (d: Buffer) => {
        if (!this.frozen && down.readyState === WebSocket.OPEN) down.send(d);
      });
      const closeBoth = (code: number): void => {
        const c = code === 1005 || code === 1006 ? 1000 : code;
        if (down.readyState === WebSocket.OPEN) down.close(c);
        if (up.readyState === WebSocket.OPEN) up.close(c);
        if (up.readyState === WebSocket.CONNECTING) up.terminate();
      };
      down.on('close', closeBoth);
      up.on('close', closeBoth);
      down.on('error', () => undefined);
      up.on('error', () => undefined);
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((r) => this.server.once('listening', () => r()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : 0;
    return this.port;
  }

  /** Sends raw bytes upstream on the most recent connection, as if the dialler had sent them. */
  inject(bytes: Buffer): void {
    const p = this.#pairs[this.#pairs.length - 1];
    if (p === undefined) throw new Error('no proxied connection');
    p.up.send(bytes);
  }

  async close(): Promise<void> {
    for (const { down, up } of this.#pairs) {
      down.terminate();
      up.terminate();
    }
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * A TCP relay in front of a node whose reading side (dialler to node) can be stopped, as a hung
 * peer's kernel stops taking bytes once its buffers are full, or paced: `pace(ms)` lets one read
 * through every `ms`, a slow link that still makes progress.
 */
type RelayMode = { kind: 'flow' } | { kind: 'stopped' } | { kind: 'paced'; ms: number };

class TcpRelay {
  readonly #server: Server;
  readonly #pairs: Array<{ down: Socket; up: Socket }> = [];
  #mode: RelayMode = { kind: 'flow' };
  #timer: NodeJS.Timeout | undefined;
  port = 0;

  constructor(upstreamPort: number) {
    this.#server = createServer((down) => {
      const up = createConnection({ host: HOST, port: upstreamPort });
      this.#pairs.push({ down, up });
      down.on('data', (d) => {
        up.write(d);
        if (this.#mode.kind !== 'flow') down.pause(); // one read at a time while paced
      });
      up.pipe(down);
      const end = (): void => {
        down.destroy();
        up.destroy();
      };
      for (const s of [down, up]) {
        s.on('error', () => undefined);
        s.on('close', end);
      }
      if (this.#mode.kind === 'stopped') down.pause();
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((r) => this.#server.listen(0, HOST, () => r()));
    const a = this.#server.address();
    this.port = typeof a === 'object' && a !== null ? a.port : 0;
    return this.port;
  }

  #set(mode: RelayMode): void {
    this.#mode = mode;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const { down } of this.#pairs) {
      if (mode.kind === 'flow') down.resume();
      else down.pause();
    }
    if (mode.kind === 'paced') {
      this.#timer = setInterval(() => {
        for (const { down } of this.#pairs) down.resume();
      }, mode.ms);
    }
  }

  /** Stops reading from the dialler (a hung peer). */
  stop(): void {
    this.#set({ kind: 'stopped' });
  }

  /** Reads once every `ms` (a slow link that keeps moving). */
  pace(ms: number): void {
    this.#set({ kind: 'paced', ms });
  }

  flow(): void {
    this.#set({ kind: 'flow' });
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    for (const { down, up } of this.#pairs) {
      down.destroy();
      up.destroy();
    }
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}

/** "a" dials "c" through a TcpRelay in front of c's port; both nodes and the relay tracked. */
async function pairViaRelay(extra: Extra = {}): Promise<{ a: TestNode; c: TestNode; relay: TcpRelay }> {
  const ids = new Map(['a', 'c'].map((r) => [r, generateIdentity(r)]));
  const c = track(await startNode(ids.get('c')!, ids, new Map(), 0, extra));
  const relay = new TcpRelay(c.port);
  cleanups.push(() => relay.close());
  const relayPort = await relay.start();
  const a = track(await startNode(ids.get('a')!, ids, new Map([['c', `ws://${HOST}:${relayPort}`]]), 0, extra));
  return { a, c, relay };
}

// Everything a test opens is registered here and closed after it, pass or fail.
const cleanups: Array<() => Promise<void> | void> = [];
const track = <T extends { net: PeerNetwork }>(n: T): T => {
  cleanups.push(() => n.net.close());
  return n;
};
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function mesh3(extra: Extra = {}): Promise<{ a: TestNode; b: TestNode; c: TestNode; ids: Map<string, Identity> }> {
  const { nodes, ids } = await startMesh(['a', 'b', 'c'], extra);
  for (const n of nodes.values()) track(n);
  await waitMeshUp(nodes.values(), 2);
  return { a: nodes.get('a')!, b: nodes.get('b')!, c: nodes.get('c')!, ids };
}

/** "a" dials "c" through a RecordingProxy in front of c's port; both nodes and the proxy tracked. */
async function pairViaProxy(extra: Extra = {}): Promise<{ a: TestNode; c: TestNode; ids: Map<string, Identity>; proxy: RecordingProxy }> {
  const ids = new Map(['a', 'c'].map((r) => [r, generateIdentity(r)]));
  const c = track(await startNode(ids.get('c')!, ids, new Map(), 0, extra));
  const proxy = new RecordingProxy(`ws://${HOST}:${c.port}`);
  cleanups.push(() => proxy.close());
  const proxyPort = await proxy.start();
  const a = track(await startNode(ids.get('a')!, ids, new Map([['c', `ws://${HOST}:${proxyPort}`]]), 0, extra));
  return { a, c, ids, proxy };
}

const msg = (s: string): Uint8Array => new TextEncoder().encode(s);
const text = (b: Uint8Array): string => new TextDecoder().decode(b);

async function expectTransportError(p: Promise<unknown>, code: string): Promise<void> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TransportError);
  expect((e as TransportError).code).toBe(code);
}

describe('PeerNetwork on 127.0.0.1', () => {
  it('connects a three-region mesh and carries messages both ways on every link', async () => {
    const { a, b, c, ids } = await mesh3();
    expect(a.net.connectedPeers()).toEqual(['b', 'c']);
    expect(b.net.connectedPeers()).toEqual(['a', 'c']);
    expect(c.net.connectedPeers()).toEqual(['a', 'b']);
    const nodes = [a, b, c];
    for (const from of nodes) {
      for (const to of nodes) {
        if (from !== to) await from.net.send(to.region, msg(`${from.region}->${to.region}`));
      }
    }
    for (const n of nodes) await waitFor(() => n.received.length === 2, `${n.region} to receive 2 messages`);
    for (const n of nodes) {
      const got = n.received.map((r) => `${r.from}:${text(r.msg)}`).sort();
      const others = nodes.filter((o) => o !== n).map((o) => `${o.region}:${o.region}->${n.region}`);
      expect(got).toEqual(others.sort());
    }
    // The public 'message' event carries the same as the test hook.
    const viaEvent: string[] = [];
    c.net.on('message', (from, m) => viaEvent.push(`${from}:${text(m)}`));
    await a.net.send('c', msg('hello c'));
    await waitFor(() => viaEvent.length === 1, 'message event');
    expect(viaEvent).toEqual(['a:hello c']);
    // Order is preserved on a link.
    for (let i = 0; i < 50; i++) await b.net.send('a', msg(`n${i}`));
    await waitFor(() => a.received.length === 52, 'a to receive 50 more');
    expect(a.received.filter((r) => r.from === 'b').slice(1).map((r) => text(r.msg))).toEqual(Array.from({ length: 50 }, (_, i) => `n${i}`));
    const s = a.net.stats();
    expect(s.bytesSent['b']).toBeGreaterThan(0);
    expect(s.bytesReceived['b']).toBeGreaterThan(50 * 24);
    expect(s.refused).toBe(0);
    // Misuse errors.
    await expectTransportError(a.net.send('zz', msg('x')), 'TRANSPORT_UNKNOWN_PEER');
    const clash = new PeerNetwork({ federation: FED, identity: generateIdentity('d'), peers: new Map(), listen: { host: HOST, port: c.port } });
    await expect(clash.start()).rejects.toMatchObject({ code: 'CONFIG_ADDRESS_IN_USE', message: expect.stringMatching(/cannot listen for peers on 127\.0\.0\.1:\d+: the address is in use/) });
    await clash.close();
    // Logs never contain secret keys or message contents.
    const allLogs = JSON.stringify(nodes.flatMap((n) => n.logs));
    for (const id of ids.values()) expect(allLogs).not.toContain(bytesToHex(id.secretKey));
    expect(allLogs).not.toContain('hello c');
    expect(nodes.flatMap((n) => n.logs).some((e) => e['event'] === 'peer-up')).toBe(true);
  });

  it('delivers a 4 MiB message intact and refuses one above maxMessageBytes', async () => {
    const { a, c } = await mesh3({ maxMessageBytes: 5 * 1024 * 1024 });
    const big = new Uint8Array(4 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big.set(sha256(new Uint8Array([i & 0xff, i >>> 8, i >>> 16])), i);
    const digest = bytesToHex(sha256(big));
    await a.net.send('c', big);
    await c.net.send('a', big);
    await waitFor(() => c.received.length === 1 && a.received.length === 1, 'the 4 MiB messages', 10_000);
    expect(c.received[0]!.msg.length).toBe(big.length);
    expect(bytesToHex(sha256(c.received[0]!.msg))).toBe(digest);
    expect(bytesToHex(sha256(a.received[0]!.msg))).toBe(digest);
    await expectTransportError(a.net.send('c', new Uint8Array(5 * 1024 * 1024 + 1)), 'TRANSPORT_MESSAGE_TOO_LARGE');
    expect(a.net.isConnected('c')).toBe(true);
  });

  it('with reuseBuffers, many messages of mixed sizes sent back to back arrive intact and in order', async () => {
    const got: Uint8Array[] = [];
    const views: Uint8Array[] = [];
    const copyOut = (_from: string, m: Uint8Array): void => {
      views.push(m);
      got.push(m.slice()); // the payload is a view of the link's receive buffer: copy to keep
    };
    const { a, c } = await mesh3({ reuseBuffers: true, onDecrypted: copyOut });
    const sizes = [1, 524_288 + 40, 3, 700_000, 524_288 + 40, 64, 1_000_000, 524_288 + 40, 17, 524_288 + 40];
    const make = (i: number, n: number): Uint8Array => {
      const m = new Uint8Array(n);
      for (let j = 0; j < n; j += 32) m.set(sha256(new Uint8Array([i, j & 0xff, (j >>> 8) & 0xff, j >>> 16])).subarray(0, Math.min(32, n - j)), j);
      return m;
    };
    const msgs = Array.from({ length: 30 }, (_, i) => make(i, sizes[i % sizes.length]!));
    // not awaited one by one: frames go back to the pool only once ws has written them
    await Promise.all(msgs.map((m) => a.net.send('c', m)));
    await waitFor(() => got.length === msgs.length, 'all messages', 20_000);
    for (const [i, m] of msgs.entries()) expect(bytesToHex(sha256(got[i]!)), `message ${i}`).toBe(bytesToHex(sha256(m)));
    // and the receive buffer is indeed one buffer, reused
    expect(views[3]!.buffer).toBe(views[4]!.buffer);
  }, 30_000); // sha256 of ~12 MB in JavaScript: slow on a loaded machine

  it('rejects send to a peer that is down with TRANSPORT_CLOSED', async () => {
    const { a, c } = await mesh3();
    await c.net.close();
    await waitFor(() => !a.net.isConnected('c'), 'a to see c down');
    expect(a.down).toContain('c');
    await expectTransportError(a.net.send('c', msg('x')), 'TRANSPORT_CLOSED');
    await a.net.close();
    await expectTransportError(a.net.send('b', msg('x')), 'TRANSPORT_CLOSED');
  });

  it('refuses an impostor with an unlisted key while the real links keep working', async () => {
    const { a, b, c, ids } = await mesh3();
    // Impostor claims region "a" and announces a's real public key, but holds another secret key.
    const fake = { ...ids.get('a')!, secretKey: generateIdentity('a').secretKey };
    const imp = track(await startNode(fake, ids, new Map([['c', `ws://${HOST}:${c.port}`]])));
    await waitFor(() => c.refused.some((r) => r.code === 'TRANSPORT_BAD_SIGNATURE'), 'c to refuse the impostor');
    const r = c.refused.find((x) => x.code === 'TRANSPORT_BAD_SIGNATURE')!;
    expect(r.peer).toBe('a');
    expect(r.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(r.reason).toMatch(/finish signature from "a" does not verify/);
    expect(c.logs.some((e) => e['event'] === 'refused' && e['code'] === 'TRANSPORT_BAD_SIGNATURE')).toBe(true);
    // A region absent from the directory entirely (its id sorts before c's, so it is the one that dials).
    const mallory = generateIdentity('aa-mallory');
    const dir = new Map<string, { publicKey: Uint8Array }>([['c', ids.get('c')!]]);
    track(await startNode(mallory, dir, new Map([['c', `ws://${HOST}:${c.port}`]])));
    await waitFor(() => c.refused.some((x) => x.code === 'TRANSPORT_UNKNOWN_PEER'), 'c to refuse an unlisted region');
    expect(c.refused.find((x) => x.code === 'TRANSPORT_UNKNOWN_PEER')!.peer).toBe('aa-mallory');
    // The impostor never took over a's link, and everything still flows.
    expect(imp.net.isConnected('c')).toBe(false);
    expect(imp.up).toEqual([]); // key confirmation: the impostor never sees a link come up
    expect(c.net.connectedPeers()).toEqual(['a', 'b']);
    expect(c.up.filter((p) => p === 'a')).toHaveLength(1);
    await a.net.send('c', msg('still here'));
    await b.net.send('c', msg('me too'));
    await c.net.send('a', msg('ack'));
    await waitFor(() => c.received.length === 2 && a.received.length === 1, 'traffic after the impostor');
    expect(c.received.map((x) => `${x.from}:${text(x.msg)}`).sort()).toEqual(['a:still here', 'b:me too']);
    expect(c.net.stats().refused).toBeGreaterThanOrEqual(2);
  });

  it('refuses raw clients sending garbage, text, a wrong-direction hello, or nothing at all', async () => {
    const { a, b, c, ids } = await mesh3({ handshakeTimeoutMs: 400 });
    const url = `ws://${HOST}:${c.port}`;
    const g = await rawClient(url);
    g.ws.send(Buffer.from([0xc1, 0xde, 0xad, 0xbe, 0xef]));
    expect(await g.closed).toBe(1008);
    await waitFor(() => c.refused.some((r) => r.code === 'TRANSPORT_HANDSHAKE_FAILED'), 'garbage refusal');
    const t = await rawClient(url);
    t.ws.send('hello in text');
    expect(await t.closed).toBe(1008);
    // A valid, correctly signed-to-be hello, but from a region that must accept (c > a): a refuses.
    const h = await rawClient(`ws://${HOST}:${a.port}`);
    const { hello } = startInitiator(
      { federation: FED, identity: ids.get('c')!, directory: new Map([['a', ids.get('a')!.publicKey]]), randomBytes: (n) => crypto.getRandomValues(new Uint8Array(n)) },
      'a',
    );
    h.ws.send(hello);
    expect(await h.closed).toBe(1008);
    expect(a.refused.some((r) => /sorts after "a"/.test(r.reason))).toBe(true);
    // Silent client: handshake timeout.
    const s = await rawClient(url);
    expect(await s.closed).toBe(1008);
    await waitFor(() => c.refused.some((r) => r.code === 'TRANSPORT_PEER_TIMEOUT'), 'timeout refusal');
    // The mesh is unaffected.
    expect(c.net.connectedPeers()).toEqual(['a', 'b']);
    await b.net.send('c', msg('ok'));
    await waitFor(() => c.received.length === 1, 'traffic after the garbage');
  });

  it('refuses a replayed handshake and a replayed data frame; the dialler reconnects with new keys', async () => {
    const { a, c, proxy } = await pairViaProxy();
    await waitFor(() => a.net.isConnected('c') && c.net.isConnected('a'), 'a-c link via the proxy');
    await a.net.send('c', msg('one'));
    await waitFor(() => c.received.length === 1, 'first message');
    const conn0 = proxy.captured[0]!;
    // conn0 = [hello, finish, data frame 0]
    expect(conn0.length).toBe(3);
    // 1. Replay the captured handshake from a fresh raw client: c answers with fresh eph/nonce, so
    //    the old finish signature cannot verify.
    const r = await rawClient(`ws://${HOST}:${c.port}`);
    r.ws.send(conn0[0]!);
    await waitFor(() => r.got.length === 1, 'hello-ack to the replayer');
    r.ws.send(conn0[1]!);
    expect(await r.closed).toBe(1008);
    await waitFor(() => c.refused.some((x) => x.code === 'TRANSPORT_BAD_SIGNATURE'), 'replayed finish refused');
    expect(c.net.isConnected('a')).toBe(true); // the real link survived
    // 2. Replay the captured data frame into the live link.
    const upsBefore = c.up.length;
    proxy.inject(conn0[2]!);
    await waitFor(() => c.refused.some((x) => x.code === 'TRANSPORT_DECRYPT_FAILED'), 'replayed frame refused');
    expect(c.refused.find((x) => x.code === 'TRANSPORT_DECRYPT_FAILED')!.reason).toMatch(/replayed frame: counter 0/);
    expect(c.received.length).toBe(1); // the replay was not delivered
    // 3. The link was closed with 1008 and the dialler reconnected through a new handshake.
    await waitFor(() => a.down.includes('c'), 'a to see the link drop');
    await waitFor(() => c.up.length > upsBefore && a.net.isConnected('c') && c.net.isConnected('a'), 'reconnection');
    expect(proxy.captured.length).toBeGreaterThanOrEqual(2); // the raw replayer bypassed the proxy
    const hello2 = proxy.captured[proxy.captured.length - 1]![0]!;
    expect(hello2.equals(conn0[0]!)).toBe(false); // fresh ephemeral and nonce
    await a.net.send('c', msg('two'));
    await waitFor(() => c.received.length === 2, 'message on the new link');
    expect(text(c.received[1]!.msg)).toBe('two');
    // 4. A forged frame (flipped bit) is refused the same way.
    const cur = proxy.captured[proxy.captured.length - 1]!;
    const forged = Buffer.from(cur[cur.length - 1]!);
    forged[0] = 0; // keep a plausible counter; flip a ciphertext bit
    forged.writeBigUInt64BE(1n, 0);
    forged[12]! ^= 1;
    proxy.inject(forged);
    await waitFor(() => c.refused.some((x) => /authentication failed/.test(x.reason)), 'forged frame refused');
    await waitFor(() => a.net.isConnected('c') && c.net.isConnected('a'), 'reconnection after forgery', 5000);
  });

  it('terminates a link whose peer stops answering heartbeats, then reconnects', async () => {
    const { a, c, proxy } = await pairViaProxy({ heartbeatIntervalMs: 150 });
    await waitFor(() => a.net.isConnected('c'), 'link up');
    proxy.frozen = true;
    await waitFor(() => a.logs.some((e) => e['event'] === 'heartbeat-timeout'), 'a to notice the silent peer');
    expect(a.down).toContain('c');
    proxy.frozen = false;
    await waitFor(() => a.net.isConnected('c') && c.net.isConnected('a'), 'reconnect after unfreeze');
    await a.net.send('c', msg('alive'));
    await waitFor(() => c.received.some((x) => text(x.msg) === 'alive'), 'message after heartbeat recovery');
  });

  it('cuts a link whose peer takes no bytes for drainTimeoutMs: the waiting send fails, peer-down, counted; it reconnects once the peer reads again', async () => {
    // heartbeats far apart: only the drain timeout can notice the stall
    const { a, c, relay } = await pairViaRelay({ heartbeatIntervalMs: 600_000, drainTimeoutMs: 300 });
    await waitFor(() => a.net.isConnected('c') && c.net.isConnected('a'), 'link up');
    relay.stop();
    const chunk = new Uint8Array(256 * 1024);
    // more than every buffer on the way (ws high-water mark, both kernels) can hold
    let failed: unknown;
    for (let i = 0; i < 400 && failed === undefined; i++) {
      await a.net.send('c', chunk).catch((e: unknown) => (failed = e));
    }
    expect(failed).toBeInstanceOf(TransportError);
    expect((failed as TransportError).code).toBe('TRANSPORT_CLOSED');
    const ev = a.logs.find((e) => e['event'] === 'drain-timeout');
    expect(ev).toMatchObject({ peer: 'c' });
    expect(ev!['queuedBytes']).toBeGreaterThan(0);
    // reported stalled (stallMs = drainTimeoutMs / 20) before it was cut
    const stalledAt = a.logs.findIndex((e) => e['event'] === 'peer-stalled' && e['peer'] === 'c');
    expect(stalledAt).toBeGreaterThanOrEqual(0);
    expect(stalledAt).toBeLessThan(a.logs.indexOf(ev!));
    expect(a.logs.find((e) => e['event'] === 'peer-down')).toMatchObject({ peer: 'c', reason: 'drain timeout' });
    expect(a.down).toContain('c');
    expect(a.net.stats().drainTimeouts).toEqual({ c: 1 });
    relay.flow();
    await waitFor(() => a.net.isConnected('c') && c.net.isConnected('a'), 'reconnect once the peer reads again');
    await a.net.send('c', msg('after'));
    await waitFor(() => c.received.some((x) => text(x.msg) === 'after'), 'message after the cut');
  });

  it('reports a link whose peer takes no bytes for stallMs stalled, without cutting it, and flowing once the peer reads again', async () => {
    const { a, c, relay } = await pairViaRelay({ heartbeatIntervalMs: 600_000, drainTimeoutMs: 600_000, stallMs: 100 });
    await waitFor(() => a.net.isConnected('c') && c.net.isConnected('a'), 'link up');
    const events: string[] = [];
    a.net.on('peer-stalled', (p) => events.push(`stalled ${p}`));
    a.net.on('peer-flowing', (p) => events.push(`flowing ${p}`));
    relay.stop();
    const chunk = new Uint8Array(256 * 1024);
    const n = 64; // 16 MiB: more than every buffer on the way holds
    const sends = Array.from({ length: n }, () => a.net.send('c', chunk));
    await waitFor(() => a.net.isStalled('c'), 'a to report its link to c stalled');
    expect(events).toEqual(['stalled c']);
    expect(a.logs.find((e) => e['event'] === 'peer-stalled')).toMatchObject({ peer: 'c', queuedBytes: expect.any(Number) });
    expect(a.net.isConnected('c')).toBe(true);
    relay.flow();
    await Promise.all(sends);
    await waitFor(() => c.received.length === n, 'every message once the peer reads again');
    expect(events[1]).toBe('flowing c');
    expect(a.net.isStalled('c')).toBe(false);
    expect(a.down).toEqual([]);
    expect(a.net.stats().drainTimeouts).toEqual({});
  });

  it('never cuts a slow link that keeps taking bytes, however long the transfer', async () => {
    // the relay lets one read (<= 64 KiB) through every 20 ms: 32 MiB take 10 s or more, four
    // times the drain timeout (2.5 s here, half the default), while the writes complete in
    // kernel-sized steps, far apart but well within it
    const { a, c, relay } = await pairViaRelay({ heartbeatIntervalMs: 600_000, drainTimeoutMs: 2500 });
    await waitFor(() => a.net.isConnected('c') && c.net.isConnected('a'), 'link up');
    relay.pace(20);
    const chunk = new Uint8Array(128 * 1024);
    const n = 256;
    for (let i = 0; i < n; i++) await a.net.send('c', chunk);
    await waitFor(() => c.received.length === n, 'every message through the slow link', 120_000);
    expect(a.logs.some((e) => e['event'] === 'drain-timeout')).toBe(false);
    expect(a.down).toEqual([]);
    expect(a.net.stats().drainTimeouts).toEqual({});
  }, 150_000);

  it('reconnects to a killed peer after it restarts (acceptor and dialler)', async () => {
    const { a, b, c, ids } = await mesh3();
    // Kill the acceptor c, restart it on the same port with the same key.
    await c.net.close();
    await waitFor(() => !a.net.isConnected('c') && !b.net.isConnected('c'), 'a and b to see c down');
    expect(a.down).toContain('c');
    const c2 = track(await startNode(ids.get('c')!, ids, new Map(), c.port));
    await waitFor(() => a.net.isConnected('c') && b.net.isConnected('c') && c2.net.connectedPeers().length === 2, 'a and b to reconnect to c');
    await a.net.send('c', msg('welcome back'));
    await c2.net.send('b', msg('back'));
    await waitFor(() => c2.received.length === 1 && b.received.length === 1, 'traffic to the restarted c');
    // Kill the dialler a, restart it on the same port: it dials b and c again.
    await a.net.close();
    await waitFor(() => !b.net.isConnected('a') && !c2.net.isConnected('a'), 'b and c to see a down');
    const endpoints = new Map([
      ['b', `ws://${HOST}:${b.port}`],
      ['c', `ws://${HOST}:${c.port}`],
    ]);
    const a2 = track(await startNode(ids.get('a')!, ids, endpoints, a.port));
    await waitFor(() => a2.net.connectedPeers().length === 2 && b.net.isConnected('a') && c2.net.isConnected('a'), 'a to redial b and c');
    await b.net.send('a', msg('hi again'));
    await waitFor(() => a2.received.length === 1, 'traffic to the restarted a');
    expect(text(a2.received[0]!.msg)).toBe('hi again');
  });

  it('replaces a stale accepted link when the dialler comes back without a clean close', async () => {
    const { a, c, ids, proxy } = await pairViaProxy();
    await waitFor(() => a.net.isConnected('c') && c.net.isConnected('a'), 'a-c link via the proxy');
    // The old path goes silent (c still believes it is up), and "a" restarts on a direct path:
    // the new handshake fully authenticates with a's key, so c swaps links.
    proxy.frozen = true;
    const a2 = track(await startNode(ids.get('a')!, ids, new Map([['c', `ws://${HOST}:${c.port}`]])));
    await waitFor(() => a2.net.isConnected('c'), 'a2 to connect');
    await waitFor(() => c.logs.some((e) => e['event'] === 'replaced' && e['peer'] === 'a'), 'c to replace the stale link');
    expect(c.down).toEqual(['a']);
    expect(c.up).toEqual(['a', 'a']);
    expect(c.net.isConnected('a')).toBe(true);
    await c.net.send('a', msg('to the new a'));
    await waitFor(() => a2.received.length === 1, 'delivery on the new link');
    expect(a.received.length).toBe(0);
  });
});
