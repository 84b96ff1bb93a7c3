/**
 * The trainer client (src/client/index.ts) against an HTTP server on 127.0.0.1 that answers what
 * a node may answer, including what a node never should (a body that is not float32 values, a
 * truncated body), which real node processes cannot be made to produce. Round trips with real
 * nodes are in node.multiprocess.test.ts and examples.test.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { aggregateDetailed, AggregateError } from '../src/client/index.js';

let server: Server | undefined;
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => handler(req, Buffer.concat(parts), res));
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const a = server.address();
  return `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
}

const opts = (node: string) => ({ node, token: 'tok', round: 'r-1', update: Float32Array.of(1.5, -2, 3.25), weight: 7, reduce: 'sum' as const, expect: 2 });

describe('aggregate client', () => {
  it('sends the update as raw float32 with its length, round, weight, reduce, expect and token, and reads the answer', async () => {
    let seen: { url: string; auth: string | undefined; len: string | undefined; body: Buffer } | undefined;
    const node = await serve((req, body, res) => {
      seen = { url: req.url!, auth: req.headers.authorization, len: req.headers['content-length'], body };
      const out = Buffer.from(Float32Array.of(0.5, 0.25, -1).buffer);
      res.writeHead(200, { 'content-length': out.length, 'x-mpc-total-weight': '12', 'x-mpc-contributors': 'apac,eu' });
      res.end(out);
    });
    const r = await aggregateDetailed(opts(node));
    expect(Array.from(r.vector)).toEqual([0.5, 0.25, -1]);
    expect(r.totalWeight).toBe(12);
    expect(r.contributors).toEqual(['apac', 'eu']);
    expect(seen!.url).toBe('/v1/aggregate?round=r-1&weight=7&reduce=sum&expect=2');
    expect(seen!.auth).toBe('Bearer tok');
    expect(seen!.len).toBe('12');
    expect(Array.from(new Float32Array(new Uint8Array(seen!.body).buffer))).toEqual([1.5, -2, 3.25]);
  });

  it("turns the node's JSON error into an AggregateError with its code and status", async () => {
    const node = await serve((_req, _body, res) => {
      res.writeHead(409, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'PROTOCOL_PARAMS_MISMATCH', message: 'params differ: scaleBits 16 vs 20' } }));
    });
    const e = await aggregateDetailed(opts(node)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AggregateError);
    expect(e).toMatchObject({ code: 'PROTOCOL_PARAMS_MISMATCH', status: 409, message: 'params differ: scaleBits 16 vs 20' });
  });

  it('an error answer without a JSON body takes its code from the status: 404 API_NOT_FOUND, 401 API_UNAUTHORIZED, else API_BAD_REQUEST', async () => {
    for (const [status, code] of [[404, 'API_NOT_FOUND'], [401, 'API_UNAUTHORIZED'], [400, 'API_BAD_REQUEST']] as const) {
      const node = await serve((_req, _body, res) => {
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end('no');
      });
      await expect(aggregateDetailed(opts(node))).rejects.toMatchObject({ code, status, message: `node answered HTTP ${status}` });
      server!.closeAllConnections();
      await new Promise<void>((r) => server!.close(() => r()));
      server = undefined;
    }
  });

  it('refuses an answer that is not whole float32 values, or shorter than announced', async () => {
    const odd = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-length': 6 });
      res.end(Buffer.alloc(6));
    });
    await expect(aggregateDetailed(opts(odd))).rejects.toMatchObject({ code: 'WIRE_MALFORMED' });
    server!.closeAllConnections();
    const short = await serve((_req, _body, res) => {
      res.writeHead(200, { 'content-length': 12 });
      res.write(Buffer.alloc(8));
      res.destroy(); // the connection drops mid-answer
    });
    await expect(aggregateDetailed(opts(short))).rejects.toBeInstanceOf(AggregateError);
  });

  it('says when the node cannot be reached, and honours an abort signal', async () => {
    const dead = await serve(() => {});
    server!.close();
    const e = await aggregateDetailed(opts(dead)).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'TRANSPORT_CLOSED', status: 0 });
    expect((e as Error).message).toMatch(/cannot reach the node at http:\/\/127\.0\.0\.1:\d+/);
    const slow = await serve(() => {}); // never answers
    const ac = new AbortController();
    const p = aggregateDetailed({ ...opts(slow), signal: ac.signal });
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(AggregateError);
  });

  it('retries once, under the same idempotency key, when a reused keep-alive socket closes before any answer byte', async () => {
    // the node's side of the keep-alive race, made deterministic: a request that arrives on a
    // socket that already served one finds it closed (as after the server's keepAliveTimeout)
    const seen: { key: string | undefined; reused: boolean }[] = [];
    const served = new WeakSet<object>();
    const node = await serve((req, _body, res) => {
      const reused = served.has(req.socket);
      seen.push({ key: req.headers['x-mpc-idempotency-key'] as string | undefined, reused });
      if (reused) return void req.socket.destroy();
      served.add(req.socket);
      const out = Buffer.from(Float32Array.of(1, 2, 3).buffer);
      res.writeHead(200, { 'content-length': out.length, 'x-mpc-total-weight': '7' });
      res.end(out);
    });
    const first = await aggregateDetailed({ ...opts(node), idempotencyKey: 'upload-1' });
    expect(Array.from(first.vector)).toEqual([1, 2, 3]);
    const second = await aggregateDetailed(opts(node)); // the agent reuses the idle socket
    expect(Array.from(second.vector)).toEqual([1, 2, 3]);
    expect(seen.map((x) => x.reused)).toEqual([false, true, false]);
    expect(seen[0]!.key).toBe('upload-1');
    expect(seen[1]!.key).toMatch(/^[0-9a-f-]{36}$/); // a key per call when none is given...
    expect(seen[2]!.key).toBe(seen[1]!.key); // ...and the retry repeats it
  });

  it('retries at most once, and never once an answer has begun', async () => {
    let n = 0;
    const resets = await serve((req) => {
      n++;
      req.socket.destroy();
    });
    await expect(aggregateDetailed(opts(resets))).rejects.toMatchObject({ code: 'TRANSPORT_CLOSED' });
    expect(n).toBe(2);
    server!.closeAllConnections();
    let m = 0;
    const cut = await serve((_req, _body, res) => {
      m++;
      res.writeHead(200, { 'content-length': 12 });
      res.write(Buffer.alloc(4));
      setImmediate(() => res.destroy());
    });
    await expect(aggregateDetailed(opts(cut))).rejects.toBeInstanceOf(AggregateError);
    expect(m).toBe(1);
  });

  it('refuses a non-Float32Array update and a non-HTTP node URL before any request', async () => {
    await expect(aggregateDetailed({ ...opts('http://127.0.0.1:9'), update: [1, 2] as unknown as Float32Array })).rejects.toThrow(TypeError);
    await expect(aggregateDetailed(opts('ftp://127.0.0.1:9'))).rejects.toThrow(/must be an http: or https: URL/);
  });
});
