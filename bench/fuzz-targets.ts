/**
 * Fuzz targets over the node's untrusted-byte parsers: the peer wire decoder, the handshake and
 * the secure channel. Each target is a fast-check arbitrary plus a check that throws a
 * `FuzzFinding` when the code under test misbehaves; the expected refusals (a WireError or a
 * TransportError with a stable code) are not findings. Shared by the `npm test` suite
 * (test/fuzz.test.ts, a small count) and the soak runner (bench/fuzz.ts, >= 1e5 inputs).
 *
 * What counts as a finding:
 * - any exception that is not the module's own error class with a code of its family
 *   (a TypeError, a RangeError from msgpackr, a bare Error...);
 * - an error message that quotes input bytes (a secret could be quoted the same way);
 * - wire: a message that decodes but does not survive encode -> decode unchanged;
 * - handshake / channel: altered bytes accepted (authentication must reject every change that
 *   alters the decoded content).
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { TransportError, WireError } from '../src/errors.js';
import type { PeerMessage } from '../src/protocol/messages.js';
import { PROTOCOL_VERSION } from '../src/protocol/messages.js';
import { SecureChannel } from '../src/transport/channel.js';
import {
  abortHandshake,
  decodeHandshakeMsg,
  initiatorOnAck,
  responderOnFinish,
  responderOnHello,
  startInitiator,
  type HandshakeConfig,
} from '../src/transport/handshake.js';
import { generateIdentity, type Identity } from '../src/transport/identity.js';
import { decodePeerMessage, encodePeerMessage, encodePeerMessageParts } from '../src/wire/codec.js';

/** A misbehaviour of the code under test (as opposed to an expected refusal). */
export class FuzzFinding extends Error {
  override name = 'FuzzFinding';
}

/** One fuzz target: inputs and the check run on each. */
export interface FuzzTarget<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  check(input: T): void;
}

const packr = new Packr({ useRecords: false, variableMapSize: true });

// ---------------------------------------------------------------- mutations of valid bytes

/** One edit of a byte string: flip a bit, set a byte, cut, insert, duplicate a span. */
type Edit = { op: 'flip'; at: number; bit: number } | { op: 'set'; at: number; byte: number } | { op: 'cut'; at: number } | { op: 'insert'; at: number; bytes: Uint8Array } | { op: 'dup'; at: number; len: number };

const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0xc0, 0xc1, 0xc4, 0xc6, 0xd9, 0xdc, 0xde, 0xdf, 0x90, 0xa0) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('dup' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 16 }) }),
);

/** Applies edits in turn (positions are taken modulo the current length). */
export function mutate(bytes: Uint8Array, edits: readonly Edit[]): Uint8Array {
  let b = Uint8Array.from(bytes);
  for (const e of edits) {
    const at = b.length === 0 ? 0 : e.at % b.length;
    switch (e.op) {
      case 'flip':
        if (b.length) b[at]! ^= 1 << e.bit;
        break;
      case 'set':
        if (b.length) b[at] = e.byte;
        break;
      case 'cut':
        b = b.subarray(0, at);
        break;
      case 'insert':
        b = Uint8Array.from([...b.subarray(0, at), ...e.bytes, ...b.subarray(at)]);
        break;
      case 'dup':
        b = Uint8Array.from([...b.subarray(0, at + e.len), ...b.subarray(at, at + e.len), ...b.subarray(at + e.len)]);
        break;
    }
  }
  return b;
}

const editsArb = fc.array(editArb, { minLength: 1, maxLength: 4 });

const same = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/** A refusal must name the problem, never quote the input: no run of >= 12 hex digits of it. */
function noQuotedBytes(msg: string, input: Uint8Array): void {
  const hex = Buffer.from(input).toString('hex');
  for (const m of msg.matchAll(/[0-9a-f]{12,}/gi)) if (hex.includes(m[0].toLowerCase())) throw new FuzzFinding(`error message quotes input bytes: ${msg.slice(0, 200)}`);
}

// ---------------------------------------------------------------- wire decoder

const regionArb = fc.stringMatching(/^[a-z][a-z0-9-]{0,31}$/);
const roundArb = fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/);
const bytesN = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ minLength: n, maxLength: n });
const hex32 = bytesN(32).map((b) => Buffer.from(b).toString('hex'));
const regionsArb = fc.uniqueArray(regionArb, { minLength: 1, maxLength: 6 });

/** Valid peer messages of every type (the encoder's inputs). */
export const peerMessageArb: fc.Arbitrary<PeerMessage> = fc.oneof(
  fc
    .record({
      round: roundArb,
      federation: hex32,
      policy: hex32,
      participants: fc.uniqueArray(regionArb, { minLength: 2, maxLength: 6 }).map((p) => [...p].sort()),
      params: fc.integer({ min: 1, max: 1e7 }),
      scaleBits: fc.integer({ min: 1, max: 40 }),
      clipL2: fc.double({ min: 1e-3, max: 1e6, noNaN: true }),
      clipMode: fc.constantFrom('clip' as const, 'reject' as const),
      minTrainers: fc.integer({ min: 1, max: 100 }),
    })
    .chain((p) =>
      fc.record({ t: fc.integer({ min: 1, max: p.participants.length }), c: fc.integer({ min: 1, max: p.participants.length }) }).map(({ t, c }) => ({
        type: 'params' as const,
        round: p.round,
        params: { round: p.round, federation: p.federation, policy: p.policy, participants: p.participants, threshold: t, params: p.params, scaleBits: p.scaleBits, clipL2: p.clipL2, clipMode: p.clipMode, minContributors: c, minTrainers: p.minTrainers },
      })),
    ),
  fc.record({ type: fc.constantFrom('share' as const, 'agg' as const), round: roundArb, offset: fc.nat(2 ** 32 - 1), data: fc.uint8Array({ maxLength: 256 }) }),
  fc.record({
    type: fc.constant('commits' as const),
    round: roundArb,
    dealer: regionArb,
    contributes: fc.boolean(),
    trainers: fc.nat(1000),
    digests: fc.dictionary(regionArb, bytesN(32), { maxKeys: 5 }),
    sig: bytesN(64),
  }),
  fc.record({ type: fc.constant('receipt' as const), round: roundArb, dealer: regionArb, holder: regionArb, digest: bytesN(32), sig: bytesN(64) }),
  fc.record({ type: fc.constant('decision' as const), round: roundArb, coordinator: regionArb, dealers: regionsArb, holders: regionsArb, sig: bytesN(64) }),
  fc.record({ type: fc.constant('agg-done' as const), round: roundArb, holder: regionArb, digest: bytesN(32), sig: bytesN(64) }),
  fc.record({ type: fc.constant('seal' as const), round: roundArb, holder: regionArb, result: bytesN(32), projection: fc.oneof(bytesN(0), bytesN(8)), sig: bytesN(64) }),
  fc.record({ type: fc.constant('abort' as const), round: roundArb, code: fc.constantFrom('PROTOCOL_ABORTED', 'PROTOCOL_TIMEOUT', 'POLICY_FLOW_REFUSED') as fc.Arbitrary<PeerMessage & { type: 'abort' } extends { code: infer C } ? C : never>, reason: fc.string({ maxLength: 64 }), culprits: fc.uniqueArray(regionArb, { maxLength: 3 }) }),
) as fc.Arbitrary<PeerMessage>;

/** Something msgpack-shaped that is not quite a message: random values under message keys. */
const looseValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 40 }),
  fc.boolean(),
  fc.constant(null),
  fc.uint8Array({ maxLength: 70 }),
  fc.array(fc.oneof(fc.string({ maxLength: 8 }), fc.integer()), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.integer(), fc.uint8Array({ maxLength: 33 })), { maxKeys: 3 }),
);
const looseMessageArb = fc
  .record({
    v: fc.oneof(fc.constant(PROTOCOL_VERSION), looseValueArb),
    type: fc.oneof(fc.constantFrom('params', 'share', 'commits', 'receipt', 'decision', 'agg', 'agg-done', 'abort', 'seal'), looseValueArb),
    extra: fc.dictionary(fc.constantFrom('round', 'offset', 'data', 'dealer', 'holder', 'digest', 'sig', 'params', 'code', 'reason', 'culprits', 'dealers', 'holders', 'coordinator', 'result', 'projection', 'contributes', 'trainers', 'digests', '__proto__', 'constructor', 'x'), looseValueArb, { maxKeys: 8 }),
  })
  .map(({ v, type, extra }) => {
    const o: Record<string, unknown> = { v, type };
    for (const [k, val] of Object.entries(extra)) Object.defineProperty(o, k, { value: val, enumerable: true, writable: true, configurable: true });
    return o;
  });

/** Bytes for the decoder: mutated valid messages, loose maps, and plain random bytes. */
export const wireInputArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(peerMessageArb, editsArb).map(([m, e]) => mutate(encodePeerMessage(m), e)) },
  { weight: 3, arbitrary: looseMessageArb.map((o) => Uint8Array.from(packr.pack(o))) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  { weight: 1, arbitrary: peerMessageArb.map((m) => encodePeerMessage(m)) },
);

function refusal(e: unknown, cls: typeof WireError | typeof TransportError, family: RegExp, input: Uint8Array): void {
  if (!(e instanceof cls) || !family.test(e.code)) throw new FuzzFinding(`unexpected ${(e as Error)?.name ?? typeof e}: ${String((e as Error)?.message ?? e).slice(0, 200)}`);
  noQuotedBytes(e.message, input);
}

/** Structural equality for decoded messages (Uint8Array by content). */
function deepSame(a: unknown, b: unknown): boolean {
  if (a instanceof Uint8Array || b instanceof Uint8Array) return a instanceof Uint8Array && b instanceof Uint8Array && same(a, b);
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepSame(x, b[i]));
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && deepSame((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
  }
  return Object.is(a, b);
}

/** The wire target over `decode` (the real decoder; tests pass a broken one to see the check fail). */
export const makeWireTarget = (decode: (b: Uint8Array) => PeerMessage = decodePeerMessage): FuzzTarget<Uint8Array> => ({
  name: 'wire decoder (decodePeerMessage)',
  arb: wireInputArb,
  check(bytes) {
    let m: PeerMessage;
    try {
      m = decode(bytes);
    } catch (e) {
      refusal(e, WireError, /^WIRE_/, bytes);
      return;
    }
    // accepted: the message must survive re-encoding unchanged, by both encoders
    const again = encodePeerMessage(m);
    const parts = encodePeerMessageParts(m);
    const joined = Uint8Array.from(parts.flatMap((p) => [...p]));
    let fromParts: PeerMessage;
    try {
      fromParts = decodePeerMessage(joined);
    } catch (e) {
      throw new FuzzFinding(`the parts encoding of an accepted ${m.type} does not decode: ${(e as Error).message}`);
    }
    if (!deepSame(fromParts, m)) throw new FuzzFinding(`encodePeerMessageParts and encodePeerMessage disagree for a ${m.type}`);
    let back: PeerMessage;
    try {
      back = decodePeerMessage(again);
    } catch (e) {
      throw new FuzzFinding(`an accepted ${m.type} does not decode after re-encoding: ${(e as Error).message}`);
    }
    if (!deepSame(back, m)) throw new FuzzFinding(`an accepted ${m.type} changes through encode -> decode`);
  },
});

export const wireTarget: FuzzTarget<Uint8Array> = makeWireTarget();

/** Every valid message round-trips (the encoder and decoder agree on the whole message space). */
export const wireRoundTripTarget: FuzzTarget<PeerMessage> = {
  name: 'wire round trip (valid messages)',
  arb: peerMessageArb,
  check(m) {
    const back = decodePeerMessage(encodePeerMessage(m));
    if (!deepSame(back, m)) throw new FuzzFinding(`a valid ${m.type} changes through encode -> decode`);
  },
};

// ---------------------------------------------------------------- handshake

const FED = 'fuzz-federation';

function seeded(seed: string): (n: number) => Uint8Array {
  let ctr = 0;
  return (n) => {
    const out = new Uint8Array(n);
    for (let o = 0; o < n; o += 32) out.set(sha256(utf8ToBytes(`${seed} #${ctr++}`)).subarray(0, Math.min(32, n - o)), o);
    return out;
  };
}

let ids: { a: Identity; b: Identity } | undefined;
function identities(): { a: Identity; b: Identity } {
  ids ??= { a: generateIdentity('alpha'), b: generateIdentity('beta') };
  return ids;
}
function configs(seed: number): { ca: HandshakeConfig; cb: HandshakeConfig } {
  const { a, b } = identities();
  return {
    ca: { federation: FED, identity: a, directory: new Map([['beta', b.publicKey]]), randomBytes: seeded(`a${seed}`) },
    cb: { federation: FED, identity: b, directory: new Map([['alpha', a.publicKey]]), randomBytes: seeded(`b${seed}`) },
  };
}

type HandshakeInput = { stage: 'hello' | 'ack' | 'finish'; seed: number; edits: Edit[] } | { stage: 'random-hello' | 'random-ack' | 'random-finish'; seed: number; bytes: Uint8Array };

export const handshakeInputArb: fc.Arbitrary<HandshakeInput> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ stage: fc.constantFrom('hello' as const, 'ack' as const, 'finish' as const), seed: fc.nat(1000), edits: editsArb }) },
  { weight: 1, arbitrary: fc.record({ stage: fc.constantFrom('random-hello' as const, 'random-ack' as const, 'random-finish' as const), seed: fc.nat(1000), bytes: fc.uint8Array({ maxLength: 400 }) }) },
);

/** Runs `fn`; a TRANSPORT_* TransportError is the expected refusal (false), success is true. */
function accepted(fn: () => unknown, input: Uint8Array): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    refusal(e, TransportError, /^TRANSPORT_/, input);
    return false;
  }
}

/** Same decoded content (a mutation that changes nothing the protocol reads is not a forgery). */
function sameContent(type: 'hello' | 'hello-ack' | 'finish', a: Uint8Array, b: Uint8Array): boolean {
  try {
    return deepSame(decodeHandshakeMsg(a, type), decodeHandshakeMsg(b, type));
  } catch {
    return false;
  }
}

export const handshakeTarget: FuzzTarget<HandshakeInput> = {
  name: 'handshake (hello / hello-ack / finish)',
  arb: handshakeInputArb,
  check(input) {
    const { ca, cb } = configs(input.seed);
    const init = startInitiator(ca, 'beta');
    if (input.stage === 'random-hello' || input.stage === 'hello') {
      const hello = 'edits' in input ? mutate(init.hello, input.edits) : input.bytes;
      let resp: ReturnType<typeof responderOnHello> | undefined;
      if (!accepted(() => (resp = responderOnHello(cb, hello)), hello)) return abortHandshake(init.state);
      // a changed hello may be a valid hello of another session; the initiator must then refuse the ack
      const ok = accepted(() => initiatorOnAck(init.state, resp!.ack), resp!.ack);
      if (ok && !sameContent('hello', hello, init.hello)) throw new FuzzFinding('the initiator accepted an ack for a hello it did not send');
      abortHandshake(resp!.state);
      return;
    }
    const resp = responderOnHello(cb, init.hello);
    if (input.stage === 'random-ack' || input.stage === 'ack') {
      const ack = 'edits' in input ? mutate(resp.ack, input.edits) : input.bytes;
      const ok = accepted(() => initiatorOnAck(init.state, ack), ack);
      if (ok && !sameContent('hello-ack', ack, resp.ack)) throw new FuzzFinding('the initiator accepted an altered hello-ack');
      abortHandshake(resp.state);
      return;
    }
    const { finish } = initiatorOnAck(init.state, resp.ack);
    const fin = 'edits' in input ? mutate(finish, input.edits) : input.bytes;
    const ok = accepted(() => responderOnFinish(resp.state, fin), fin);
    if (ok && !sameContent('finish', fin, finish)) throw new FuzzFinding('the responder accepted an altered finish');
  },
};

// ---------------------------------------------------------------- secure channel

type ChannelInput = { plaintexts: Uint8Array[]; target: number; edits: Edit[] } | { plaintexts: Uint8Array[]; target: number; random: Uint8Array };

export const channelInputArb: fc.Arbitrary<ChannelInput> = fc.oneof(
  fc.record({ plaintexts: fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 4 }), target: fc.nat(3), edits: editsArb }),
  fc.record({ plaintexts: fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 4 }), target: fc.nat(3), random: fc.uint8Array({ maxLength: 300 }) }),
);

const KEYS = { i2r: sha256(utf8ToBytes('fuzz i2r')), r2i: sha256(utf8ToBytes('fuzz r2i')) };

export const channelTarget: FuzzTarget<ChannelInput> = {
  name: 'secure channel (open of altered frames)',
  arb: channelInputArb,
  check(input) {
    const tx = new SecureChannel({ role: 'initiator', sendKey: KEYS.i2r, recvKey: KEYS.r2i });
    const rx = new SecureChannel({ role: 'responder', sendKey: KEYS.r2i, recvKey: KEYS.i2r });
    const frames = input.plaintexts.map((p) => tx.seal(p));
    const t = input.target % frames.length;
    for (let i = 0; i < frames.length; i++) {
      const f = i === t ? ('edits' in input ? mutate(frames[i]!, input.edits) : input.random) : frames[i]!;
      let opened: Uint8Array | undefined;
      const ok = accepted(() => (opened = rx.open(f)), f);
      if (i !== t) {
        if (!ok) return; // the channel is closed after a refused frame (the link is cut): fine
        if (!same(opened!, input.plaintexts[i]!)) throw new FuzzFinding('a genuine frame opened to other bytes');
        continue;
      }
      if (ok && !same(f, frames[i]!)) throw new FuzzFinding('the channel opened an altered frame');
      if (!ok) return;
    }
  },
};

/** The pure targets, in the order the runner reports them. */
export const PURE_TARGETS: readonly FuzzTarget<never>[] = [wireTarget, wireRoundTripTarget, handshakeTarget, channelTarget] as unknown as FuzzTarget<never>[];
