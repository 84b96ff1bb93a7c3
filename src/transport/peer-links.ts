/**
 * Per-peer link state of the peer network: the state of each socket (handshake phase or
 * established link), the table of established links by region, and what happens on a link:
 * sending (frame sealing, the frame pool, backpressure), receiving (decryption into the shared
 * buffer), the byte counters, the heartbeat, the stall report and the drain timeout. The
 * handshake phases are driven by peer-conns.ts.
 * @module
 */

import { WebSocket } from 'ws';
import { TransportError } from '../errors.js';
import { FRAME_OVERHEAD_BYTES, type SecureChannel } from './channel.js';
import type { InitiatorState, ResponderState } from './handshake.js';
import { DRAIN_CHECKS_PER_TIMEOUT, SEND_HIGH_WATER_MARK_BYTES, STALL_CHECKS_PER_BOUND, type MeshContext } from './peer-options.js';

/**
 * Frames kept for reuse, shared by all links. Small on purpose: every pooled frame stays
 * resident, and a frame that finds the pool full is left to the garbage collector.
 */
const FRAME_POOL_SIZE = 4;

/** Where one socket is: dialling, one of the handshake steps, established, or closed. */
export type ConnState =
  | { phase: 'connecting' }
  | { phase: 'await-hello' }
  | { phase: 'await-ack'; hs: InitiatorState }
  | { phase: 'await-confirm'; channel: SecureChannel; peer: string; sessionId: string }
  | { phase: 'await-finish'; hs: ResponderState }
  | { phase: 'established'; link: Link }
  | { phase: 'closed' };

/** One socket, dialled or accepted. */
export interface Conn {
  ws: WebSocket;
  role: 'initiator' | 'responder';
  remote: string;
  /** Region dialled (initiator) or claimed in the hello (responder, unauthenticated). */
  peer: string | undefined;
  state: ConnState;
  timer: NodeJS.Timeout | undefined;
  closed: Promise<void>;
}

/** An authenticated link to a peer region. */
export interface Link {
  peer: string;
  conn: Conn;
  channel: SecureChannel;
  alive: boolean;
  sessionId: string;
  /** Frames handed to the socket whose write has not completed yet. */
  unsent: number;
  /** When the socket last completed a write, or took its first frame after an idle spell (ms). */
  lastDrain: number;
  /** Writes completed on this link (the drain check's progress counter). */
  writes: number;
  /** `writes` as the last drain check saw it, and the checks in a row that saw no new one. */
  seenWrites: number;
  stalledChecks: number;
  /** When a frame from the peer last arrived (ms; 0: none yet). */
  lastReceived: number;
  /** Reported stalled (`'peer-stalled'`) and not flowing since; the stall check's own counters. */
  stalled: boolean;
  stallSeenWrites: number;
  stallChecks: number;
}

/** A new link's progress counters (peer-conns.ts fills in the rest). */
export const FRESH_LINK_COUNTERS = { unsent: 0, lastDrain: 0, writes: 0, seenWrites: 0, stalledChecks: 0, lastReceived: 0, stalled: false, stallSeenWrites: 0, stallChecks: 0 } as const;

/** The established links by region, and the traffic on them. */
export class LinkTable {
  readonly #ctx: MeshContext;
  /** The live link of each region (at most one). */
  readonly links = new Map<string, Link>();
  /** With reuseBuffers: frames ws has finished writing, to seal the next messages into. */
  readonly #framePool: Uint8Array[] = [];
  /** With reuseBuffers: where received messages are decrypted (grown to the largest seen). */
  #recvBuf = new Uint8Array(0);
  readonly bytesSent: Record<string, number> = Object.create(null) as Record<string, number>;
  readonly bytesReceived: Record<string, number> = Object.create(null) as Record<string, number>;
  readonly drainTimeouts: Record<string, number> = Object.create(null) as Record<string, number>;

  constructor(ctx: MeshContext) {
    this.#ctx = ctx;
  }

  /** See PeerNetwork.send. */
  async send(peer: string, msg: Uint8Array | readonly Uint8Array[]): Promise<void> {
    if (!(msg instanceof Uint8Array) && !(Array.isArray(msg) && msg.every((p) => p instanceof Uint8Array))) throw new TypeError('"msg" expected Uint8Array or Uint8Array[]');
    if (this.#ctx.closing) throw new TransportError('TRANSPORT_CLOSED', 'network closed');
    const max = this.#ctx.settings.maxMessageBytes;
    const size = msg instanceof Uint8Array ? msg.length : msg.reduce((n, p) => n + p.length, 0);
    if (size > max) {
      throw new TransportError('TRANSPORT_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds maxMessageBytes=${max}; split it or raise the limit on every node`);
    }
    const link = this.links.get(peer);
    if (link === undefined) {
      if (!this.#ctx.opts.peers.has(peer)) throw new TransportError('TRANSPORT_UNKNOWN_PEER', `"${String(peer).slice(0, 128)}" is not a peer of this node`);
      throw new TransportError('TRANSPORT_CLOSED', `no established link to "${peer}"; wait for 'peer-up'`);
    }
    const ws = link.conn.ws;
    const reuse = this.#ctx.opts.reuseBuffers === true;
    const spare = reuse ? this.#framePool.pop() : undefined;
    const frame = link.channel.seal(msg, spare);
    if (link.unsent === 0) link.lastDrain = Date.now(); // the drain clock starts with the queue
    link.unsent++;
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      ws.send(frame, { binary: true }, (err) => {
        // written (or failed): progress for the drain timeout, and ws holds no reference to the
        // frame any more
        link.unsent--;
        link.writes++;
        link.lastDrain = Date.now();
        if (link.stalled) this.#flowing(link);
        if (reuse && this.#framePool.length < FRAME_POOL_SIZE) this.#framePool.push(spare && frame.buffer === spare.buffer ? spare : frame);
        if (settled) return;
        settled = true;
        if (err) reject(new TransportError('TRANSPORT_CLOSED', `link to "${peer}" closed before the message was sent`, { cause: err }));
        else resolve();
      });
      this.bytesSent[peer] = (this.bytesSent[peer] ?? 0) + frame.length;
      // Backpressure: below the high-water mark, return now; above it, the callback above fires
      // once this frame (and so everything queued before it) has been written out.
      if (!settled && ws.readyState === WebSocket.OPEN && ws.bufferedAmount <= SEND_HIGH_WATER_MARK_BYTES) {
        settled = true;
        resolve();
      }
    });
  }

  /**
   * Authenticates and decrypts one frame of an established link, marks the link alive and
   * counts its bytes.
   * @returns The plaintext (with reuseBuffers, a view of the shared receive buffer).
   * @throws {TransportError} From SecureChannel.open; nothing is counted then.
   */
  receive(link: Link, data: Uint8Array): Uint8Array {
    let plaintext: Uint8Array;
    if (this.#ctx.opts.reuseBuffers === true) {
      const need = data.length - FRAME_OVERHEAD_BYTES;
      // one buffer for every link: each message is handled to the end before the next
      if (this.#recvBuf.length < need) this.#recvBuf = new Uint8Array(need);
      plaintext = link.channel.open(data, this.#recvBuf);
    } else {
      plaintext = link.channel.open(data);
    }
    link.alive = true;
    link.lastReceived = Date.now();
    if (link.stalled) this.#flowing(link);
    this.bytesReceived[link.peer] = (this.bytesReceived[link.peer] ?? 0) + data.length;
    return plaintext;
  }

  /**
   * One drain check (run DRAIN_CHECKS_PER_TIMEOUT times per `drainTimeoutMs`): a link with
   * frames queued whose socket has completed no write for `drainTimeoutMs`, seen by that many
   * checks in a row (its peer takes no bytes: hung, or its network is), is handed to `stalled`
   * (after a log event, counted). A slow link completes writes as the peer reads, so it stays.
   * Counting checks keeps a stall of this node's own event loop from cutting anyone: the first
   * check after it runs before the write completions that piled up meanwhile, the next sees them.
   */
  tickDrain(now: number, stalled: (link: Link) => void): void {
    const limit = this.#ctx.settings.drainTimeoutMs;
    for (const link of [...this.links.values()]) {
      if (link.unsent === 0 || link.writes !== link.seenWrites) {
        link.seenWrites = link.writes;
        link.stalledChecks = 0;
        continue;
      }
      link.stalledChecks++;
      if (link.stalledChecks < DRAIN_CHECKS_PER_TIMEOUT || now - link.lastDrain < limit) continue;
      this.drainTimeouts[link.peer] = (this.drainTimeouts[link.peer] ?? 0) + 1;
      this.#ctx.log({ event: 'drain-timeout', peer: link.peer, session: link.sessionId, queuedBytes: link.conn.ws.bufferedAmount, stalledMs: now - link.lastDrain });
      stalled(link);
    }
  }

  /**
   * One stall check (run STALL_CHECKS_PER_BOUND times per `stallMs`): a link with frames queued
   * that has completed no write and brought no frame for `stallMs`, seen by that many checks in a
   * row (counted for the same reason as the drain checks'), is reported stalled: log event and
   * `'peer-stalled'`, once, until it flows again (see `#flowing`). Nothing is cut here.
   */
  tickStall(now: number): void {
    const bound = this.#ctx.settings.stallMs;
    for (const link of [...this.links.values()]) {
      if (link.stalled) continue;
      if (link.unsent === 0 || link.writes !== link.stallSeenWrites) {
        link.stallSeenWrites = link.writes;
        link.stallChecks = 0;
        continue;
      }
      link.stallChecks++;
      if (link.stallChecks < STALL_CHECKS_PER_BOUND || now - link.lastDrain < bound || now - link.lastReceived < bound) continue;
      link.stalled = true;
      this.#ctx.log({ event: 'peer-stalled', peer: link.peer, session: link.sessionId, queuedBytes: link.conn.ws.bufferedAmount, stalledMs: now - link.lastDrain });
      this.#ctx.emit('peer-stalled', link.peer);
    }
  }

  /** Whether the link to `peer` is up and reported stalled. */
  isStalled(peer: string): boolean {
    return this.links.get(peer)?.stalled === true;
  }

  /** A stalled link completed a write or brought a frame: it flows again. */
  #flowing(link: Link): void {
    link.stalled = false;
    link.stallChecks = 0;
    link.stallSeenWrites = link.writes;
    if (this.links.get(link.peer) !== link) return; // a write failing on a link already gone: 'peer-down' said it
    this.#ctx.log({ event: 'peer-flowing', peer: link.peer, session: link.sessionId });
    this.#ctx.emit('peer-flowing', link.peer);
  }

  /**
   * One heartbeat: a link that has not answered since the last tick is handed to `dead`
   * (after a log event); every other link is pinged.
   */
  tickHeartbeat(dead: (link: Link) => void): void {
    for (const link of [...this.links.values()]) {
      if (!link.alive) {
        this.#ctx.log({ event: 'heartbeat-timeout', peer: link.peer, session: link.sessionId });
        dead(link);
        continue;
      }
      link.alive = false;
      try {
        link.conn.ws.ping();
      } catch {
        // socket already closing; 'close' will clean up
      }
    }
  }
}
