/**
 * The node's two vector streams: dealing (this region's shares, chunk by chunk, to every
 * holder) and publishing (this node's aggregate share to every other holder). Each streams from
 * the round's secret memory with one chunk in flight per link, yields to I/O between chunks,
 * reports the end to the protocol as an event, and stops the moment the round is no longer live
 * (its memory is wiped then and may already belong to another round).
 * @module
 */
import { ProtocolError } from '../errors.js';
import type { PeerMessage } from '../protocol/messages.js';
import { regionOfX, xOf } from '../protocol/params.js';
import type { RoundEvent } from '../protocol/round.js';
import type { Round } from './round-registry.js';

/** What a stream needs from its node. */
export interface StreamHost {
  isLive(r: Round): boolean;
  send(to: string, msg: PeerMessage): Promise<void>;
  apply(r: Round, ev: RoundEvent): void;
  abort(r: Round, err: ProtocolError): void;
}

/**
 * Lets the event loop run between two streamed chunks. On loopback (and on any link whose
 * kernel buffer has room) every send completes at once, so without this a dealer would stream
 * its whole vector in one macrotask: incoming shares wait unread, and every chunk's frame and
 * cipher output (~1 MiB) stays allocated until the end (measured: 110-150 MB of dead
 * ArrayBuffers at 1e7 parameters).
 */
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Streams the round's shares to `holders` (this node's own share stays in memory), then applies
 * the `dealt` event with the digest of each holder's share stream.
 * @param afterDealt - Test fault hook, run once `dealt` has been applied.
 */
export async function dealShares(host: StreamHost, r: Round, self: string, holders: readonly string[], random: (b: Uint8Array) => void, afterDealt?: () => Promise<void>): Promise<void> {
  const p = r.state.params;
  const it = r.memory.dealChunks(p.threshold, p.participants.length, holders.map((h) => xOf(p, h)), xOf(p, self), random);
  try {
    for (;;) {
      // checked before resuming the generator: once the round has ended its vectors are wiped
      // and freed (and may already belong to another round), so never compute on them again
      if (!host.isLive(r)) return;
      const s = it.next();
      if (s.done) {
        const digests = new Map([...s.value].map(([x, d]) => [regionOfX(p, x), d]));
        host.apply(r, { kind: 'dealt', digests, now: Date.now() });
        if (afterDealt) await afterDealt();
        return;
      }
      const sends: Promise<void>[] = [];
      for (const [x, data] of s.value.shares) sends.push(host.send(regionOfX(p, x), { type: 'share', round: r.id, offset: s.value.offset, data }));
      await Promise.all(sends); // backpressure: one chunk in flight per link
      await yieldToIo();
    }
  } catch (e) {
    host.abort(r, new ProtocolError('PROTOCOL_ABORTED', `dealing failed: ${(e as Error).message}`));
  } finally {
    it.return(new Map()); // an abandoned generator still wipes and frees its scratch chunks
  }
}

/**
 * Relays the decision to `to`, streams this node's aggregate share to them, then applies the
 * `published` event with the stream's digest (the protocol holds back peers' agg-done until then).
 */
export async function publishAggregate(host: StreamHost, r: Round, to: readonly string[], decision: PeerMessage): Promise<void> {
  for (const p of to) void host.send(p, decision);
  try {
    const it = r.memory.aggChunks();
    for (;;) {
      // the vectors are wiped once the round is over: never stream from them after that
      if (!host.isLive(r) || r.state.phase !== 'combine') return;
      const s = it.next();
      if (s.done) {
        host.apply(r, { kind: 'published', digest: s.value, now: Date.now() });
        return;
      }
      await Promise.all(to.map((p) => host.send(p, { type: 'agg', round: r.id, offset: s.value.offset, data: s.value.data })));
      await yieldToIo();
    }
  } catch (e) {
    host.abort(r, new ProtocolError('PROTOCOL_ABORTED', `publishing the aggregate share failed: ${(e as Error).message}`));
  }
}
