/**
 * runLocal: every region node of a round in one process, with an in-memory network, injected
 * randomness and a virtual clock (cf. divviup `runVdaf`). The protocol tests and the
 * reproducible test vectors run on it; faults are injected through `faults`.
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { RandomFill } from '../field/random.js';
// Node-only, like the whole harness (tests and test-vector generation): AES-256-CTR streams.
import { aesCtrRandom } from '../field/random-node.js';
import type { WasmKernels } from '../field/wasm.js';
import type { PeerMessage } from './messages.js';
import type { RoundParams } from './params.js';
import { initialState, step, type Effect, type RoundEvent, type RoundState, type RoundTiming } from './round.js';
import { RoundMemory, addUpdate, dealChunks, resultArray } from './memory/index.js';
import { extraElems, regionOfX, vectorLength, xOf } from './params.js';
import { seededHolders } from './fan-in.js';
import type { SeededShareDealing } from './memory/index.js';
import { nobleSha256, regionVerifier, type HashFactory } from '../core/crypto.js';
import type { ProtocolError } from '../errors.js';
import { TranscriptBuilder } from '../transcript/log.js';
import type { PolicyDecision, PolicySubject } from '../policy/index.js';

export interface LocalNodeInput {
  region: string;
  /** `trainer`: the update's pseudonymous trainer id; with one on any update, the node records the `trainers` entry. */
  updates: { update: Float32Array; weight: number; trainer?: string }[];
}

export interface LocalFaults {
  /** Regions that never open the round (dead before dealing). */
  deadBeforeDeal?: string[];
  /** Regions that stop right after dealing (their shares and commits are out). */
  deadAfterDeal?: string[];
  /** Regions whose local collection never closes (no `input`): they receive and receipt, never deal. */
  holdInput?: string[];
  /** Regions whose dealing streams out but whose `dealt` is never reported: their commits never go out. */
  holdCommits?: string[];
  /**
   * Regions killed (kill -9) right after sending the first message `after` matches: they take
   * part in nothing more, and every other node gets `peer-down` for them once the messages the
   * region sent before are delivered (a closed link's last frames arrive before its close).
   */
  kill?: { region: string; after: (msg: PeerMessage, to: string) => boolean }[];
  /**
   * Regions hung (SIGSTOP) right after sending the first message `after` matches: while stalled
   * they take in nothing (messages to them and their own events wait; ticks are skipped) and send
   * nothing more, and every other node gets `peer-stalled` for them. At virtual time `flowAt` (ms,
   * if given) they run again: the others get `peer-flowing`, then the region's waiting events and
   * messages (both ways) go on in order.
   */
  stall?: { region: string; after: (msg: PeerMessage, to: string) => boolean; flowAt?: number }[];
  /** Regions whose local collection closes (the `input` event) only at this virtual time (ms, > 0: at the first tick past it). */
  inputAt?: Record<string, number>;
  /**
   * Regions whose published aggregate share has element `index` incremented (version 1: in the
   * stream, the agg-done committing to what was sent; version 2: element 0 of the share, before
   * the commitment, so commitment, projection and stream agree and only the check can tell).
   */
  corruptAggregate?: { region: string; index: number }[];
  /** Version 2: dealers that deal `to` a share off their polynomial (and commit to it as dealt). */
  corruptShare?: { region: string; to: string }[];
  /** Per-region parameter overrides (to provoke mismatches). */
  params?: Record<string, Partial<RoundParams>>;
}

/**
 * Observers of a run (the protocol test vectors): `step` sees every event a node's state machine
 * was given, with the effects it returned, before they are carried out; `send` every message a
 * node sent, whether a `send` effect or streamed by the node edge (`deal`: shares; `publish`: the
 * relayed decision and the aggregate share chunks). Observers must not change what they are given.
 */
export interface LocalObserver {
  step?(region: string, ev: RoundEvent, effects: readonly Effect[]): void;
  send?(from: string, to: string, msg: PeerMessage): void;
}

export interface LocalOutcome {
  region: string;
  state: RoundState;
  /** The decoded weighted sum (the round's result, read out before the vectors were wiped). */
  result?: { sum: Float32Array; totalWeight: number };
  error?: ProtocolError;
  /** Every message this region sent, in order (for wire/transcript tests). */
  sent: { to: string; msg: PeerMessage }[];
  refused: { from: string; error: ProtocolError }[];
  /** This region's transcript of the round: one canonical-JSON line per entry (docs/transcript.md). */
  transcript: string[];
  /** Refused policy decisions (violation effects), in order. */
  violations: PolicyDecision[];
}

/** The Ed25519 secret key runLocal gives `region` (deterministic: SHA-256("key:" + region)). */
export function localSecretKey(region: string): Uint8Array {
  return ed25519.utils.randomSecretKey(sha256(new TextEncoder().encode(`key:${region}`)));
}


/**
 * Runs one round among `inputs` (every participant must be listed; one with no updates is a
 * holder that does not contribute) and returns each region's outcome.
 */
export function runLocal(
  K: WasmKernels,
  params: RoundParams,
  inputs: LocalNodeInput[],
  opts: { rng: (region: string) => RandomFill; timing?: RoundTiming; faults?: LocalFaults; hash?: HashFactory; maxTicks?: number; policy?: PolicySubject; now?: number; observe?: LocalObserver },
): LocalOutcome[] {
  const timing = opts.timing ?? { peerWaitMs: 1000, decideMs: 5000, roundMs: 20000 };
  // deadlines are relative to opening: a harness started at `now` keeps them
  const faults = opts.faults ?? {};
  const hash = opts.hash ?? nobleSha256;
  const keys = new Map(inputs.map((i) => [i.region, localSecretKey(i.region)]));
  const pubs = new Map([...keys].map(([r, k]) => [r, ed25519.getPublicKey(k)]));
  let now = opts.now ?? 0;
  const dead = new Set(faults.deadBeforeDeal ?? []);
  const nodes = new Map<string, { state: RoundState; memory: RoundMemory; out: LocalOutcome; rng: RandomFill; tx: TranscriptBuilder; seeded?: SeededShareDealing }>();
  // a message, or (no msg) the news at `to` about the link to `from` (default: it went down)
  type Item = { to: string; from: string; msg?: PeerMessage; news?: 'peer-stalled' | 'peer-flowing' };
  const queue: Item[] = [];
  // stalled regions, and what waits for them to run again: their events, messages to and from them
  const stalled = new Map<string, { flowAt: number | undefined; events: RoundEvent[]; held: Item[] }>();
  const hung = new Set<string>(); // regions that stalled once (a region stalls at most once)

  for (const inp of inputs) {
    if (dead.has(inp.region)) continue;
    const p = { ...params, ...(faults.params?.[inp.region] ?? {}) };
    const memory = new RoundMemory(K, vectorLength(p), hash, aesCtrRandom, extraElems(p));
    for (const u of inp.updates) addUpdate(memory, u.update, u.weight, p);
    if (p.protocol === 2) {
      const cs = faults.corruptShare?.find((c) => c.region === inp.region);
      if (cs) memory.testFaults.corruptShareToX = xOf(p, cs.to);
      if (faults.corruptAggregate?.some((c) => c.region === inp.region)) memory.testFaults.corruptAggregate = true;
    }
    const out: LocalOutcome = { region: inp.region, state: initialState(inp.region, p, timing, now), sent: [], refused: [], transcript: [], violations: [] };
    const tx = new TranscriptBuilder(p.round, inp.region, (b) => ed25519.sign(b, keys.get(inp.region)!));
    nodes.set(inp.region, { state: out.state, memory, out, rng: opts.rng(inp.region), tx });
  }

  const ctxOf = (region: string) => {
    const n = nodes.get(region)!;
    const seed = opts.rng(`${region}/projection`);
    const seedBytes = new Uint8Array(32);
    seed(seedBytes);
    return {
      memory: n.memory,
      sign: (b: Uint8Array) => ed25519.sign(b, keys.get(region)!),
      verify: regionVerifier(pubs),
      projectionRng: () => aesCtrRandom(seedBytes),
      ...(opts.policy ? { policy: opts.policy } : {}),
    };
  };
  const ctxs = new Map([...nodes.keys()].map((r) => [r, ctxOf(r)]));

  const apply = (region: string, ev: RoundEvent): void => {
    const n = nodes.get(region);
    if (!n || dead.has(region)) return;
    const st = stalled.get(region);
    if (st) return void (ev.kind !== 'tick' && st.events.push(ev));
    const { state, effects } = step(n.state, ev, ctxs.get(region)!);
    n.state = n.out.state = state;
    opts.observe?.step?.(region, ev, effects);
    for (const e of effects) perform(region, e);
  };

  const send = (from: string, to: string, msg: PeerMessage): void => {
    if (dead.has(from)) return;
    const st = stalled.get(from);
    if (st) return void st.held.push({ from, to, msg }); // sent once it runs again
    nodes.get(from)!.out.sent.push({ to, msg });
    opts.observe?.send?.(from, to, msg);
    queue.push({ from, to, msg });
    if (faults.kill?.some((k) => k.region === from && k.after(msg, to))) {
      dead.add(from);
      for (const r of nodes.keys()) if (r !== from) queue.push({ from, to: r });
    }
    const hang = faults.stall?.find((k) => k.region === from && k.after(msg, to));
    if (hang && !stalled.has(from) && !hung.has(from)) {
      hung.add(from);
      stalled.set(from, { flowAt: hang.flowAt, events: [], held: [] });
      for (const r of nodes.keys()) if (r !== from) queue.push({ from, to: r, news: 'peer-stalled' });
    }
  };

  const perform = (region: string, e: Effect): void => {
    const n = nodes.get(region)!;
    switch (e.kind) {
      case 'send':
        send(region, e.to, e.msg);
        break;
      case 'deal': {
        const p = n.state.params;
        if (p.protocol === 2) {
          // version 2: the digests first (the commitments go out before any share)
          const plan = { round: p.round, dealer: region, holders: e.holders.map((h) => xOf(p, h)), seeded: seededHolders(p, region, e.holders).map((h) => xOf(p, h)), idOf: (x: number) => regionOfX(p, x) };
          n.seeded = n.memory.startSeededDealing(p.participants.length, xOf(p, region), plan, n.rng);
          const it = n.seeded.digests();
          let r = it.next();
          while (!r.done) r = it.next();
          const digests = new Map([...r.value].map(([x, d]) => [regionOfX(p, x), d]));
          if (faults.holdCommits?.includes(region)) break;
          apply(region, { kind: 'dealt', digests, now });
          break;
        }
        const it = dealChunks(n.memory, p.threshold, p.participants.length, e.holders.map((h) => xOf(p, h)), xOf(p, region), n.rng);
        let r = it.next();
        for (; !r.done; r = it.next()) {
          // the chunks are views into WASM memory: the in-memory network keeps copies
          for (const [x, data] of r.value.shares) send(region, regionOfX(p, x), { type: 'share', round: p.round, offset: r.value.offset, data: data.slice() });
        }
        const digests = new Map([...r.value].map(([x, d]) => [regionOfX(p, x), d]));
        if (faults.holdCommits?.includes(region)) break;
        apply(region, { kind: 'dealt', digests, now });
        if (faults.deadAfterDeal?.includes(region)) dead.add(region);
        break;
      }
      case 'stream-shares': {
        const p = n.state.params;
        const d = n.seeded!;
        for (const h of e.seeded) send(region, h, { type: 'seed', round: p.round, seed: d.seedOf(xOf(p, h)) });
        const dl = d.stream(e.challenge);
        for (;;) {
          let any = false;
          for (const h of e.full) {
            const c = dl.next(xOf(p, h));
            if (!c) continue;
            any = true;
            send(region, h, { type: 'share', round: p.round, offset: c.offset, data: c.data.slice() });
          }
          if (!any) break;
        }
        const projection = dl.finish();
        d.close();
        if (faults.deadAfterDeal?.includes(region)) {
          dead.add(region);
          break;
        }
        apply(region, { kind: 'streamed', projection, now });
        break;
      }
      case 'publish': {
        const corrupt = n.state.params.protocol === 2 ? undefined : faults.corruptAggregate?.find((c) => c.region === region);
        for (const to of e.to) for (const m of e.relay) send(region, to, m);
        const it = n.memory.aggChunks();
        let r = it.next();
        for (; !r.done; r = it.next()) {
          const data = r.value.data.slice();
          if (corrupt && corrupt.index >= r.value.offset && corrupt.index < r.value.offset + data.length / 8) {
            const dv = new DataView(data.buffer, data.byteOffset);
            const i = (corrupt.index - r.value.offset) * 8;
            dv.setBigUint64(i, (dv.getBigUint64(i, true) + 1n) % 0xffff_ffff_0000_0001n, true);
          }
          for (const to of e.to) send(region, to, { type: 'agg', round: n.state.params.round, offset: r.value.offset, data });
        }
        // a corrupting node commits to what it actually sent
        let digest = r.value;
        if (corrupt) {
          const h = hash();
          // recompute over the corrupted stream: replay what was sent to the first peer
          for (const m of n.out.sent) if (m.to === e.to[0] && m.msg.type === 'agg') h.update(m.msg.data);
          digest = h.digest();
        }
        apply(region, { kind: 'published', digest, now });
        break;
      }
      case 'result':
        n.out.result = { sum: resultArray(e.result, 'sum'), totalWeight: e.result.totalWeight };
        if (n.state.params.protocol !== 2) n.memory.zeroize(); // version 2 serves its aggregate share until the end
        break;
      case 'aborted':
        n.out.error = e.error;
        n.memory.zeroize();
        break;
      case 'refused':
        n.out.refused.push({ from: e.from, error: e.error });
        break;
      case 'record':
        n.out.transcript.push(n.tx.append(e.record).line);
        break;
      case 'violation':
        n.out.violations.push(e.decision);
        break;
      case 'sealed':
      case 'log':
        break;
    }
  };

  const input = (inp: LocalNodeInput): void => {
    const ids = [...new Set(inp.updates.flatMap((u) => (u.trainer === undefined ? [] : [u.trainer])))].sort();
    apply(inp.region, { kind: 'input', contributes: inp.updates.length > 0, trainers: inp.updates.length, ...(ids.length ? { trainerIds: ids } : {}), now });
  };
  /** A stalled region runs again: the others hear it flows, then its events and messages go on. */
  const flow = (region: string): void => {
    const st = stalled.get(region)!;
    stalled.delete(region);
    for (const r of nodes.keys()) if (r !== region) queue.push({ from: region, to: r, news: 'peer-flowing' });
    for (const m of st.held) if (m.from === region) send(m.from, m.to, m.msg!);
    for (const ev of st.events) apply(region, { ...ev, now });
    for (const m of st.held) if (m.from !== region) queue.push(m);
  };
  for (const r of nodes.keys()) apply(r, { kind: 'open', now });
  for (const inp of inputs) {
    if (nodes.has(inp.region) && !faults.holdInput?.includes(inp.region) && faults.inputAt?.[inp.region] === undefined) input(inp);
  }
  const maxTicks = opts.maxTicks ?? 200;
  for (let tick = 0; tick < maxTicks; tick++) {
    while (queue.length) {
      const m = queue.shift()!;
      if (dead.has(m.to)) continue; // messages already sent by a node that then died are still delivered
      if (stalled.has(m.to)) stalled.get(m.to)!.held.push(m);
      else apply(m.to, m.msg ? { kind: 'message', from: m.from, msg: m.msg, now } : { kind: m.news ?? 'peer-down', peer: m.from, now });
    }
    const over = (n: { out: LocalOutcome; state: RoundState }): boolean =>
      dead.has(n.out.region) || (stalled.has(n.out.region) && stalled.get(n.out.region)!.flowAt === undefined) || (n.state.phase === 'done' && n.state.sealing?.state !== 'pending') || n.state.phase === 'aborted';
    if ([...nodes.values()].every(over)) break;
    const before = now;
    now += 250;
    for (const [r, st] of [...stalled]) if (st.flowAt !== undefined && now >= st.flowAt) flow(r);
    for (const inp of inputs) {
      const at = faults.inputAt?.[inp.region];
      if (nodes.has(inp.region) && at !== undefined && before < at && at <= now) input(inp); // once, at the first tick past it
    }
    for (const r of nodes.keys()) apply(r, { kind: 'tick', now });
  }
  for (const n of nodes.values()) n.memory.zeroize(); // idempotent; version 2 kept its aggregate shares until here
  return [...nodes.values()].map((n) => n.out);
}
