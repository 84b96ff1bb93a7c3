/**
 * The peer network's settings: its defaults and limits, the options and event types of
 * {@link PeerNetwork} (peer-network.ts), their validation, and the context the parts of the
 * network (dialer, listener, connections, links) share.
 * @module
 */

import type { RawData } from 'ws';
import { ConfigError, type ErrorCode } from '../errors.js';
import { isRegionId, REGION_ID_RULE } from '../core/ids.js';
import { MAX_MESSAGE_BYTES } from '../wire/limits.js';
import type { Identity } from './identity.js';

/** Default largest application message: the wire's MAX_MESSAGE_BYTES (1 MiB, src/wire/limits.ts). */
export const DEFAULT_MAX_MESSAGE_BYTES = MAX_MESSAGE_BYTES;
/** Default deadline for a handshake, from socket open to authenticated link. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 5000;
/** Default WebSocket ping interval; a link that misses one whole interval is terminated. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;
/**
 * The default drain timeout is the heartbeat interval divided by this: a link whose socket has
 * completed no write of its queued frames for half the interval is cut (5 s by default), well
 * before the heartbeat (10-20 s) notices a peer that is hung but still holds its TCP connection.
 * Not less: the kernel wakes a blocked writer only once about a third of its send buffer has
 * drained (Linux), so a slow link completes writes in steps of up to ~1.3 MB with 4 MB buffers,
 * one step per 5 s at 270 KB/s.
 */
export const DRAIN_TIMEOUT_HEARTBEAT_DIVISOR = 2;
/** Drain checks per drain timeout: a stalled link is cut within (1 + 1/this) x drainTimeoutMs. */
export const DRAIN_CHECKS_PER_TIMEOUT = 4;
/**
 * The default stall bound is the drain timeout divided by this (250 ms by default): a link with
 * frames queued that has completed no write and brought no frame from its peer for that long is
 * reported stalled (`'peer-stalled'`), and flowing again (`'peer-flowing'`) at its next completed
 * write or received frame. Nothing is cut: the round stops waiting for a stalled peer only once
 * every other participant has answered (docs/protocol.md "Dropouts"), which a healthy link rarely
 * leaves it to be, so the bound can be far below the drain timeout that cuts links.
 */
export const STALL_DRAIN_DIVISOR = 20;
/** Stall checks per stall bound: a stall is reported within (1 + 1/this) x stallMs. */
export const STALL_CHECKS_PER_BOUND = 4;
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
  /**
   * Drain timeout in ms (default heartbeatIntervalMs / 2): a link with frames queued whose socket
   * has completed no write for this long is cut (`'drain-timeout'` log event, `'peer-down'`).
   * Progress-based: a slow link that keeps taking bytes is never cut by it.
   */
  drainTimeoutMs?: number;
  /**
   * Stall bound in ms (default drainTimeoutMs / 20): a link with frames queued that has completed
   * no write and received no frame for this long is reported stalled (`'peer-stalled'`, then
   * `'peer-flowing'` once it moves); it is not cut for it.
   */
  stallMs?: number;
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
  /** The link to `peer` has frames queued and has neither completed a write nor brought a frame for `stallMs`. */
  'peer-stalled': [peer: string];
  /** A stalled link completed a write or brought a frame (it is not stalled any more). */
  'peer-flowing': [peer: string];
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
  /** Links cut by the drain timeout since start, by peer. */
  drainTimeouts: Record<string, number>;
}

/** The validated numbers of a {@link PeerNetworkOptions}, defaults filled in. */
export interface PeerSettings {
  /** This node's region id. */
  region: string;
  maxMessageBytes: number;
  handshakeTimeoutMs: number;
  heartbeatIntervalMs: number;
  drainTimeoutMs: number;
  stallMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

/** What the parts of one peer network share (built by the PeerNetwork facade). */
export interface MeshContext {
  readonly opts: PeerNetworkOptions;
  readonly settings: PeerSettings;
  /** Whether `close()` has been called. */
  readonly closing: boolean;
  /** Logs one structured event (the region is added; a throwing logger is ignored). */
  log(event: Record<string, unknown>): void;
  /** Emits one of the network's events. */
  emit<K extends keyof PeerNetworkEvents>(event: K, ...args: PeerNetworkEvents[K]): void;
}

function positiveInt(v: unknown, title: string, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) throw new RangeError(`"${title}" expected a positive integer, got ${String(v)}`);
  return v;
}

function checkPeer(self: string, region: string, info: PeerInfo): void {
  const bad = (what: string): ConfigError => new ConfigError('CONFIG_INVALID', `peer "${String(region).slice(0, 128)}": ${what}`);
  if (!isRegionId(region)) throw bad(REGION_ID_RULE);
  if (region === self) throw bad('this node\'s own region must not be listed among its peers');
  if (!(info.publicKey instanceof Uint8Array) || info.publicKey.length !== 32) throw bad('publicKey must be 32 bytes (Ed25519)');
  let url: URL;
  try {
    url = new URL(info.endpoint);
  } catch {
    throw bad('endpoint must be a URL like ws://host:port');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw bad(`endpoint must use ws:// or wss://, got ${url.protocol}`);
}

/**
 * Validates the options and fills in the defaults.
 * @throws {ConfigError} CONFIG_INVALID for a bad identity, listen address or peer entry.
 * @throws {RangeError} For out-of-range numeric options.
 */
export function resolveSettings(opts: PeerNetworkOptions): PeerSettings {
  if (!isRegionId(opts.identity?.region)) throw new ConfigError('CONFIG_INVALID', 'identity.region is not a valid region id');
  const heartbeatIntervalMs = positiveInt(opts.heartbeatIntervalMs, 'heartbeatIntervalMs', DEFAULT_HEARTBEAT_INTERVAL_MS);
  const drainTimeoutMs = positiveInt(opts.drainTimeoutMs, 'drainTimeoutMs', Math.max(1, Math.round(heartbeatIntervalMs / DRAIN_TIMEOUT_HEARTBEAT_DIVISOR)));
  const settings: PeerSettings = {
    region: opts.identity.region,
    maxMessageBytes: positiveInt(opts.maxMessageBytes, 'maxMessageBytes', DEFAULT_MAX_MESSAGE_BYTES),
    handshakeTimeoutMs: positiveInt(opts.handshakeTimeoutMs, 'handshakeTimeoutMs', DEFAULT_HANDSHAKE_TIMEOUT_MS),
    heartbeatIntervalMs,
    drainTimeoutMs,
    stallMs: positiveInt(opts.stallMs, 'stallMs', Math.max(1, Math.round(drainTimeoutMs / STALL_DRAIN_DIVISOR))),
    reconnectInitialMs: positiveInt(opts.reconnect?.initialDelayMs, 'reconnect.initialDelayMs', DEFAULT_RECONNECT_INITIAL_MS),
    reconnectMaxMs: positiveInt(opts.reconnect?.maxDelayMs, 'reconnect.maxDelayMs', DEFAULT_RECONNECT_MAX_MS),
  };
  if (typeof opts.listen?.host !== 'string' || !Number.isInteger(opts.listen.port) || opts.listen.port < 0 || opts.listen.port > 65535) {
    throw new ConfigError('CONFIG_INVALID', 'listen must be { host: string, port: 0..65535 }');
  }
  for (const [region, info] of opts.peers) checkPeer(settings.region, region, info);
  return settings;
}

/** A ws message as one byte array. */
export function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

export function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
