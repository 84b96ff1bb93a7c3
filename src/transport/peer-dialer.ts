/**
 * The dialling side of the peer network: one dialer per peer whose region sorts after ours,
 * opening the WebSocket (zero mask, no compression, maxPayload), sending the hello once it is
 * open, and reconnecting with exponential backoff and jitter whenever that socket closes, until
 * the network closes. The handshake that follows is peer-conns.ts'.
 * @module
 */

import { WebSocket } from 'ws';
import { FRAME_OVERHEAD_BYTES } from './channel.js';
import { startInitiator } from './handshake.js';
import type { Conn } from './peer-links.js';
import { handshakeConfig, type Connections } from './peer-conns.js';
import type { MeshContext } from './peer-options.js';

interface Dialer {
  peer: string;
  attempt: number;
  timer: NodeJS.Timeout | undefined;
  conn: Conn | undefined;
}

/** The dialers of one network, by peer region. */
export class PeerDialer {
  readonly #ctx: MeshContext;
  readonly #conns: Connections;
  readonly #dialers = new Map<string, Dialer>();

  constructor(ctx: MeshContext, conns: Connections) {
    this.#ctx = ctx;
    this.#conns = conns;
  }

  /** Starts dialling every peer that sorts higher than this region (lower ones dial us). */
  start(): void {
    for (const peer of this.#ctx.opts.peers.keys()) {
      if (this.#ctx.settings.region < peer) {
        const d: Dialer = { peer, attempt: 0, timer: undefined, conn: undefined };
        this.#dialers.set(peer, d);
        this.#dial(d);
      }
    }
  }

  /** A link to `peer` is up: the next failure starts the backoff from the beginning. */
  resetBackoff(peer: string): void {
    const d = this.#dialers.get(peer);
    if (d !== undefined) d.attempt = 0;
  }

  /** An initiator socket closed: if it was this dialer's current one, dial again later. */
  connClosed(conn: Conn): void {
    if (conn.peer === undefined) return;
    const d = this.#dialers.get(conn.peer);
    if (d !== undefined && d.conn === conn) {
      d.conn = undefined;
      this.#scheduleRedial(d);
    }
  }

  /** Cancels every pending redial (the network is closing). */
  stop(): void {
    for (const d of this.#dialers.values()) if (d.timer) clearTimeout(d.timer);
  }

  #dial(d: Dialer): void {
    if (this.#ctx.closing) return;
    const info = this.#ctx.opts.peers.get(d.peer);
    if (info === undefined) return; // removed from the directory: stop dialling
    this.#ctx.log({ event: 'dial', peer: d.peer, endpoint: info.endpoint, attempt: d.attempt });
    const ws = new WebSocket(info.endpoint, {
      perMessageDeflate: false,
      maxPayload: this.#ctx.settings.maxMessageBytes + FRAME_OVERHEAD_BYTES,
      handshakeTimeout: this.#ctx.settings.handshakeTimeoutMs,
      followRedirects: false,
      // RFC 6455 masking keeps attacker-chosen bytes from a browser out of proxy caches. Every
      // byte we send is a handshake message or AES-GCM ciphertext, never attacker-chosen, so a
      // zero mask (which ws then skips on both ends) costs nothing in security and saved ~0.1 s
      // per node per 1e6-parameter round in JS masking (bench/RESULTS.md, Round).
      generateMask: (mask: Buffer) => void mask.fill(0),
    });
    const conn = this.#conns.newConn(ws, 'initiator', info.endpoint, d.peer);
    d.conn = conn;
    ws.on('open', () => {
      if (conn.state.phase !== 'connecting') return;
      let hello: Uint8Array;
      try {
        const r = startInitiator(handshakeConfig(this.#ctx), d.peer);
        conn.state = { phase: 'await-ack', hs: r.state };
        hello = r.hello;
      } catch (e) {
        this.#conns.refuseErr(conn, e);
        return;
      }
      ws.send(hello, { binary: true });
    });
  }

  #scheduleRedial(d: Dialer): void {
    if (this.#ctx.closing || d.timer !== undefined) return;
    const { reconnectInitialMs, reconnectMaxMs } = this.#ctx.settings;
    // Exponential backoff with "equal jitter": half fixed, half random, so restarts spread out.
    const base = Math.min(reconnectMaxMs, reconnectInitialMs * 2 ** Math.min(d.attempt, 30));
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    d.attempt++;
    d.timer = setTimeout(() => {
      d.timer = undefined;
      this.#dial(d);
    }, delay);
    d.timer.unref();
  }
}
