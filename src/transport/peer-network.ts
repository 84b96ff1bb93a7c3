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
 *   tick terminates the link. All timers are unref'd.
 * - Messages are opaque bytes: no protocol logic lives here.
 *
 * Limits are checked before buffering where ws allows: `maxPayload` (ws rejects larger messages
 * with close 1009 before reassembly completes), handshake messages <= 1 KiB, pending handshakes
 * capped, handshake deadline.
 * @module
 */

import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { ConfigError, MpcError, TransportError, type ErrorCode } from '../errors.js';
import { FRAME_OVERHEAD_BYTES, SecureChannel } from './channel.js';
import {
  abortHandshake,
  decodeHandshakeMsg,
  initiatorOnAck,
  responderOnFinish,
  responderOnHello,
  startInitiator,
  type HandshakeConfig,
  type HandshakeSession,
  type InitiatorState,
  type PeerDirectory,
  type ResponderState,
} from './handshake.js';
import { type Identity } from './identity.js';
import { isRegionId, REGION_ID_RULE } from '../core/ids.js';
import { MAX_MESSAGE_BYTES } from '../wire/limits.js';

/** Default largest application message: the wire's MAX_MESSAGE_BYTES (1 MiB, src/wire/limits.ts). */
export const DEFAULT_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES;
/** Default deadline for a handshake, from socket open to authenticated link. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** Default WebSocket ping interval; a link that misses one whole interval is terminated. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/** Default first reconnect delay; doubles per failed attempt. */
export const DEFAULT_RECONNECT_INITIAL_MS = 100;
/** Default cap on the reconnect delay. */
export const DEFAULT_RECONNECT_MAX_MS = 5000;
/** `send()` waits for the socket to flush once more than this many bytes are queued. */
export const SEND_HIGH_WATER_MARK_BYTES = 1024 * 1024;
/** Unauthenticated sockets allowed at once; more are turned away with 1013 (try again later). */
export const MAX_PENDING_HANDSHAKES = 64;
/** Grace period for a WebSocket close handshake before the TCP socket is destroyed. */
export const CLOSE_GRACE_MS = 1000;

/** WebSocket close codes used here (RFC 6455 §7.4.1). */
export const CLOSE_NORMAL = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_POLICY_VIOLATION = 1008;
export const CLOSE_TRY_AGAIN_LATER = 1013;

/** How to reach a peer region, and the key it must prove it holds. */
export interface PeerInfo {
  /** Ed25519 public key from the federation file. */
  publicKey: Uint8Array;
  /** `ws://host:port` (read each time we dial; only dialled if our region sorts lower). */
  endpoint: string;
}

/** Options of {@link PeerNetwork}. */
export interface PeerNetworkOptions {
  /** Federation id; peers must agree exactly. */
  federation: string;
  /** This node's identity. */
  identity: Identity;
  /** Every other region of the federation (not this one). */
  peers: ReadonlyMap<string, PeerInfo>;
  /** Where to accept connections. Port 0 picks an ephemeral port (see `start()`'s result). */
  listen: { host: string; port: number };
  /** Largest application message (default MAX_MESSAGE_BYTES, 1 MiB); ws `maxPayload` is this plus frame overhead. */
  maxMessageBytes?: number;
  /** Handshake deadline in ms (default 5000). */
  handshakeTimeoutMs?: number;
  /** Ping interval in ms (default 10000). */
  heartbeatIntervalMs?: number;
  /** Reconnect backoff (default 100 ms doubling to 5 s, with jitter). */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Structured events (`event` names the kind). Never contains keys or message contents. */
  log?: (event: Record<string, unknown>) => void;
  /** Test hook: receives every decrypted message, as the application layer will. */
  onDecrypted?: (from: string, plaintext: Uint8Array) => void;
  /**
   * Recycle buffers (default false): frames are sealed into buffers returned once ws has written
   * them, and messages are decrypted into one buffer. The `'message'` payload is then a
   * view that is valid only until the listener returns: a listener that keeps any part of it
   * (including views a decoder made into it) must copy. Saves two model-chunk-sized allocations
   * per message, which otherwise pile up as garbage (bench/RESULTS.md "Round").
   */
  reuseBuffers?: boolean;
}

/**
 * Frames kept for reuse, shared by all links. Small on purpose: every pooled frame stays
 * resident, and a frame that finds the pool full is left to the garbage collector.
 */
const FRAME_POOL_SIZE = 4;

/** Payload of the `'refused'` event. */
export interface RefusedInfo {
  /** Why: TRANSPORT_* code, or WIRE_TOO_LARGE / WIRE_MALFORMED for WebSocket-level faults. */
  code: ErrorCode;
  /** Human explanation (no secrets, no message data). */
  reason: string;
  /** `address:port` of the remote socket, or the endpoint we dialled. */
  remote?: string;
  /** The region involved, if it was claimed or known. Unauthenticated unless the link was up. */
  peer?: string;
}

/** Events of {@link PeerNetwork}. */
export type PeerNetworkEvents = {
  /** A decrypted application message from an authenticated peer. */
  message: [from: string, msg: Uint8Array];
  /** An authenticated link to `peer` is up; `send(peer, …)` works from now on. */
  'peer-up': [peer: string];
  /** The link to `peer` went away (it may come back: watch for `'peer-up'`). */
  'peer-down': [peer: string];
  /** A connection or frame was refused. */
  refused: [info: RefusedInfo];
};

/** Byte counters of {@link PeerNetwork.stats}. */
export interface PeerNetworkStats {
  /** Frame bytes handed to each peer's socket (encrypted, excluding handshake and ws headers). */
  bytesSent: Record<string, number>;
  /** Frame bytes received and authenticated from each peer. */
  bytesReceived: Record<string, number>;
  /** Connections or frames refused since start. */
  refused: number;
}

type ConnState =
  | { phase: 'connecting' }
  | { phase: 'await-hello' }
  | { phase: 'await-ack'; hs: InitiatorState }
  | { phase: 'await-confirm'; channel: SecureChannel; peer: string; sessionId: string }
  | { phase: 'await-finish'; hs: ResponderState }
  | { phase: 'established'; link: Link }
  | { phase: 'closed' };

interface Conn {
  ws: WebSocket;
  role: 'initiator' | 'responder';
  remote: string;
  /** Region dialled (initiator) or claimed in the hello (responder, unauthenticated). */
  peer: string | undefined;
  state: ConnState;
  timer: NodeJS.Timeout | undefined;
  closed: Promise<void>;
}

interface Link {
  peer: string;
  conn: Conn;
  channel: SecureChannel;
  alive: boolean;
  sessionId: string;
}

interface Dialer {
  peer: string;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  conn: Conn | undefined;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

function positiveInt(v: unknown, title: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new RangeError(`"${title}" expected a positive integer, got ${String(v)}`);
  return v;
}

function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

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
  readonly #region: string;
  readonly #maxMessageBytes: number;
  readonly #handshakeTimeoutMs: number;
  readonly #heartbeatIntervalMs: number;
  readonly #reconnectInitialMs: number;
  readonly #reconnectMaxMs: number;
  readonly #links = new Map<string, Link>();
  /** With reuseBuffers: frames ws has finished writing, to seal the next messages into. */
  readonly #framePool: Uint8Array[] = [];
  /** With reuseBuffers: where received messages are decrypted (grown to the largest seen). */
  #recvBuf = new Uint8Array(0);
  readonly #conns = new Set<Conn>();
  readonly #dialers = new Map<string, Dialer>();
  readonly #bytesSent: Record<string, number> = Object.create(null) as Record<string, number>;
  readonly #bytesReceived: Record<string, number> = Object.create(null) as Record<string, number>;
  #refused = 0;
  #pending = 0;
  #server: WebSocketServer | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
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
    if (!isRegionId(opts.identity?.region)) throw new ConfigError('CONFIG_INVALID', 'identity.region is not a valid region id');
    this.#opts = opts;
    this.#region = opts.identity.region;
    this.#maxMessageBytes = positiveInt(opts.maxMessageBytes, 'maxMessageBytes', DEFAULT_MAX_MESSAGE_BYTES);
    this.#handshakeTimeoutMs = positiveInt(opts.handshakeTimeoutMs, 'handshakeTimeoutMs', DEFAULT_HANDSHAKE_TIMEOUT_MS);
    this.#heartbeatIntervalMs = positiveInt(opts.heartbeatIntervalMs, 'heartbeatIntervalMs', DEFAULT_HEARTBEAT_INTERVAL_MS);
    this.#reconnectInitialMs = positiveInt(opts.reconnect?.initialDelayMs, 'reconnect.initialDelayMs', DEFAULT_RECONNECT_INITIAL_MS);
    this.#reconnectMaxMs = positiveInt(opts.reconnect?.maxDelayMs, 'reconnect.maxDelayMs', DEFAULT_RECONNECT_MAX_MS);
    if (typeof opts.listen?.host !== 'string' || !Number.isInteger(opts.listen.port) || opts.listen.port < 0 || opts.listen.port > 65535) {
      throw new ConfigError('CONFIG_INVALID', 'listen must be { host: string, port: 0..65535 }');
    }
    for (const [region, info] of opts.peers) this.#checkPeer(region, info);
  }

  #checkPeer(region: string, info: PeerInfo): void {
    const bad = (what: string): ConfigError => new ConfigError('CONFIG_INVALID', `peer "${String(region).slice(0, 128)}": ${what}`);
    if (!isRegionId(region)) throw bad(REGION_ID_RULE);
    if (region === this.#region) throw bad('this node\'s own region must not be listed among its peers');
    if (!(info.publicKey instanceof Uint8Array) || info.publicKey.length !== 32) throw bad('publicKey must be 32 bytes (Ed25519)');
    let url: URL;
    try {
      url = new URL(info.endpoint);
    } catch {
      throw bad('endpoint must be a URL like ws://host:port');
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw bad(`endpoint must use ws:// or wss://, got ${url.protocol}`);
  }

  /** This node's region id. */
  get region(): string {
    return this.#region;
  }

  /**
   * Starts listening, then starts dialling every peer that sorts higher than this region.
   * @returns The port actually bound (useful with `listen.port = 0`).
   * @throws {ConfigError} CONFIG_INVALID if the address cannot be bound (e.g. EADDRINUSE).
   * @throws {TransportError} TRANSPORT_CLOSED if already started or closed.
   * @example
   * const { port } = await net.start();
   */
  async start(): Promise<{ port: number }> {
    if (this.#closing !== undefined) throw new TransportError('TRANSPORT_CLOSED', 'network closed; create a new PeerNetwork');
    if (this.#started) throw new TransportError('TRANSPORT_CLOSED', 'network already started');
    this.#started = true;
    const { host, port } = this.#opts.listen;
    const server = new WebSocketServer({
      host,
      port,
      perMessageDeflate: false,
      maxPayload: this.#maxMessageBytes + FRAME_OVERHEAD_BYTES,
      clientTracking: false,
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        server.off('listening', onListening);
        reject(new ConfigError('CONFIG_INVALID', `cannot listen on ${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}`));
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
    });
    this.#server = server;
    if (this.#closing !== undefined) {
      // close() was called while we were binding: #doClose did not see the server yet.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw new TransportError('TRANSPORT_CLOSED', 'network closed during start()');
    }
    server.on('error', (e) => this.#log({ event: 'server-error', error: errMessage(e) }));
    server.on('connection', (ws, req) => this.#onInbound(ws, req));
    const addr = server.address();
    const boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
    this.#log({ event: 'listening', host, port: boundPort });

    this.#heartbeat = setInterval(() => this.#tickHeartbeat(), this.#heartbeatIntervalMs);
    this.#heartbeat.unref();

    for (const peer of this.#opts.peers.keys()) {
      if (this.#region < peer) {
        const d: Dialer = { peer, attempt: 0, timer: undefined, conn: undefined };
        this.#dialers.set(peer, d);
        this.#dial(d);
      }
    }
    return { port: boundPort };
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
    if (!(msg instanceof Uint8Array) && !(Array.isArray(msg) && msg.every((p) => p instanceof Uint8Array))) throw new TypeError('"msg" expected Uint8Array or Uint8Array[]');
    if (this.#closing !== undefined) throw new TransportError('TRANSPORT_CLOSED', 'network closed');
    const size = msg instanceof Uint8Array ? msg.length : msg.reduce((n, p) => n + p.length, 0);
    if (size > this.#maxMessageBytes) {
      throw new TransportError('TRANSPORT_MESSAGE_TOO_LARGE', `message of ${size} bytes exceeds maxMessageBytes=${this.#maxMessageBytes}; split it or raise the limit on every node`);
    }
    const link = this.#links.get(peer);
    if (link === undefined) {
      if (!this.#opts.peers.has(peer)) throw new TransportError('TRANSPORT_UNKNOWN_PEER', `"${String(peer).slice(0, 128)}" is not a peer of this node`);
      throw new TransportError('TRANSPORT_CLOSED', `no established link to "${peer}"; wait for 'peer-up'`);
    }
    const ws = link.conn.ws;
    const reuse = this.#opts.reuseBuffers === true;
    const spare = reuse ? this.#framePool.pop() : undefined;
    const frame = link.channel.seal(msg, spare);
    await new Promise<void>((resolve, reject) => {
      let settled = false;
      ws.send(frame, { binary: true }, (err) => {
        // written (or failed): ws holds no reference to the frame any more
        if (reuse && this.#framePool.length < FRAME_POOL_SIZE) this.#framePool.push(spare && frame.buffer === spare.buffer ? spare : frame);
        if (settled) return;
        settled = true;
        if (err) reject(new TransportError('TRANSPORT_CLOSED', `link to "${peer}" closed before the message was sent`, { cause: err }));
        else resolve();
      });
      this.#bytesSent[peer] = (this.#bytesSent[peer] ?? 0) + frame.length;
      // Backpressure: below the high-water mark, return now; above it, the callback above fires
      // once this frame (and so everything queued before it) has been written out.
      if (!settled && ws.readyState === WebSocket.OPEN && ws.bufferedAmount <= SEND_HIGH_WATER_MARK_BYTES) {
        settled = true;
        resolve();
      }
    });
  }

  /**
   * @param peer - Region id.
   * @returns Whether an authenticated link to `peer` is up.
   */
  isConnected(peer: string): boolean {
    return this.#links.has(peer);
  }

  /** @returns Regions with an authenticated link, sorted. */
  connectedPeers(): string[] {
    return [...this.#links.keys()].sort();
  }

  /** @returns Byte and refusal counters (copies). */
  stats(): PeerNetworkStats {
    return { bytesSent: { ...this.#bytesSent }, bytesReceived: { ...this.#bytesReceived }, refused: this.#refused };
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
    for (const d of this.#dialers.values()) if (d.timer) clearTimeout(d.timer);
    const server = this.#server;
    const serverClosed = server
      ? new Promise<void>((resolve) => server.close(() => resolve()))
      : Promise.resolve();
    const conns = [...this.#conns];
    for (const c of conns) this.#closeConn(c, CLOSE_GOING_AWAY, 'shutting down');
    await Promise.all(conns.map((c) => c.closed));
    await serverClosed;
    this.#log({ event: 'closed' });
  }

  // -------------------------------------------------------------------------------------------
  // Connections

  #newConn(ws: WebSocket, role: Conn['role'], remote: string, peer: string | undefined): Conn {
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const conn: Conn = { ws, role, remote, peer, state: role === 'responder' ? { phase: 'await-hello' } : { phase: 'connecting' }, timer: undefined, closed };
    this.#conns.add(conn);
    if (role === 'responder') this.#pending++;
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      const phase = conn.state.phase;
      if (phase === 'connecting') {
        // TCP/HTTP upgrade never completed: nobody to refuse, just give up on this attempt.
        this.#log({ event: 'dial-failed', peer: conn.peer, remote: conn.remote, error: `no WebSocket connection within ${this.#handshakeTimeoutMs} ms` });
        this.#closeConn(conn, CLOSE_GOING_AWAY, 'timeout');
      } else if (phase !== 'established' && phase !== 'closed') {
        this.#refuse(conn, 'TRANSPORT_PEER_TIMEOUT', `handshake not completed within ${this.#handshakeTimeoutMs} ms`);
      }
    }, this.#handshakeTimeoutMs);
    conn.timer.unref();
    ws.on('message', (data, isBinary) => this.#onMessage(conn, toBytes(data), isBinary));
    ws.on('pong', () => {
      if (conn.state.phase === 'established') conn.state.link.alive = true;
    });
    ws.on('error', (e: Error & { code?: string }) => this.#onSocketError(conn, e));
    ws.on('close', (code, reason) => {
      this.#onClose(conn, code, reason.toString('utf8'));
      resolveClosed();
    });
    return conn;
  }

  #onInbound(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (this.#closing !== undefined) {
      ws.close(CLOSE_GOING_AWAY, 'shutting down');
      return;
    }
    if (this.#pending >= MAX_PENDING_HANDSHAKES) {
      // Not counted as a refusal of this peer: it is load shedding; the caller may retry.
      this.#log({ event: 'shed', remote, reason: `more than ${MAX_PENDING_HANDSHAKES} pending handshakes` });
      ws.close(CLOSE_TRY_AGAIN_LATER, 'too many pending handshakes');
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      return;
    }
    this.#newConn(ws, 'responder', remote, undefined);
  }

  #dial(d: Dialer): void {
    if (this.#closing !== undefined) return;
    const info = this.#opts.peers.get(d.peer);
    if (info === undefined) return; // removed from the directory: stop dialling
    this.#log({ event: 'dial', peer: d.peer, endpoint: info.endpoint, attempt: d.attempt });
    const ws = new WebSocket(info.endpoint, {
      perMessageDeflate: false,
      maxPayload: this.#maxMessageBytes + FRAME_OVERHEAD_BYTES,
      handshakeTimeout: this.#handshakeTimeoutMs,
      followRedirects: false,
      // RFC 6455 masking keeps attacker-chosen bytes from a browser out of proxy caches. Every
      // byte we send is a handshake message or AES-GCM ciphertext, never attacker-chosen, so a
      // zero mask (which ws then skips on both ends) costs nothing in security and saved ~0.1 s
      // per node per 1e6-parameter round in JS masking (bench/RESULTS.md, Round).
      generateMask: (mask: Buffer) => void mask.fill(0),
    });
    const conn = this.#newConn(ws, 'initiator', info.endpoint, d.peer);
    d.conn = conn;
    ws.on('open', () => {
      if (conn.state.phase !== 'connecting') return;
      let hello: Uint8Array;
      try {
        const r = startInitiator(this.#handshakeConfig(), d.peer);
        conn.state = { phase: 'await-ack', hs: r.state };
        hello = r.hello;
      } catch (e) {
        this.#refuseErr(conn, e);
        return;
      }
      ws.send(hello, { binary: true });
    });
  }

  #scheduleRedial(d: Dialer): void {
    if (this.#closing !== undefined || d.timer !== undefined) return;
    // Exponential backoff with "equal jitter": half fixed, half random, so restarts spread out.
    const base = Math.min(this.#reconnectMaxMs, this.#reconnectInitialMs * 2 ** Math.min(d.attempt, 30));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    d.attempt++;
    d.timer = setTimeout(() => {
      d.timer = undefined;
      this.#dial(d);
    }, delay);
    d.timer.unref();
  }

  #handshakeConfig(): HandshakeConfig {
    const directory: PeerDirectory = new Map([...this.#opts.peers].map(([r, info]) => [r, info.publicKey]));
    return { federation: this.#opts.federation, identity: this.#opts.identity, directory, randomBytes: (n) => randomBytes(n) };
  }

  #onMessage(conn: Conn, data: Uint8Array, isBinary: boolean): void {
    const st = conn.state;
    if (st.phase === 'closed' || st.phase === 'connecting') return;
    if (!isBinary) {
      this.#refuse(conn, st.phase === 'established' || st.phase === 'await-confirm' ? 'TRANSPORT_DECRYPT_FAILED' : 'TRANSPORT_HANDSHAKE_FAILED', 'text message on a binary-only link');
      return;
    }
    switch (st.phase) {
      case 'await-hello': {
        let res: ReturnType<typeof responderOnHello>;
        try {
          // Decoded once here (<= 1 KiB) to learn the claimed region for refusal reports and to
          // check the dial direction before spending an ECDH and a signature on it.
          const claimed = decodeHandshakeMsg(data, 'hello').from;
          conn.peer = claimed;
          if (this.#opts.peers.has(claimed) && !(claimed < this.#region)) {
            throw new TransportError(
              'TRANSPORT_HANDSHAKE_FAILED',
              `region "${claimed}" sorts after "${this.#region}", so "${this.#region}" dials it, not the other way round`,
            );
          }
          res = responderOnHello(this.#handshakeConfig(), data);
        } catch (e) {
          this.#refuseErr(conn, e);
          return;
        }
        conn.state = { phase: 'await-finish', hs: res.state };
        conn.ws.send(res.ack, { binary: true });
        return;
      }
      case 'await-finish': {
        let session: HandshakeSession;
        try {
          session = responderOnFinish(st.hs, data);
        } catch (e) {
          this.#refuseErr(conn, e);
          return;
        }
        const channel = this.#channelFrom(session);
        // Key confirmation for the initiator (see 'await-confirm'), sent before any app frame.
        conn.ws.send(channel.seal(new Uint8Array(0)), { binary: true });
        this.#establish(conn, session.peer, channel, bytesToHex(session.transcriptHash.subarray(0, 8)));
        return;
      }
      case 'await-ack': {
        let res: ReturnType<typeof initiatorOnAck>;
        try {
          res = initiatorOnAck(st.hs, data);
        } catch (e) {
          this.#refuseErr(conn, e);
          return;
        }
        conn.ws.send(res.finish, { binary: true });
        const channel = this.#channelFrom(res.session);
        conn.state = { phase: 'await-confirm', channel, peer: res.session.peer, sessionId: bytesToHex(res.session.transcriptHash.subarray(0, 8)) };
        return;
      }
      case 'await-confirm': {
        // Key confirmation: the responder's first frame (counter 0) is empty and proves it
        // accepted our finish and derived the same keys. Only then is the link up here.
        try {
          const confirm = st.channel.open(data);
          if (confirm.length !== 0) throw new TransportError('TRANSPORT_HANDSHAKE_FAILED', 'first frame after the handshake must be the empty key confirmation');
        } catch (e) {
          this.#refuseErr(conn, e);
          return;
        }
        this.#establish(conn, st.peer, st.channel, st.sessionId);
        return;
      }
      case 'established': {
        const link = st.link;
        let plaintext: Uint8Array;
        try {
          if (this.#opts.reuseBuffers === true) {
            const need = data.length - FRAME_OVERHEAD_BYTES;
            // one buffer for every link: each message is handled to the end before the next
            if (this.#recvBuf.length < need) this.#recvBuf = new Uint8Array(need);
            plaintext = link.channel.open(data, this.#recvBuf);
          } else {
            plaintext = link.channel.open(data);
          }
        } catch (e) {
          this.#refuseErr(conn, e);
          return;
        }
        link.alive = true;
        this.#bytesReceived[link.peer] = (this.#bytesReceived[link.peer] ?? 0) + data.length;
        // Outside the decrypt try: a throwing listener is the application's bug, not a bad
        // frame, so it must not close the link. It is logged (error name only: its message
        // could quote application data) and must not unwind into ws's parser.
        try {
          this.#opts.onDecrypted?.(link.peer, plaintext);
          this.emit('message', link.peer, plaintext);
        } catch (e) {
          this.#log({ event: 'listener-error', peer: link.peer, error: e instanceof Error ? e.name : typeof e });
        }
        return;
      }
    }
  }

  #channelFrom(session: HandshakeSession): SecureChannel {
    const channel = new SecureChannel(session);
    session.sendKey.fill(0); // the channel holds its own copies
    session.recvKey.fill(0);
    return channel;
  }

  #establish(conn: Conn, peer: string, channel: SecureChannel, sessionId: string): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
    if (conn.role === 'responder') this.#pending--;
    const link: Link = { peer, conn, channel, alive: true, sessionId };
    const old = this.#links.get(peer);
    if (old !== undefined) {
      // Only reachable after a full handshake with the listed key: the peer reconnected.
      this.#log({ event: 'replaced', peer, oldSession: old.sessionId, session: link.sessionId });
      this.#closeConn(old.conn, CLOSE_NORMAL, 'replaced by a newer link');
    }
    conn.state = { phase: 'established', link };
    this.#links.set(peer, link);
    const d = this.#dialers.get(peer);
    if (d !== undefined) d.attempt = 0;
    this.#log({ event: 'peer-up', peer, role: conn.role, session: link.sessionId, remote: conn.remote });
    this.emit('peer-up', peer);
  }

  /** Moves a connection to 'closed', wiping its secrets; emits peer-down if it was the live link. */
  #detach(conn: Conn, why: { code?: number; reason: string }): void {
    const st = conn.state;
    if (st.phase === 'closed') return;
    conn.state = { phase: 'closed' };
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
    if (st.phase === 'await-hello' || st.phase === 'await-finish') this.#pending--;
    if (st.phase === 'await-ack' || st.phase === 'await-finish') abortHandshake(st.hs);
    if (st.phase === 'await-confirm') st.channel.destroy();
    if (st.phase === 'established') {
      st.link.channel.destroy();
      if (this.#links.get(st.link.peer) === st.link) {
        this.#links.delete(st.link.peer);
        this.#log({ event: 'peer-down', peer: st.link.peer, session: st.link.sessionId, ...why });
        this.emit('peer-down', st.link.peer);
      }
    }
  }

  #closeConn(conn: Conn, code: number, reason: string): void {
    this.#detach(conn, { code, reason });
    const ws = conn.ws;
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate(); // nothing to say to a socket that never opened
      return;
    }
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    if (ws.readyState !== WebSocket.CLOSED) setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  #onClose(conn: Conn, code: number, reason: string): void {
    this.#detach(conn, { code, reason: reason || 'closed by peer' });
    this.#conns.delete(conn);
    if (conn.role === 'initiator' && conn.peer !== undefined) {
      const d = this.#dialers.get(conn.peer);
      if (d !== undefined && d.conn === conn) {
        d.conn = undefined;
        this.#scheduleRedial(d);
      }
    }
  }

  #onSocketError(conn: Conn, e: Error & { code?: string }): void {
    const code = e.code;
    if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
      // The remote broke the WebSocket protocol or a limit; ws closes the socket itself.
      if (conn.state.phase === 'closed') return;
      const ours: ErrorCode = code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'WIRE_TOO_LARGE' : 'WIRE_MALFORMED';
      this.#countRefusal(conn, ours, e.message);
      this.#detach(conn, { reason: e.message });
      return;
    }
    // Network-level failure (ECONNREFUSED, ECONNRESET, …): log only; 'close' follows.
    this.#log({ event: conn.state.phase === 'connecting' ? 'dial-failed' : 'socket-error', peer: conn.peer, remote: conn.remote, error: code ?? e.message });
  }

  #refuseErr(conn: Conn, e: unknown): void {
    if (e instanceof MpcError) this.#refuse(conn, e.code, e.message);
    else this.#refuse(conn, 'TRANSPORT_HANDSHAKE_FAILED', `internal error: ${errMessage(e)}`);
  }

  #countRefusal(conn: Conn, code: ErrorCode, reason: string): void {
    this.#refused++;
    const info: RefusedInfo = { code, reason, remote: conn.remote };
    if (conn.peer !== undefined) info.peer = conn.peer;
    this.#log({ event: 'refused', ...info });
    this.emit('refused', info);
  }

  #refuse(conn: Conn, code: ErrorCode, reason: string): void {
    if (conn.state.phase === 'closed') return;
    this.#countRefusal(conn, code, reason);
    // The close reason (<= 123 bytes) carries only the code; details stay in our log.
    this.#closeConn(conn, CLOSE_POLICY_VIOLATION, code);
  }

  #tickHeartbeat(): void {
    for (const link of [...this.#links.values()]) {
      if (!link.alive) {
        this.#log({ event: 'heartbeat-timeout', peer: link.peer, session: link.sessionId });
        this.#detach(link.conn, { reason: 'heartbeat timeout' });
        link.conn.ws.terminate();
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

  #log(event: Record<string, unknown>): void {
    const log = this.#opts.log;
    if (log === undefined) return;
    try {
      log({ region: this.#region, ...event });
    } catch {
      // a broken logger must not break the link
    }
  }
}
