/**
 * Reading a trainer's update body off its HTTP request, with the limits a node facing untrusted
 * clients needs: an idle timeout between chunks (a stalled or truncated body is refused, never
 * waited on forever), an exact length (a body shorter or longer than announced is refused), and
 * a node-wide cap on the bytes of bodies that arrive without any announced length (chunked
 * without `x-mpc-params`), which must be held until their end to learn their length.
 *
 * A body whose length is announced (Content-Length, or `x-mpc-params` on a chunked body) is
 * streamed chunk by chunk to its consumer and never held here. Every byte held is wiped.
 * @module
 */
import type { IncomingMessage } from 'node:http';
import { MpcError } from '../errors.js';

/** Default idle time allowed between two chunks of a body (and before the first). */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;
/** Default node-wide cap on the bytes of unannounced (chunked, no x-mpc-params) bodies held at once. */
export const DEFAULT_UNSIZED_BODY_BYTES = 64 * 1024 * 1024;

/**
 * The request's chunks, each awaited for at most `timeoutMs`.
 * @throws {MpcError} API_BODY_TIMEOUT when no byte arrived for `timeoutMs`, API_BAD_REQUEST when
 *   the client ended its side of the connection before the body was complete.
 */
export async function* bodyChunks(req: IncomingMessage, timeoutMs: number): AsyncGenerator<Buffer> {
  const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  // a trainer that closes its side before the body is complete: refused at once, not at the timeout
  let cut: (() => void) | undefined;
  const hungUp = new Promise<never>((_, reject) => {
    cut = () => {
      if (!req.complete) reject(new MpcError('API_BAD_REQUEST', 'the connection ended before the whole body arrived: the update was not counted'));
    };
    req.socket.once('end', cut);
  });
  hungUp.catch(() => {});
  try {
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MpcError('API_BODY_TIMEOUT', `no body bytes for ${timeoutMs} ms: the update was not counted; send the whole body without pausing`)), timeoutMs);
      });
      try {
        const r = await Promise.race([it.next(), idle, hungUp]);
        if (r.done) return;
        yield r.value;
      } finally {
        clearTimeout(timer);
      }
    }
  } finally {
    req.socket.off('end', cut!);
  }
}

/**
 * Streams the rest of a body, exactly `bytes` bytes, from `chunks` into `take` (which owns each
 * chunk from then on); `first` is a piece already read off the body (after a prefix).
 * @throws {MpcError} API_BAD_REQUEST for a body longer or shorter than `bytes`, API_BODY_TIMEOUT.
 */
export async function streamExact(chunks: AsyncIterable<Buffer>, bytes: number, take: (chunk: Buffer) => void, first?: Buffer): Promise<void> {
  let total = 0;
  for await (const c of first ? prepended(first, chunks) : chunks) {
    if (total + c.length > bytes) {
      c.fill(0);
      throw new MpcError('API_BAD_REQUEST', `body is longer than announced (${bytes} bytes): the update was not counted`);
    }
    total += c.length;
    take(c);
  }
  if (total !== bytes) throw new MpcError('API_BAD_REQUEST', `body of ${total} bytes is shorter than announced (${bytes} bytes): the update was not counted`);
}

/** `first`, then the chunks of `rest`. */
export async function* prepended(first: Buffer, rest: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  if (first.length > 0) yield first;
  yield* rest;
}

/**
 * Reads the first `n` bytes of a body off `chunks` (copied into their own buffer; the chunks they
 * came from are wiped) and returns them with the part of the last chunk that follows them.
 * @throws {MpcError} API_BAD_REQUEST when the body ends first, API_BODY_TIMEOUT.
 */
export async function readPrefix(chunks: AsyncIterator<Buffer>, n: number, what: string): Promise<{ prefix: Buffer; rest: Buffer }> {
  const prefix = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const r = await chunks.next();
    if (r.done) throw new MpcError('API_BAD_REQUEST', `the body ended inside ${what}: the update was not counted`);
    const c = r.value;
    const k = Math.min(n - got, c.length);
    c.copy(prefix, got, 0, k);
    got += k;
    if (got === n) return { prefix, rest: c.subarray(k) };
  }
  return { prefix, rest: Buffer.alloc(0) };
}

/** The node-wide budget of bytes held for bodies of unknown length until their end. */
export class UnsizedBodies {
  private held = 0;
  constructor(private readonly maxBytes: number) {}

  /** Bytes held right now (for status and tests). */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * Gathers a body of unknown length, up to `maxBody` bytes, within the node-wide budget.
   * @throws {MpcError} API_LENGTH_REQUIRED when the budget is used up (send a length),
   *   WIRE_TOO_LARGE via `tooLarge` above maxBody, API_BODY_TIMEOUT.
   */
  async gather(req: IncomingMessage, maxBody: number, timeoutMs: number, tooLarge: (bytes: number) => void): Promise<{ chunks: Buffer[]; total: number }> {
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const c of bodyChunks(req, timeoutMs)) {
        if (total + c.length > maxBody) {
          c.fill(0);
          tooLarge(total + c.length);
        }
        if (this.held + c.length > this.maxBytes) {
          c.fill(0);
          throw new MpcError('API_LENGTH_REQUIRED', 'too many bodies of unknown length are arriving at once: send Content-Length (or x-mpc-params with a chunked body)');
        }
        this.held += c.length;
        total += c.length;
        chunks.push(c);
      }
    } catch (e) {
      this.release(chunks);
      throw e;
    }
    return { chunks, total };
  }

  /** Wipes gathered chunks and gives their bytes back to the budget. */
  release(chunks: Buffer[]): void {
    for (const c of chunks.splice(0)) {
      this.held -= c.length;
      c.fill(0);
    }
  }
}
