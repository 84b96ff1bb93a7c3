/**
 * The body reader of the trainer API (src/node/upload-body.ts) on real HTTP requests over
 * 127.0.0.1: the node-wide budget for bodies of unknown length, which two concurrent chunked
 * uploads share, and the idle timeout.
 */
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MpcError } from '../src/errors.js';
import { bodyChunks, UnsizedBodies } from '../src/node/upload-body.js';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A server that hands each request to `handle` and answers with its result (or error code). */
async function serve(handle: (req: IncomingMessage) => Promise<string>): Promise<number> {
  server = createServer((req, res) => {
    handle(req).then(
      (s) => res.end(s),
      (e: unknown) => res.end(e instanceof MpcError ? e.code : String(e)),
    );
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}

/** A chunked POST: writes `first`, then waits for `release` before writing `rest` and ending. */
function chunked(port: number, first: Buffer, release: Promise<void>, rest: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ port, host: '127.0.0.1', method: 'POST', headers: { 'transfer-encoding': 'chunked' } }, (res) => {
      let s = '';
      res.on('data', (c: Buffer) => (s += c.toString()));
      res.on('end', () => resolve(s));
    });
    req.on('error', reject);
    req.write(first);
    void release.then(() => req.end(rest));
  });
}

describe('bodies of unknown length', () => {
  it('share one node-wide budget: past it, a body is refused with API_LENGTH_REQUIRED and its bytes are given back', async () => {
    const budget = new UnsizedBodies(1000);
    const seen: number[] = [];
    const port = await serve(async (req) => {
      const got = await budget.gather(req, 1 << 20, 5000, () => {
        throw new MpcError('WIRE_TOO_LARGE', 'too large');
      });
      seen.push(budget.heldBytes);
      budget.release(got.chunks);
      return `ok ${got.total}`;
    });
    let open!: () => void;
    const release = new Promise<void>((r) => (open = r));
    // the first holds 600 bytes and waits; the second then needs 600 more: past the budget
    const first = chunked(port, Buffer.alloc(600, 1), release, Buffer.alloc(10, 1));
    await new Promise((r) => setTimeout(r, 100));
    const second = await chunked(port, Buffer.alloc(600, 2), Promise.resolve(), Buffer.alloc(0));
    expect(second).toBe('API_LENGTH_REQUIRED');
    expect(budget.heldBytes).toBe(600);
    open();
    expect(await first).toBe('ok 610');
    expect(seen).toEqual([610]);
    expect(budget.heldBytes).toBe(0);
    // the budget is whole again
    expect(await chunked(port, Buffer.alloc(900, 3), Promise.resolve(), Buffer.alloc(0))).toBe('ok 900');
  });

  it('a body above maxBody is refused by the caller’s check, and holds nothing', async () => {
    const budget = new UnsizedBodies(1 << 20);
    const port = await serve(async (req) => {
      await budget.gather(req, 100, 5000, (b) => {
        throw new MpcError('WIRE_TOO_LARGE', `${b} bytes`);
      });
      return 'ok';
    });
    expect(await chunked(port, Buffer.alloc(64), Promise.resolve(), Buffer.alloc(64))).toBe('WIRE_TOO_LARGE');
    expect(budget.heldBytes).toBe(0);
  });

  it('a body that pauses longer than the idle timeout is refused with API_BODY_TIMEOUT', async () => {
    const port = await serve(async (req) => {
      let n = 0;
      for await (const c of bodyChunks(req, 150)) n += c.length;
      return `ok ${n}`;
    });
    const late = new Promise<void>((r) => setTimeout(r, 600));
    expect(await chunked(port, Buffer.alloc(8), late, Buffer.alloc(8))).toBe('API_BODY_TIMEOUT');
    expect(await chunked(port, Buffer.alloc(8), new Promise((r) => setTimeout(r, 20)), Buffer.alloc(8))).toBe('ok 16');
  });
});
