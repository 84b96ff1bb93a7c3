/**
 * The node's two vector streams: dealing (this region's shares, chunk by chunk, to every
 * holder) and publishing (this node's aggregate share to every other holder). Each runs one
 * pipeline per peer, one chunk in flight on its link, so a slow or stopped peer delays only its
 * own stream (memory stays O(chunk) per peer: the dealing deals a lagging holder's chunk again,
 * the aggregate share is read where each stream stands). A peer's stream ends when its share is
 * out, when its link is gone (what it would send is lost: the protocol treats the peer as
 * dropped, and the transport cuts a peer that takes no bytes, docs/transport.md), or the moment
 * the round is no longer live (its memory is wiped then and may already belong to another
 * round). Each yields to I/O between chunks and reports its end to the protocol as an event
 * once every peer's stream has ended.
 * @module
 */
import { ProtocolError } from '../errors.js';
import type { PeerMessage } from '../protocol/messages.js';
import { regionOfX, xOf } from '../protocol/params.js';
import { seededHolders } from '../protocol/fan-in.js';
import type { SeededShareDealing } from '../protocol/memory/index.js';
import { WIRE_CHUNK_ELEMS } from '../protocol/memory/index.js';
import type { Effect, RoundEvent } from '../protocol/round.js';
import type { Round } from './round-registry.js';

/** What a stream needs from its node. */
export interface StreamHost {
  isLive(r: Round): boolean;
  /** Whether an authenticated link to `peer` is up. */
  linked(peer: string): boolean;
  send(to: string, msg: PeerMessage): Promise<void>;
  apply(r: Round, ev: RoundEvent): void;
  abort(r: Round, err: ProtocolError): void;
}

/** One chunk of a vector stream: a view into WASM memory, valid until the next call into it. */
type Chunk = { offset: number; data: Uint8Array } | null;

/**
 * Lets the event loop run between two streamed chunks. On loopback (and on any link whose
 * kernel buffer has room) every send completes at once, so without this a dealer would stream
 * its whole vector in one macrotask: incoming shares wait unread, and every chunk's frame and
 * cipher output (~1 MiB) stays allocated until the end (measured: 110-150 MB of dead
 * ArrayBuffers at 1e7 parameters).
 */
const yieldToIo = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * One peer's pipeline: takes the next chunk, sends it, waits for the link's backpressure, until
 * the stream is done, the link to `peer` is gone or `live()` turns false.
 */
async function streamTo(host: StreamHost, peer: string, live: () => boolean, next: () => Chunk, message: (offset: number, data: Uint8Array) => PeerMessage): Promise<void> {
  for (;;) {
    // checked before taking a chunk: once the round has ended its vectors are wiped and freed
    // (and may already belong to another round), so never read or compute on them again
    if (!live() || !host.linked(peer)) return;
    const c = next();
    if (c === null) return;
    await host.send(peer, message(c.offset, c.data)); // encrypted before it returns: the view may go
    await yieldToIo();
  }
}

/**
 * Streams the round's shares to `holders` (this node's own share stays in memory), one pipeline
 * per holder, then applies the `dealt` event with the digest of each holder's share stream.
 * @param afterDealt - Test fault hook, run once `dealt` has been applied.
 */
export async function dealShares(host: StreamHost, r: Round, self: string, holders: readonly string[], random: (b: Uint8Array) => void, afterDealt?: () => Promise<void>): Promise<void> {
  const p = r.state.params;
  if (p.protocol === 2) return commitSeededShares(host, r, self, holders, random);
  const live = (): boolean => host.isLive(r);
  let dealing;
  try {
    dealing = r.memory.startDealing(p.threshold, p.participants.length, holders.map((h) => xOf(p, h)), xOf(p, self), random);
    const d = dealing;
    await Promise.all(
      holders.filter((h) => h !== self).map((h) => {
        const x = xOf(p, h);
        return streamTo(host, h, live, () => d.next(x), (offset, data) => ({ type: 'share', round: r.id, offset, data }));
      }),
    );
    // streams that ended early (their links went) left chunks no one dealt: the digests and the
    // own share need them, a chunk per macrotask like the streams
    while (live() && d.dealAhead()) await yieldToIo();
    if (!live()) return;
    const digests = new Map([...d.finish()].map(([x, dg]) => [regionOfX(p, x), dg]));
    host.apply(r, { kind: 'dealt', digests, now: Date.now() });
    if (afterDealt) await afterDealt();
  } catch (e) {
    host.abort(r, new ProtocolError('PROTOCOL_ABORTED', `dealing failed: ${(e as Error).message}`));
  } finally {
    dealing?.close(); // an abandoned dealing still wipes and frees its chunks
  }
}

/**
 * Version 2, first pass: deals the whole input once to take every holder's digest (nothing is
 * sent) and applies `dealt`, so the commitments go out before any share (docs/protocol.md
 * "Dealer consistency"). The dealing stays open on the round for `streamSeededShares`.
 */
async function commitSeededShares(host: StreamHost, r: Round, self: string, holders: readonly string[], random: (b: Uint8Array) => void): Promise<void> {
  const p = r.state.params;
  try {
    const plan = { round: r.id, dealer: self, holders: holders.map((h) => xOf(p, h)), seeded: seededHolders(p, self, holders).map((h) => xOf(p, h)), idOf: (x: number) => regionOfX(p, x) };
    const d = r.memory.startSeededDealing(p.participants.length, xOf(p, self), plan, random);
    seeded.set(r, d);
    const it = d.digests();
    let step = it.next();
    for (; !step.done; step = it.next()) {
      await yieldToIo(); // a chunk a macrotask, as the streams do
      if (!host.isLive(r)) return d.close();
    }
    const digests = new Map([...step.value].map(([x, dg]) => [regionOfX(p, x), dg]));
    host.apply(r, { kind: 'dealt', digests, now: Date.now() });
  } catch (e) {
    host.abort(r, new ProtocolError('PROTOCOL_ABORTED', `dealing failed: ${(e as Error).message}`));
  }
}

/** The version-2 dealings between their two passes, by round. */
const seeded = new WeakMap<Round, SeededShareDealing>();

/**
 * Version 2, second pass (after the commitments): sends each seeded holder its seed, streams the
 * computed shares to `full` (one pipeline per holder), adds the own share to the held sum and
 * projects it on `challenge`, then applies `streamed` with that projection.
 */
export async function streamSeededShares(host: StreamHost, r: Round, seededTo: readonly string[], full: readonly string[], challenge: Uint8Array, afterDealt?: () => Promise<void>): Promise<void> {
  const p = r.state.params;
  const d = seeded.get(r);
  const live = (): boolean => host.isLive(r);
  if (!d) return host.abort(r, new ProtocolError('PROTOCOL_ABORTED', 'streaming shares without a dealing'));
  try {
    for (const h of seededTo) {
      const seed = d.seedOf(xOf(p, h));
      void host.send(h, { type: 'seed', round: r.id, seed }).finally(() => seed.fill(0)); // encrypted at once
    }
    const dl = d.stream(challenge);
    await Promise.all(
      full.map((h) => {
        const x = xOf(p, h);
        return streamTo(host, h, live, () => dl.next(x), (offset, data) => ({ type: 'share', round: r.id, offset, data }));
      }),
    );
    while (live() && dl.dealAhead()) await yieldToIo();
    if (!live()) return;
    const projection = dl.finish();
    host.apply(r, { kind: 'streamed', projection, now: Date.now() });
    if (afterDealt) await afterDealt();
  } catch (e) {
    host.abort(r, new ProtocolError('PROTOCOL_ABORTED', `dealing failed: ${(e as Error).message}`));
  } finally {
    d.close();
    seeded.delete(r);
  }
}

/**
 * Sends `relay` to each of `to` (version 1: the decision; version 2: the decided holders'
 * commitments and projections), streams this node's aggregate share to each of them on its own
 * pipeline, then applies the `published` event with the share's digest (in version 1 the
 * protocol holds back peers' agg-done until then).
 */
export async function publishAggregate(host: StreamHost, r: Round, to: readonly string[], relay: readonly PeerMessage[]): Promise<void> {
  for (const p of to) for (const m of relay) void host.send(p, m);
  // the vectors are wiped once the round is over: never stream from them after that. In
  // version 2 a holder may have its own result before its targets have theirs: it streams on
  // (the node keeps its aggregate share until then, RegionNode.finishRound)
  const live = (): boolean => host.isLive(r) && (r.state.phase === 'combine' || (r.state.phase === 'done' && r.state.v2 !== undefined));
  const length = r.memory.length;
  try {
    await Promise.all(
      to.map((peer) => {
        let offset = 0;
        const next = (): Chunk => {
          if (offset >= length) return null;
          const c = { offset, data: r.memory.aggChunkAt(offset) };
          offset += WIRE_CHUNK_ELEMS;
          return c;
        };
        return streamTo(host, peer, live, next, (o, data) => ({ type: 'agg', round: r.id, offset: o, data }));
      }),
    );
    if (!live()) return;
    host.apply(r, { kind: 'published', digest: r.memory.aggShareDigest(), now: Date.now() });
  } catch (e) {
    host.abort(r, new ProtocolError('PROTOCOL_ABORTED', `publishing the aggregate share failed: ${(e as Error).message}`));
  }
}

/**
 * Starts the stream an effect asks for: `deal` (dealShares), `stream-shares` (version 2's second
 * pass) or `publish`.
 * @param afterDealt - Test fault hook, run once the dealing is out.
 */
export function launchStream(host: StreamHost, r: Round, e: Extract<Effect, { kind: 'deal' | 'stream-shares' | 'publish' }>, self: string, random: (b: Uint8Array) => void, afterDealt?: () => Promise<void>): void {
  if (e.kind === 'deal') void dealShares(host, r, self, e.holders, random, r.state.params.protocol === 2 ? undefined : afterDealt);
  else if (e.kind === 'stream-shares') void streamSeededShares(host, r, e.seeded, e.full, e.challenge, afterDealt);
  else void publishAggregate(host, r, e.to, e.relay);
}
