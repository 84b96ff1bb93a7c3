/**
 * The accepting side of the peer network: the WebSocket server (bind, maxPayload, no
 * compression), and the admission of each inbound socket: turned away while closing, shed
 * with 1013 above MAX_PENDING_HANDSHAKES unauthenticated sockets, otherwise handed to the
 * connections (peer-conns.ts) to run the responder's handshake.
 * @module
 */

import type { IncomingMessage } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { ConfigError, TransportError } from '../errors.js';
import { FRAME_OVERHEAD_BYTES } from './channel.js';
import type { Connections } from './peer-conns.js';
import { CLOSE_GOING_AWAY, CLOSE_GRACE_MS, CLOSE_TRY_AGAIN_LATER, errMessage, MAX_PENDING_HANDSHAKES, type MeshContext } from './peer-options.js';

/** The server of one network. */
export class PeerListener {
  readonly #ctx: MeshContext;
  readonly #conns: Connections;
  #server: WebSocketServer | undefined;

  constructor(ctx: MeshContext, conns: Connections) {
    this.#ctx = ctx;
    this.#conns = conns;
  }

  /**
   * Binds `opts.listen` and starts accepting.
   * @returns The port actually bound.
   * @throws {ConfigError} CONFIG_INVALID if the address cannot be bound.
   * @throws {TransportError} TRANSPORT_CLOSED if the network was closed while binding.
   */
  async listen(): Promise<number> {
    const { host, port } = this.#ctx.opts.listen;
    const server = new WebSocketServer({
      host,
      port,
      perMessageDeflate: false,
      maxPayload: this.#ctx.settings.maxMessageBytes + FRAME_OVERHEAD_BYTES,
      clientTracking: false,
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        server.off('listening', onListening);
        const code = (e as NodeJS.ErrnoException).code;
        reject(code === 'EADDRINUSE'
          ? new ConfigError('CONFIG_ADDRESS_IN_USE', `cannot listen for peers on ${host}:${port}: the address is in use by another process (another node?); stop it, or change the region's endpoint (or --peer-listen)`)
          : new ConfigError('CONFIG_INVALID', `cannot listen on ${host}:${port}: ${code ?? e.message}`));
      };
      const onListening = (): void => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
    });
    this.#server = server;
    if (this.#ctx.closing) {
      // close() was called while we were binding: it did not see the server yet.
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw new TransportError('TRANSPORT_CLOSED', 'network closed during start()');
    }
    server.on('error', (e) => this.#ctx.log({ event: 'server-error', error: errMessage(e) }));
    server.on('connection', (ws, req) => this.#onInbound(ws, req));
    const addr = server.address();
    const boundPort = typeof addr === 'object' && addr !== null ? addr.port : port;
    this.#ctx.log({ event: 'listening', host, port: boundPort });
    return boundPort;
  }

  /** Stops accepting; resolves once the server is closed (at once if it never bound). */
  close(): Promise<void> {
    const server = this.#server;
    return server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
  }

  #onInbound(ws: WebSocket, req: IncomingMessage): void {
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    if (this.#ctx.closing) {
      ws.close(CLOSE_GOING_AWAY, 'shutting down');
      return;
    }
    if (this.#conns.pending >= MAX_PENDING_HANDSHAKES) {
      // Not counted as a refusal of this peer: it is load shedding; the caller may retry.
      this.#ctx.log({ event: 'shed', remote, reason: `more than ${MAX_PENDING_HANDSHAKES} pending handshakes` });
      ws.close(CLOSE_TRY_AGAIN_LATER, 'too many pending handshakes');
      setTimeout(() => ws.terminate(), CLOSE_GRACE_MS).unref();
      return;
    }
    this.#conns.newConn(ws, 'responder', remote, undefined);
  }
}
