/**
 * The node's two vector streams: dealing (this region's shares, chunk by chunk, to every
 * holder) and publishing (this node's aggregate share to every other holder). Each runs one
 * pipeline per peer, one chunk in flight on its link, so a slow or stopped peer delays only its
 * own stream (memory stays O(chunk) per peer: the dealing deals a lagging holder's chunk again,
 * the aggregate share is read where each stream stands). A peer's stream ends when its share is
 * out, when its link is gone (what it would send is lost: the protocol treats the peer as
 * dropped, and the transport cuts a peer that takes no bytes, docs/transport.md), or the moment
 * the round is no longer live (its memory is wiped then and may already belong to another
 * round), or, when its link is stalled (up, but taking nothing: a hung peer), as soon as every
 * other stream of the dealing or publishing has ended and the round can do without it (version
 * 1: a dealing that keeps t holders, a publishing to a peer that is no decided holder): the peer
 * is left behind, and the protocol goes on without it (docs/protocol.md "Dropouts and aborts").
 * Each yields to I/O between chunks and reports its end to the protocol as an event once every
 * peer's stream has ended, naming the peers left behind (a dealing commits to no share for them).
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
  /** Whether the link to `peer` is up and stalled (the transport's `'peer-stalled'` until `'peer-flowing'`). */
  stalled(peer: string): boolean;
  /** Calls `wake` whenever a link stalls or flows again, until the returned function is called. */
  watchStalls(wake: () => void): () => void;
  send(to: string, msg: PeerMessage): Promise<void>;
  apply(r: Round, ev: RoundEvent): void;
  abort(r: Round, err: ProtocolError): void;
}

/** The streams' wake-up calls: the node calls `wake` on every link event, each waiting stream has watched. */
export class StallWatch {
  readonly #wakers = new Set<() => void>();
  watch(wake: () => void): () => void {
    this.#wakers.add(wake);
    return () => void this.#wakers.delete(wake);
  }
  wake(): void {
    for (const w of [...this.#wakers]) w();
  }
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
 * One stream per peer of `peers` (`nextOf(peer)` gives its chunks), each on its own pipeline:
 * takes the next chunk, sends it, waits for the link's backpressure, until the stream is done,
 * the link to its peer is gone or `live()` turns false. A send pending on a stalled link is
 * abandoned once every other stream has ended: that stream ends unfinished (two stalled streams
 * wait for each other: one of them may only be slow, and the drain timeout cuts a hung one).
 * @param canLeave - Whether the round can do without `peer`'s stream (false: it is never left).
 * @returns The peers whose stream ended so (left behind: their link stalled).
 */
async function streamEach(host: StreamHost, peers: readonly string[], live: () => boolean, nextOf: (peer: string) => () => Chunk, message: (offset: number, data: Uint8Array) => PeerMessage, canLeave: (peer: string) => boolean): Promise<Set<string>> {
  const running = new Set(peers);
  const left = new Set<string>();
  const wakers = new Set<() => void>();
  const wakeAll = (): void => wakers.forEach((w) => w());
  const mayLeave = (peer: string): boolean => running.size === 1 && host.stalled(peer) && canLeave(peer);
  /** Resolves true once `sent` has, false if first `peer` may be left behind. */
  const sentOrLeft = async (peer: string, sent: Promise<void>): Promise<boolean> => {
    let wake = (): void => {};
    const leave = new Promise<boolean>((resolve) => (wake = () => void (mayLeave(peer) && resolve(false))));
    wakers.add(wake);
    try {
      wake();
      return await Promise.race([sent.then(() => true), leave]);
    } finally {
      wakers.delete(wake);
    }
  };
  const streamTo = async (peer: string): Promise<void> => {
    const next = nextOf(peer);
    try {
      for (;;) {
        // checked before taking a chunk: once the round has ended its vectors are wiped and freed
        // (and may already belong to another round), so never read or compute on them again
        if (!live() || !host.linked(peer)) return;
        const c = next();
        if (c === null) return;
        const sent = host.send(peer, message(c.offset, c.data)); // encrypted before it returns: the view may go
        if (!(await sentOrLeft(peer, sent))) return void left.add(peer);
        await yieldToIo();
      }
    } finally {
      running.delete(peer);
      wakeAll(); // the streams still waiting on a stalled link may now be the only ones left
    }
  };
  const unwatch = host.watchStalls(wakeAll);
  try {
    await Promise.all(peers.map(streamTo));
  } finally {
    unwatch();
  }
  return left;
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
    const left = await streamEach(host, holders.filter((h) => h !== self), live, (h) => {
      const x = xOf(p, h);
      return () => d.next(x);
    }, (offset, data) => ({ type: 'share', round: r.id, offset, data }), () => holders.length > p.threshold); // without a holder left behind, still t
    // streams that ended early (their links went) left chunks no one dealt: the digests and the
    // own share need them, a chunk per macrotask like the streams
    while (live() && d.dealAhead()) await yieldToIo();
    if (!live()) return;
    // a holder left behind was not dealt to: no commitment to it (it would take its short stream for a wrong one)
    const digests = new Map([...d.finish()].map(([x, dg]) => [regionOfX(p, x), dg] as const).filter(([h]) => !left.has(h)));
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
    // no holder is left behind: its share is committed already (a stalled one waits for the drain timeout)
    await streamEach(host, full, live, (h) => {
      const x = xOf(p, h);
      return () => dl.next(x);
    }, (offset, data) => ({ type: 'share', round: r.id, offset, data }), () => false);
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
  // version 1: a stalled peer's stream may be left only if it is no decided holder (a holder's
  // result needs our share, and the round needs its own: it is waited for until the drain timeout)
  const holders = r.state.decision?.holders ?? [];
  const leavable = (peer: string): boolean => r.state.v2 === undefined && !holders.includes(peer);
  try {
    const left = await streamEach(host, to, live, () => {
      let offset = 0;
      return (): Chunk => {
        if (offset >= length) return null;
        const c = { offset, data: r.memory.aggChunkAt(offset) };
        offset += WIRE_CHUNK_ELEMS;
        return c;
      };
    }, (o, data) => ({ type: 'agg', round: r.id, offset: o, data }), leavable); // a non-holder left behind misses our share: the others do not
    if (!live()) return;
    host.apply(r, { kind: 'published', digest: r.memory.aggShareDigest(), now: Date.now(), ...(left.size ? { left: [...left] } : {}) });
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
