/**
 * The emulated WAN link of the WAN benchmark (bench/wan-proxy.ts), on real sockets on 127.0.0.1:
 * exact in-order bytes both ways, the delay and the rate as lower bounds (correctness of the
 * shaper, not speed: nothing here bounds a time from above), close propagation, bounded queue.
 */
import { randomBytes } from 'node:crypto';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { WanProxy, type LinkShape } from '../bench/wan-proxy.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A target server; `onConn` gets each accepted socket. */
async function target(onConn: (s: Socket) => void): Promise<number> {
  const server: Server = createServer(onConn);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const sockets = new Set<Socket>();
  server.on('connection', (s) => sockets.add(s));
  cleanups.push(() => new Promise<void>((r) => {
    for (const s of sockets) s.destroy();
    server.close(() => r());
  }));
  const a = server.address();
  return typeof a === 'object' && a ? a.port : 0;
}

async function proxyTo(port: number, shape: LinkShape): Promise<WanProxy> {
  const p = await WanProxy.start({ targetPort: port, shape });
  cleanups.push(() => p.close());
  return p;
}

async function dial(port: number): Promise<Socket> {
  const s = createConnection({ host: '127.0.0.1', port });
  cleanups.push(() => void s.destroy());
  await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
  return s;
}

/** Resolves with every byte `s` delivers until `n` have arrived, and when the last one did. */
function collect(s: Socket, n: number): Promise<{ data: Buffer; at: number }> {
  const parts: Buffer[] = [];
  let got = 0;
  return new Promise((resolve, reject) => {
    s.on('data', (b: Buffer) => {
      parts.push(b);
      got += b.length;
      if (got >= n) resolve({ data: Buffer.concat(parts), at: performance.now() });
    });
    s.once('error', reject);
  });
}

const until = async (cond: () => boolean): Promise<void> => {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
};

describe('wan-proxy', () => {
  it('delivers every byte exactly and in order, both ways at once, and counts them', async () => {
    const N = 3 * 1024 * 1024 + 17;
    const toServer = randomBytes(N);
    const toClient = randomBytes(N + 1000);
    let serverGot: Promise<{ data: Buffer }> | undefined;
    const port = await target((s) => {
      serverGot = collect(s, N);
      // the reply in odd-sized writes, so chunk boundaries differ from the other direction's
      for (let i = 0; i < toClient.length; i += 7777) s.write(toClient.subarray(i, i + 7777));
    });
    const proxy = await proxyTo(port, { delayMs: 5, rateBitsPerSec: 2e9 });
    const c = await dial(proxy.port);
    const clientGot = collect(c, toClient.length);
    for (let i = 0; i < N; i += 100_003) c.write(toServer.subarray(i, i + 100_003));
    await until(() => serverGot !== undefined);
    const [a, b] = await Promise.all([serverGot!, clientGot]);
    expect(a.data.length).toBe(N);
    expect(a.data.equals(toServer)).toBe(true);
    expect(b.data.length).toBe(toClient.length);
    expect(b.data.equals(toClient)).toBe(true);
    const conn = proxy.connections[0]!;
    expect(proxy.connections.length).toBe(1);
    expect(conn.up.bytesOut).toBe(N);
    expect(conn.up.bytesIn).toBe(N);
    expect(conn.down.bytesOut).toBe(toClient.length);
  });

  it('delivers a small message no earlier than the one-way delay, in each direction', async () => {
    const delayMs = 80;
    let replyAt = 0;
    let serverGotAt = 0;
    const port = await target((s) => s.on('data', (b: Buffer) => {
      serverGotAt = performance.now();
      replyAt = performance.now();
      s.write(b);
    }));
    const proxy = await proxyTo(port, { delayMs, rateBitsPerSec: 1e9 });
    const c = await dial(proxy.port);
    const echoed = collect(c, 5);
    const t0 = performance.now();
    c.write('hello');
    const { data, at } = await echoed;
    expect(data.toString()).toBe('hello');
    expect(serverGotAt - t0).toBeGreaterThanOrEqual(delayMs);
    expect(at - replyAt).toBeGreaterThanOrEqual(delayMs);
  });

  it('takes at least (N - bucket) / rate for N bytes', async () => {
    const N = 2_000_000;
    const rateBitsPerSec = 40e6; // 5 MB/s: N / rate = 0.4 s
    let got: Promise<{ data: Buffer; at: number }> | undefined;
    const server = await target((s) => (got = collect(s, N)));
    const proxy = await proxyTo(server, { delayMs: 0, rateBitsPerSec });
    const c = await dial(proxy.port);
    const t0 = performance.now();
    c.write(randomBytes(N));
    await until(() => got !== undefined);
    const { data, at } = await got!;
    expect(data.length).toBe(N);
    const bucket = proxy.shape.bucketBytes;
    expect(bucket).toBe(64 * 1024); // rate x 10 ms is 50 KB here: the 64 KiB floor
    expect(at - t0).toBeGreaterThanOrEqual(((N - bucket) * 8 * 1000) / rateBitsPerSec);
  });

  it('passes a close on: the client ending closes the server side, the server ending closes the client', async () => {
    const serverSockets: Socket[] = [];
    const port = await target((s) => serverSockets.push(s));
    const proxy = await proxyTo(port, { delayMs: 10, rateBitsPerSec: 1e9 });

    const c1 = await dial(proxy.port);
    await until(() => serverSockets.length === 1);
    const s1Closed = new Promise<void>((r) => serverSockets[0]!.once('close', () => r()));
    const c1Closed = new Promise<void>((r) => c1.once('close', () => r()));
    c1.end();
    await s1Closed; // the server (allowHalfOpen false) ends its side too, which reaches c1
    await c1Closed;

    const c2 = await dial(proxy.port);
    await until(() => serverSockets.length === 2);
    const c2Closed = new Promise<void>((r) => c2.once('close', () => r()));
    c2.on('data', () => {});
    serverSockets[1]!.destroy();
    await c2Closed;
    await until(() => proxy.connections.every((x) => x.closed));
  });

  it('keeps its queue bounded when the destination stops reading, and loses nothing', async () => {
    const N = 24 * 1024 * 1024;
    const highWaterBytes = 256 * 1024;
    let server: Socket | undefined;
    const port = await target((s) => {
      s.pause();
      server = s;
    });
    const proxy = await proxyTo(port, { delayMs: 1, rateBitsPerSec: 8e9, highWaterBytes });
    const c = await dial(proxy.port);
    const payload = randomBytes(N);
    c.write(payload);
    await until(() => server !== undefined && proxy.connections.length === 1);
    // the proxy's intake stops once the kernel buffers, the destination's buffer and its own
    // queue are full (the source is paused)
    const up = proxy.connections[0]!.up;
    let last = -1;
    let still = 0;
    while (still < 5) {
      await new Promise((r) => setTimeout(r, 50));
      still = up.bytesIn === last ? still + 1 : 0;
      last = up.bytesIn;
    }
    expect(up.bytesIn).toBeLessThan(N);
    expect(up.maxQueuedBytes).toBeGreaterThan(highWaterBytes);
    expect(up.maxQueuedBytes).toBeLessThanOrEqual(highWaterBytes + 64 * 1024);
    const got = collect(server!, N);
    server!.resume();
    const { data } = await got;
    expect(data.equals(payload)).toBe(true);
    expect(up.maxQueuedBytes).toBeLessThanOrEqual(highWaterBytes + 64 * 1024);
  });
});
