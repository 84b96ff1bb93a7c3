/**
 * The WebSocket edge of the peer mesh: one authenticated, encrypted link per pair of regions.
 *
 * - Topology: of two regions, the one whose id sorts lower (JS string order, i.e. UTF-16 code
 *   units) dials; the higher one only accepts. A hello from a region that should be accepting
 *   is refused, so a pair never holds two links.
 * - Each link runs the handshake of handshake.ts (bytes as binary WebSocket messages), then
 *   carries SecureChannel frames (channel.ts), one frame per WebSocket message. The responder's
 *   first frame is empty: key confirmation, so the dialler reports `'peer-up'` only once the
 *   responder has accepted its finish and holds the same keys.
 * - Refusals (unknown region, wrong key, malformed or late handshake, bad frame) close that
 *   socket with 1008, emit `'refused'` and a log event; the server keeps serving everyone else.
 * - The dialer reconnects with exponential backoff and jitter until `close()`; a new handshake
 *   means new keys. An accepted link from a region that already has one replaces it once the
 *   new handshake has fully authenticated (the peer restarted; the old socket may be half-dead).
 * - Liveness: a WebSocket ping every `heartbeatIntervalMs`; no pong (or any frame) by the next
 *   tick terminates the link. A link whose queued frames make no progress for `drainTimeoutMs`
 *   (the peer reads nothing: hung, e.g. stopped, with its TCP connection still open) is
 *   terminated too, so senders waiting on its backpressure fail at once. Well before that, a link
 *   with frames queued that completes no write and brings no frame for `stallMs` is reported
 *   (`'peer-stalled'`, then `'peer-flowing'` when it moves), not cut. All timers are unref'd.
 * - Messages are opaque bytes: no protocol logic lives here.
 *
 * Limits are checked before buffering where ws allows: `maxPayload` (ws rejects larger messages
 * with close 1009 before reassembly completes), handshake messages <= 1 KiB, pending handshakes
 * capped, handshake deadline.
 *
 * This file is the public class, a facade over the parts, one concern each:
 * peer-options.ts (defaults, options, events, validation), peer-listener.ts (the server and
 * admission of inbound sockets), peer-dialer.ts (dialling and reconnect backoff),
 * peer-conns.ts (each socket's handshake, establishment, refusals, close) and peer-links.ts
 * (per-peer link state: sending with backpressure, receiving, counters, heartbeat).
 * @module
 */

import { EventEmitter } from 'node:events';
import { TransportError } from '../errors.js';
import { Connections } from './peer-conns.js';
import { PeerDialer } from './peer-dialer.js';
import { LinkTable } from './peer-links.js';
import { PeerListener } from './peer-listener.js';
import {
  CLOSE_GOING_AWAY,
  DRAIN_CHECKS_PER_TIMEOUT,
  STALL_CHECKS_PER_BOUND,
  resolveSettings,
  type MeshContext,
  type PeerNetworkEvents,
  type PeerNetworkOptions,
  type PeerNetworkStats,
  type PeerSettings,
} from './peer-options.js';

export {
  CLOSE_GOING_AWAY,
  CLOSE_GRACE_MS,
  CLOSE_NORMAL,
  CLOSE_POLICY_VIOLATION,
  CLOSE_TRY_AGAIN_LATER,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RECONNECT_INITIAL_MS,
  DEFAULT_RECONNECT_MAX_MS,
  DRAIN_CHECKS_PER_TIMEOUT,
  DRAIN_TIMEOUT_HEARTBEAT_DIVISOR,
  MAX_PENDING_HANDSHAKES,
  SEND_HIGH_WATER_MARK_BYTES,
  STALL_CHECKS_PER_BOUND,
  STALL_DRAIN_DIVISOR,
  type PeerInfo,
  type PeerNetworkEvents,
  type PeerNetworkOptions,
  type PeerNetworkStats,
  type RefusedInfo,
} from './peer-options.js';

/**
 * Authenticated, encrypted WebSocket links to every other region of a federation.
 * @example
 * const net = new PeerNetwork({ federation: 'fl', identity, peers, listen: { host: '127.0.0.1', port: 0 } });
 * net.on('message', (from, msg) => …);
 * const { port } = await net.start();
 * await net.send('us-east', bytes);
 * await net.close();
 */
export class PeerNetwork extends EventEmitter<PeerNetworkEvents> {
  readonly #opts: PeerNetworkOptions;
  readonly #settings: PeerSettings;
  readonly #links: LinkTable;
  readonly #conns: Connections;
  readonly #dialer: PeerDialer;
  readonly #listener: PeerListener;
  #heartbeat: NodeJS.Timeout | undefined;
  #drainCheck: NodeJS.Timeout | undefined;
  #stallCheck: NodeJS.Timeout | undefined;
  #started = false;
  #closing: Promise<void> | undefined;

  /**
   * Validates the options; nothing is opened until {@link start}.
   * @param opts - See {@link PeerNetworkOptions}.
   * @throws {ConfigError} CONFIG_INVALID for a bad peer entry (names the region and the field).
   * @throws {RangeError} For out-of-range numeric options.
   */
  constructor(opts: PeerNetworkOptions) {
    super();
    this.#settings = resolveSettings(opts);
    this.#opts = opts;
    const isClosing = (): boolean => this.#closing !== undefined;
    const ctx: MeshContext = {
      opts,
      settings: this.#settings,
      get closing(): boolean {
        return isClosing();
      },
      log: (event) => this.#log(event),
      emit: (event, ...args) => {
        (this.emit as (e: string, ...a: unknown[]) => boolean)(event, ...args);
      },
    };
    this.#links = new LinkTable(ctx);
    this.#conns = new Connections(ctx, this.#links, {
      established: (peer) => this.#dialer.resetBackoff(peer),
      initiatorClosed: (conn) => this.#dialer.connClosed(conn),
    });
    this.#dialer = new PeerDialer(ctx, this.#conns);
    this.#listener = new PeerListener(ctx, this.#conns);
  }

  /** This node's region id. */
  get region(): string {
    return this.#settings.region;
  }

  /**
   * Starts listening, then starts dialling every peer that sorts higher than this region.
   * @returns The port actually bound (useful with `listen.port = 0`).
   * @throws {ConfigError} CONFIG_ADDRESS_IN_USE if the address is taken, CONFIG_INVALID if it cannot be bound otherwise.
   * @throws {TransportError} TRANSPORT_CLOSED if already started or closed.
   * @example
   * const { port } = await net.start();
   */
  async start(): Promise<{ port: number }> {
    if (this.#closing !== undefined) throw new TransportError('TRANSPORT_CLOSED', 'network closed; create a new PeerNetwork');
    if (this.#started) throw new TransportError('TRANSPORT_CLOSED', 'network already started');
    this.#started = true;
    const port = await this.#listener.listen();

    this.#heartbeat = setInterval(
      () =>
        this.#links.tickHeartbeat((link) => {
          this.#conns.detach(link.conn, { reason: 'heartbeat timeout' });
          link.conn.ws.terminate();
        }),
      this.#settings.heartbeatIntervalMs,
    );
    this.#heartbeat.unref();
    this.#drainCheck = setInterval(
      () =>
        this.#links.tickDrain(Date.now(), (link) => {
          this.#conns.detach(link.conn, { reason: 'drain timeout' });
          link.conn.ws.terminate();
        }),
      Math.max(1, Math.floor(this.#settings.drainTimeoutMs / DRAIN_CHECKS_PER_TIMEOUT)),
    );
    this.#drainCheck.unref();
    this.#stallCheck = setInterval(() => this.#links.tickStall(Date.now()), Math.max(1, Math.floor(this.#settings.stallMs / STALL_CHECKS_PER_BOUND)));
    this.#stallCheck.unref();

    this.#dialer.start();
    return { port };
  }

  /**
   * Encrypts and sends one message to `peer`.
   *
   * Resolves once the frame is handed to the socket and no more than
   * {@link SEND_HIGH_WATER_MARK_BYTES} are queued; otherwise waits until this frame has been
   * flushed to the OS (backpressure). Frames to one peer are delivered in `send` call order.
   * @param peer - Region id.
   * @param msg - Opaque bytes, at most `maxMessageBytes`; or parts, sent as their concatenation.
   *   Read synchronously (encrypted into the frame before `send` returns its promise), so the
   *   caller may reuse the memory at once.
   * @throws {TransportError} TRANSPORT_CLOSED if no link to `peer` is up (or it drops before the
   *   frame is flushed), TRANSPORT_UNKNOWN_PEER if `peer` is not in the directory,
   *   TRANSPORT_MESSAGE_TOO_LARGE if `msg` is above `maxMessageBytes`.
   * @example
   * await net.send('us-east', bytes);
   */
  async send(peer: string, msg: Uint8Array | readonly Uint8Array[]): Promise<void> {
    return this.#links.send(peer, msg);
  }

  /**
   * @param peer - Region id.
   * @returns Whether an authenticated link to `peer` is up.
   */
  isConnected(peer: string): boolean {
    return this.#links.links.has(peer);
  }

  /**
   * @param peer - Region id.
   * @returns Whether the link to `peer` is up and stalled: frames queued, and no write completed
   *   and no frame received for `stallMs` (between `'peer-stalled'` and `'peer-flowing'`).
   */
  isStalled(peer: string): boolean {
    return this.#links.isStalled(peer);
  }

  /** @returns Regions with an authenticated link, sorted. */
  connectedPeers(): string[] {
    return [...this.#links.links.keys()].sort();
  }

  /** @returns Byte and refusal counters (copies). */
  stats(): PeerNetworkStats {
    return { bytesSent: { ...this.#links.bytesSent }, bytesReceived: { ...this.#links.bytesReceived }, refused: this.#conns.refused, drainTimeouts: { ...this.#links.drainTimeouts } };
  }

  /**
   * Stops dialling, closes every link (1001) and the listener. Idempotent.
   * `'peer-down'` is emitted for each link that was up.
   * @example
   * await net.close();
   */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  async #doClose(): Promise<void> {
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    if (this.#drainCheck) clearInterval(this.#drainCheck);
    if (this.#stallCheck) clearInterval(this.#stallCheck);
    this.#dialer.stop();
    const serverClosed = this.#listener.close();
    const conns = [...this.#conns.all];
    for (const c of conns) this.#conns.closeConn(c, CLOSE_GOING_AWAY, 'shutting down');
    await Promise.all(conns.map((c) => c.closed));
    await serverClosed;
    this.#log({ event: 'closed' });
  }

  #log(event: Record<string, unknown>): void {
    const log = this.#opts.log;
    if (log === undefined) return;
    try {
      log({ region: this.#settings.region, ...event });
    } catch {
      // a broken logger must not break the link
    }
  }
}
