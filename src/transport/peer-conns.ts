/**
 * The sockets of the peer network, dialled or accepted, from open to close: the handshake run
 * over each one (hello, hello-ack, finish, key confirmation: handshake.ts), the deadline, the
 * move to an established link (replacing an older link of the same region), refusals with
 * their close codes, and the wiping of a socket's secrets when it goes away. Which sockets are
 * opened is the dialer's and the listener's business; traffic on a link is peer-links.ts'.
 * @module
 */

import { randomBytes } from '@noble/hashes/utils.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { WebSocket } from 'ws';
import { MpcError, TransportError, type ErrorCode } from '../errors.js';
import { SecureChannel } from './channel.js';
import {
  abortHandshake,
  decodeHandshakeMsg,
  initiatorOnAck,
  responderOnFinish,
  responderOnHello,
  type HandshakeConfig,
  type HandshakeSession,
  type PeerDirectory,
} from './handshake.js';
import { FRESH_LINK_COUNTERS, type Conn, type Link, type LinkTable } from './peer-links.js';
import {
  CLOSE_GOING_AWAY,
  CLOSE_GRACE_MS,
  CLOSE_NORMAL,
  CLOSE_POLICY_VIOLATION,
  errMessage,
  toBytes,
  type MeshContext,
  type RefusedInfo,
} from './peer-options.js';

/** What the connections tell the rest of the network. */
export interface ConnHooks {
  /** A link to `peer` was established (after 'replaced', before 'peer-up'). */
  established(peer: string): void;
  /** An initiator socket closed (after its state was wiped). */
  initiatorClosed(conn: Conn): void;
}

/** The handshake configuration of this node (the directory is read from the peers each time). */
export function handshakeConfig(ctx: MeshContext): HandshakeConfig {
  const directory: PeerDirectory = new Map([...ctx.opts.peers].map(([r, info]) => [r, info.publicKey]));
  return { federation: ctx.opts.federation, identity: ctx.opts.identity, directory, randomBytes: (n) => randomBytes(n) };
}

/** Every open socket of the network and the handshake state of each. */
export class Connections {
  readonly #ctx: MeshContext;
  readonly #links: LinkTable;
  readonly #hooks: ConnHooks;
  /** Every socket not yet closed. */
  readonly all = new Set<Conn>();
  /** Accepted sockets not yet authenticated (capped by MAX_PENDING_HANDSHAKES). */
  pending = 0;
  /** Connections or frames refused since start. */
  refused = 0;

  constructor(ctx: MeshContext, links: LinkTable, hooks: ConnHooks) {
    this.#ctx = ctx;
    this.#links = links;
    this.#hooks = hooks;
  }

  /** Tracks a new socket: its deadline and its ws events. */
  newConn(ws: WebSocket, role: Conn['role'], remote: string, peer: string | undefined): Conn {
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    const conn: Conn = { ws, role, remote, peer, state: role === 'responder' ? { phase: 'await-hello' } : { phase: 'connecting' }, timer: undefined, closed };
    this.all.add(conn);
    if (role === 'responder') this.pending++;
    const timeoutMs = this.#ctx.settings.handshakeTimeoutMs;
    conn.timer = setTimeout(() => {
      conn.timer = undefined;
      const phase = conn.state.phase;
      if (phase === 'connecting') {
        // TCP/HTTP upgrade never completed: nobody to refuse, just give up on this attempt.
        this.#ctx.log({ event: 'dial-failed', peer: conn.peer, remote: conn.remote, error: `no WebSocket connection within ${timeoutMs} ms` });
        this.closeConn(conn, CLOSE_GOING_AWAY, 'timeout');
      } else if (phase !== 'established' && phase !== 'closed') {
        this.#refuse(conn, 'TRANSPORT_PEER_TIMEOUT', `handshake not completed within ${timeoutMs} ms`);
      }
    }, timeoutMs);
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

  #onMessage(conn: Conn, data: Uint8Array, isBinary: boolean): void {
    const st = conn.state;
    if (st.phase === 'closed' || st.phase === 'connecting') return;
    if (!isBinary) {
      this.#refuse(conn, st.phase === 'established' || st.phase === 'await-confirm' ? 'TRANSPORT_DECRYPT_FAILED' : 'TRANSPORT_HANDSHAKE_FAILED', 'text message on a binary-only link');
      return;
    }
    const region = this.#ctx.settings.region;
    switch (st.phase) {
      case 'await-hello': {
        let res: ReturnType<typeof responderOnHello>;
        try {
          // Decoded once here (<= 1 KiB) to learn the claimed region for refusal reports and to
          // check the dial direction before spending an ECDH and a signature on it.
          const claimed = decodeHandshakeMsg(data, 'hello').from;
          conn.peer = claimed;
          if (this.#ctx.opts.peers.has(claimed) && !(claimed < region)) {
            throw new TransportError(
              'TRANSPORT_HANDSHAKE_FAILED',
              `region "${claimed}" sorts after "${region}", so "${region}" dials it, not the other way round`,
            );
          }
          res = responderOnHello(handshakeConfig(this.#ctx), data);
        } catch (e) {
          this.refuseErr(conn, e);
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
          this.refuseErr(conn, e);
          return;
        }
        const channel = channelFrom(session);
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
          this.refuseErr(conn, e);
          return;
        }
        conn.ws.send(res.finish, { binary: true });
        const channel = channelFrom(res.session);
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
          this.refuseErr(conn, e);
          return;
        }
        this.#establish(conn, st.peer, st.channel, st.sessionId);
        return;
      }
      case 'established': {
        const link = st.link;
        let plaintext: Uint8Array;
        try {
          plaintext = this.#links.receive(link, data);
        } catch (e) {
          this.refuseErr(conn, e);
          return;
        }
        // Outside the decrypt try: a throwing listener is the application's bug, not a bad
        // frame, so it must not close the link. It is logged (error name only: its message
        // could quote application data) and must not unwind into ws's parser.
        try {
          this.#ctx.opts.onDecrypted?.(link.peer, plaintext);
          this.#ctx.emit('message', link.peer, plaintext);
        } catch (e) {
          this.#ctx.log({ event: 'listener-error', peer: link.peer, error: e instanceof Error ? e.name : typeof e });
        }
        return;
      }
    }
  }

  #establish(conn: Conn, peer: string, channel: SecureChannel, sessionId: string): void {
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
    if (conn.role === 'responder') this.pending--;
    const link: Link = { peer, conn, channel, alive: true, sessionId, ...FRESH_LINK_COUNTERS };
    const links = this.#links.links;
    const old = links.get(peer);
    if (old !== undefined) {
      // Only reachable after a full handshake with the listed key: the peer reconnected.
      this.#ctx.log({ event: 'replaced', peer, oldSession: old.sessionId, session: link.sessionId });
      this.closeConn(old.conn, CLOSE_NORMAL, 'replaced by a newer link');
    }
    conn.state = { phase: 'established', link };
    links.set(peer, link);
    this.#hooks.established(peer);
    this.#ctx.log({ event: 'peer-up', peer, role: conn.role, session: link.sessionId, remote: conn.remote });
    this.#ctx.emit('peer-up', peer);
  }

  /** Moves a connection to 'closed', wiping its secrets; emits peer-down if it was the live link. */
  detach(conn: Conn, why: { code?: number; reason: string }): void {
    const st = conn.state;
    if (st.phase === 'closed') return;
    conn.state = { phase: 'closed' };
    if (conn.timer) clearTimeout(conn.timer);
    conn.timer = undefined;
    if (st.phase === 'await-hello' || st.phase === 'await-finish') this.pending--;
    if (st.phase === 'await-ack' || st.phase === 'await-finish') abortHandshake(st.hs);
    if (st.phase === 'await-confirm') st.channel.destroy();
    if (st.phase === 'established') {
      st.link.channel.destroy();
      const links = this.#links.links;
      if (links.get(st.link.peer) === st.link) {
        links.delete(st.link.peer);
        this.#ctx.log({ event: 'peer-down', peer: st.link.peer, session: st.link.sessionId, ...why });
        this.#ctx.emit('peer-down', st.link.peer);
      }
    }
  }

  /** Detaches the connection and closes its socket (terminated after CLOSE_GRACE_MS). */
  closeConn(conn: Conn, code: number, reason: string): void {
    this.detach(conn, { code, reason });
    const ws = conn.ws;
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate(); // nothing to say to a socket that never opened
      return;
    }
    if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
    if (ws.readyState !== WebSocket.CLOSED) setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
  }

  #onClose(conn: Conn, code: number, reason: string): void {
    this.detach(conn, { code, reason: reason || 'closed by peer' });
    this.all.delete(conn);
    if (conn.role === 'initiator' && conn.peer !== undefined) this.#hooks.initiatorClosed(conn);
  }

  #onSocketError(conn: Conn, e: Error & { code?: string }): void {
    const code = e.code;
    if (typeof code === 'string' && code.startsWith('WS_ERR_')) {
      // The remote broke the WebSocket protocol or a limit; ws closes the socket itself.
      if (conn.state.phase === 'closed') return;
      const ours: ErrorCode = code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'WIRE_TOO_LARGE' : 'WIRE_MALFORMED';
      this.#countRefusal(conn, ours, e.message);
      this.detach(conn, { reason: e.message });
      return;
    }
    // Network-level failure (ECONNREFUSED, ECONNRESET, …): log only; 'close' follows.
    this.#ctx.log({ event: conn.state.phase === 'connecting' ? 'dial-failed' : 'socket-error', peer: conn.peer, remote: conn.remote, error: code ?? e.message });
  }

  /** Refuses the connection for an error thrown while handling it. */
  refuseErr(conn: Conn, e: unknown): void {
    if (e instanceof MpcError) this.#refuse(conn, e.code, e.message);
    else this.#refuse(conn, 'TRANSPORT_HANDSHAKE_FAILED', `internal error: ${errMessage(e)}`);
  }

  #countRefusal(conn: Conn, code: ErrorCode, reason: string): void {
    this.refused++;
    const info: RefusedInfo = { code, reason, remote: conn.remote };
    if (conn.peer !== undefined) info.peer = conn.peer;
    this.#ctx.log({ event: 'refused', ...info });
    this.#ctx.emit('refused', info);
  }

  #refuse(conn: Conn, code: ErrorCode, reason: string): void {
    if (conn.state.phase === 'closed') return;
    this.#countRefusal(conn, code, reason);
    // The close reason (<= 123 bytes) carries only the code; details stay in our log.
    this.closeConn(conn, CLOSE_POLICY_VIOLATION, code);
  }
}

function channelFrom(session: HandshakeSession): SecureChannel {
  const channel = new SecureChannel(session);
  session.sendKey.fill(0); // the channel holds its own copies
  session.recvKey.fill(0);
  return channel;
}
