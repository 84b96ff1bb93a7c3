/**
 * An emulated WAN link in userspace (the test machines' kernel has no netem): a TCP proxy on
 * 127.0.0.1 that forwards every accepted connection to a target port and shapes each direction
 * of each connection on its own with a one-way delay and a token-bucket rate.
 *
 * Per direction (`Shaper`): every chunk read from the source is stamped with its arrival time
 * and queued; it is written to the destination no earlier than arrival + delayMs, and no
 * earlier than the token bucket allows (rate in bits/s, depth `bucketBytes`, full at the start;
 * a chunk larger than what the bucket holds is cut and sent in pieces, so at most
 * bucketBytes + rate x T bytes leave in any interval T). Bytes leave exactly and in order; the
 * source's end (FIN) is queued like a chunk and passed on after the delay (half-close), an error
 * or reset on either side destroys both. Memory is bounded: above `highWaterBytes` queued the
 * source is paused (TCP backpressure to the sender) and resumed below half of it, and nothing
 * is released while the destination has more than `DEST_BUFFER_BYTES` unwritten.
 *
 * The default bucket depth is rate x 10 ms (250 KB at 200 Mbit/s, at least 64 KiB). The proxy
 * runs beside the node processes on a loaded 2-core machine, where its timers fire late; a plain
 * bucket, refilled only up to its depth, would lose every token of a stall longer than
 * depth / rate (measured: 117-142 of 200 Mbit/s achieved while backlogged, load average 10). So
 * while due bytes wait for tokens (a backlog) the cap is lifted by up to CATCH_UP_MS of tokens:
 * the bytes a stall delayed leave at once on the next wake-up, and the bound stays the token
 * bucket's: from the start of a backlog at most depth + rate x elapsed bytes leave. The cap is
 * back at the depth as soon as nothing is due. The default high water is
 * 2 x (rate x delay) + depth, at least 1 MiB: the delay line itself holds rate x delay bytes at
 * full rate.
 *
 * Counters per direction (`DirectionStats`) are the bench's exact bytes per link; `busyMs` is
 * the time bytes were due (past their delay) but waiting for tokens, so
 * bytes released while busy / busyMs is the rate the shaper achieved when it had work.
 * @module
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** How one direction of a link is shaped. */
export interface LinkShape {
  /** One-way delay added to every byte, ms. */
  delayMs: number;
  /** Token-bucket rate, bits per second. */
  rateBitsPerSec: number;
  /** Token-bucket depth, bytes (default: rate x 10 ms, at least 64 KiB). */
  bucketBytes?: number;
  /** Queued bytes above which the source is paused (default: 2 x rate x delay + depth, at least 1 MiB). */
  highWaterBytes?: number;
}

/** What one direction of one connection has carried. */
export interface DirectionStats {
  /** Bytes read from the source. */
  bytesIn: number;
  /** Bytes written to the destination (equal to bytesIn once the queue is empty). */
  bytesOut: number;
  /** Time bytes were due but waited for tokens, ms. */
  busyMs: number;
  /** Bytes released while busy (the numerator of the achieved rate). */
  busyBytes: number;
  /** Most bytes ever queued at once. */
  maxQueuedBytes: number;
}

/** One proxied connection: `up` is client -> target, `down` target -> client. */
export interface ProxiedConnection {
  id: number;
  /** The client's port (its local port on 127.0.0.1): names the dialling process. */
  remotePort: number;
  up: DirectionStats;
  down: DirectionStats;
  closed: boolean;
}

/** Unwritten bytes at the destination above which the shaper stops releasing. */
const DEST_BUFFER_BYTES = 1 << 20;
const MIN_BUCKET = 64 * 1024;
/**
 * Shortest wait for tokens, ms: each wake-up then releases about rate x 4 ms (100 KB at
 * 200 Mbit/s) in one write instead of one chunk per timer. Below the default bucket's 10 ms, so
 * no token is lost to the cap while waiting (a smaller explicit bucket may lose some).
 */
const TOKEN_WAIT_MS = 4;
/**
 * During a backlog the bucket may hold up to this many ms of tokens beyond its depth, ms: the
 * tokens a late wake-up of this process (a loaded machine) would otherwise lose to the cap. The
 * link's schedule is kept, not the proxy's: released bytes since the backlog began stay within
 * depth + rate x elapsed, as for any token bucket of that depth, and a catch-up burst is never
 * more than the queue (at most the high water).
 */
const CATCH_UP_MS = 1000;
const MIN_HIGH_WATER = 1 << 20;

/** The depth and high water a shape implies (its defaults filled in). */
export function resolveShape(s: LinkShape): Required<LinkShape> {
  if (!(s.delayMs >= 0) || !(s.rateBitsPerSec > 0)) throw new Error('a link needs delayMs >= 0 and rateBitsPerSec > 0');
  const bytesPerMs = s.rateBitsPerSec / 8 / 1000;
  const bucketBytes = s.bucketBytes ?? Math.max(MIN_BUCKET, Math.round(bytesPerMs * 10));
  const highWaterBytes = s.highWaterBytes ?? Math.max(MIN_HIGH_WATER, Math.round(2 * bytesPerMs * s.delayMs) + bucketBytes);
  return { delayMs: s.delayMs, rateBitsPerSec: s.rateBitsPerSec, bucketBytes, highWaterBytes };
}

interface Item {
  buf: Buffer | null; // null: the source's end
  offset: number;
  at: number;
}

/** One direction: reads `src`, writes `dst`, delayed and rate-limited. */
class Shaper {
  readonly stats: DirectionStats = { bytesIn: 0, bytesOut: 0, busyMs: 0, busyBytes: 0, maxQueuedBytes: 0 };
  readonly #src: Socket;
  readonly #dst: Socket;
  readonly #shape: Required<LinkShape>;
  readonly #bytesPerMs: number;
  readonly #queue: Item[] = [];
  #head = 0;
  #queued = 0;
  #paused = false;
  #tokens: number;
  #refilledAt = performance.now();
  #timer: NodeJS.Timeout | undefined;
  #waitingDrain = false;
  #busySince: number | undefined;
  /** Due bytes have waited for tokens since the queue last had nothing due: the cap is lifted. */
  #backlogged = false;
  #done = false;

  constructor(src: Socket, dst: Socket, shape: Required<LinkShape>) {
    this.#src = src;
    this.#dst = dst;
    this.#shape = shape;
    this.#bytesPerMs = shape.rateBitsPerSec / 8 / 1000;
    this.#tokens = shape.bucketBytes;
    src.on('data', (b: Buffer) => this.#arrive(b));
    src.on('end', () => this.#arrive(null));
    dst.on('drain', () => {
      if (!this.#waitingDrain) return;
      this.#waitingDrain = false;
      this.#pump();
    });
  }

  #arrive(buf: Buffer | null): void {
    this.#queue.push({ buf, offset: 0, at: performance.now() });
    if (buf) {
      this.stats.bytesIn += buf.length;
      this.#queued += buf.length;
      if (this.#queued > this.stats.maxQueuedBytes) this.stats.maxQueuedBytes = this.#queued;
      if (!this.#paused && this.#queued > this.#shape.highWaterBytes) {
        this.#paused = true;
        this.#src.pause();
      }
    }
    if (this.#timer === undefined && !this.#waitingDrain) this.#pump();
  }

  /**
   * Releases every due byte the bucket allows, in one corked write (one writev), then waits (a
   * timer or the destination's drain).
   */
  #pump(): void {
    this.#timer = undefined;
    this.#dst.cork();
    try {
      this.#release();
    } finally {
      this.#dst.uncork();
    }
  }

  #release(): void {
    while (this.#head < this.#queue.length && !this.#done) {
      const item = this.#queue[this.#head]!;
      const now = performance.now();
      const due = item.at + this.#shape.delayMs;
      if (now < due) {
        this.#idle(now);
        this.#arm(due - now);
        return;
      }
      if (item.buf === null) {
        this.#done = true;
        this.#idle(now);
        this.#dst.end();
        return;
      }
      if (this.#dst.writableLength > DEST_BUFFER_BYTES) {
        // the receiver is slow: not the link's time, so not busy time (still a backlog)
        this.#endBusy(now);
        this.#waitingDrain = true;
        return;
      }
      const cap = this.#backlogged ? this.#shape.bucketBytes + CATCH_UP_MS * this.#bytesPerMs : this.#shape.bucketBytes;
      this.#tokens = Math.min(cap, this.#tokens + (now - this.#refilledAt) * this.#bytesPerMs);
      this.#refilledAt = now;
      const left = item.buf.length - item.offset;
      const need = Math.min(left, this.#shape.bucketBytes);
      if (this.#tokens < need) {
        this.#backlogged = true;
        this.#busySince ??= now;
        // at least TOKEN_WAIT_MS: fewer, larger releases (the bucket holds more than that much)
        this.#arm(Math.max(TOKEN_WAIT_MS, (need - this.#tokens) / this.#bytesPerMs));
        return;
      }
      const k = Math.min(left, Math.floor(this.#tokens));
      const piece = k === item.buf.length ? item.buf : item.buf.subarray(item.offset, item.offset + k);
      this.#tokens -= k;
      item.offset += k;
      this.#queued -= k;
      this.stats.bytesOut += k;
      if (this.#busySince !== undefined) this.stats.busyBytes += k;
      if (item.offset === item.buf.length) this.#shift();
      this.#dst.write(piece);
      if (this.#paused && this.#queued <= this.#shape.highWaterBytes / 2) {
        this.#paused = false;
        this.#src.resume();
      }
    }
    this.#idle(performance.now());
  }

  /** Nothing is due: the backlog is over, the bucket holds at most its depth again. */
  #idle(now: number): void {
    this.#endBusy(now);
    if (!this.#backlogged) return;
    this.#backlogged = false;
    this.#tokens = Math.min(this.#shape.bucketBytes, this.#tokens);
  }

  #shift(): void {
    this.#queue[this.#head++] = undefined as unknown as Item;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue.splice(0, this.#head);
      this.#head = 0;
    }
  }

  #endBusy(now: number): void {
    if (this.#busySince === undefined) return;
    this.stats.busyMs += now - this.#busySince;
    this.#busySince = undefined;
  }

  /** A timer that never fires early: whole milliseconds, rounded up (the loop re-checks the clock). */
  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#pump(), Math.max(1, Math.ceil(ms)));
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#done = true;
    this.#queue.length = 0;
    this.#head = 0;
    this.#queued = 0;
  }
}

/** A listening proxy: every connection to `port` is shaped and forwarded to the target. */
export class WanProxy {
  readonly connections: ProxiedConnection[] = [];
  readonly shape: Required<LinkShape>;
  readonly targetPort: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #port = 0;

  private constructor(server: Server, shape: Required<LinkShape>, targetPort: number) {
    this.#server = server;
    this.shape = shape;
    this.targetPort = targetPort;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#port;
  }

  /**
   * Listens on 127.0.0.1:`listenPort` (0: any free port) and forwards to 127.0.0.1:`targetPort`,
   * both directions shaped by `shape`.
   */
  static async start(opts: { listenPort?: number; targetPort: number; shape: LinkShape }): Promise<WanProxy> {
    const shape = resolveShape(opts.shape);
    const server = createServer({ allowHalfOpen: true, noDelay: true });
    const proxy = new WanProxy(server, shape, opts.targetPort);
    server.on('connection', (client) => proxy.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.listenPort ?? 0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const a = server.address();
    proxy.#port = typeof a === 'object' && a ? a.port : 0;
    return proxy;
  }

  #accept(client: Socket): void {
    const target = createConnection({ host: '127.0.0.1', port: this.targetPort, allowHalfOpen: true, noDelay: true });
    const conn: ProxiedConnection = { id: this.connections.length, remotePort: client.remotePort ?? 0, up: undefined as never, down: undefined as never, closed: false };
    const up = new Shaper(client, target, this.shape);
    const down = new Shaper(target, client, this.shape);
    conn.up = up.stats;
    conn.down = down.stats;
    this.connections.push(conn);
    this.#sockets.add(client).add(target);
    let open = 2;
    const closed = (s: Socket) => (): void => {
      this.#sockets.delete(s);
      if (--open === 0) conn.closed = true;
    };
    client.once('close', closed(client));
    target.once('close', closed(target));
    const fail = (): void => {
      up.stop();
      down.stop();
      client.destroy();
      target.destroy();
    };
    client.on('error', fail);
    target.on('error', fail);
    // a normal end needs nothing more: each socket closes once its own FIN is in and the other
    // side's FIN, passed on after the delay, is out
  }

  /** Stops listening and destroys every connection. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
