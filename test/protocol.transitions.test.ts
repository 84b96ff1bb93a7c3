/**
 * Exhaustive transition table of the round state machine: every (phase, message type) pair
 * that ACCEPTS does not list is refused with PROTOCOL_UNEXPECTED_MESSAGE naming what was
 * expected and what arrived, and leaves the state unchanged (cf. flower secaggplus_mod_test).
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom, nodeRandom } from '../src/field/random-node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { nobleSha256 as nobleHash } from '../src/core/crypto.js';
import { MESSAGE_TYPES, signedBytes, type MessageType, type PeerMessage } from '../src/protocol/messages.js';
import type { RoundParams } from '../src/protocol/params.js';
import { ACCEPTS, initialState, step, type Phase, type RoundState, type StepContext } from '../src/protocol/round.js';
import { acceptsIn } from '../src/protocol/state.js';
import { RoundMemory } from '../src/protocol/memory/index.js';
import { extraElems, vectorLength } from '../src/protocol/params.js';
import { parseFederation } from '../src/federation/index.js';
import { federationJson } from './transcript-fixtures.js';

const PHASES: Phase[] = ['collect', 'deal', 'decide', 'combine', 'done', 'aborted'];
const keys = { apac: ed25519.utils.randomSecretKey(), eu: ed25519.utils.randomSecretKey(), us: ed25519.utils.randomSecretKey() };
const pub = (r: keyof typeof keys) => ed25519.getPublicKey(keys[r]);
const params: RoundParams = {
  round: 'r', federation: 'a'.repeat(64), policy: 'b'.repeat(64), participants: ['apac', 'eu', 'us'], threshold: 2, params: 4,
  scaleBits: 8, clipL2: 10, clipMode: 'reject', minContributors: 1, minTrainers: 1,
};

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

function ctx(self: keyof typeof keys, p: RoundParams = params): StepContext {
  return {
    memory: new RoundMemory(K, vectorLength(p), nobleHash, aesCtrRandom, extraElems(p)),
    sign: (b) => ed25519.sign(b, keys[self]),
    verify: (r, b, sig) => ed25519.verify(sig, b, pub(r as keyof typeof keys)),
    projectionRng: () => nodeRandom,
  };
}

/** One well-formed message of every type, from 'us' (signed where the type is signed). */
function sample(type: MessageType): PeerMessage {
  const sign = <T extends object>(m: T) => ({ ...m, sig: ed25519.sign(signedBytes(m as never), keys.us) });
  const digest = new Uint8Array(32).fill(7);
  const samples: Partial<Record<MessageType, PeerMessage>> = {
    params: { type: 'params', round: 'r', params },
    share: { type: 'share', round: 'r', offset: 0, data: new Uint8Array(8) },
    commits: sign({ type: 'commits' as const, round: 'r', dealer: 'us', contributes: false, trainers: 0, digests: {} }),
    receipt: sign({ type: 'receipt' as const, round: 'r', dealer: 'apac', holder: 'us', digest }),
    decision: { ...{ type: 'decision' as const, round: 'r', coordinator: 'apac', dealers: ['apac', 'eu'], holders: ['apac', 'eu'] }, sig: new Uint8Array(64) },
    agg: { type: 'agg', round: 'r', offset: 0, data: new Uint8Array(8) },
    'agg-done': sign({ type: 'agg-done' as const, round: 'r', holder: 'us', digest }),
    abort: { type: 'abort', round: 'r', code: 'PROTOCOL_TIMEOUT', reason: 'x', culprits: [] },
    seal: sign({ type: 'seal' as const, round: 'r', holder: 'us', result: digest, projection: new Uint8Array(8) }),
    seed: { type: 'seed', round: 'r', seed: new Uint8Array(32) },
    'agg-pull': { type: 'agg-pull', round: 'r' },
    'agg-proj': sign({ type: 'agg-proj' as const, round: 'r', holder: 'us', projection: new Uint8Array(8) }),
  };
  const m = samples[type];
  if (!m) throw new Error(`no sample message for type ${type}: add one to this test`);
  return m;
}

function inPhase(phase: Phase, p: RoundParams = params): RoundState {
  const s = initialState('eu', p, { peerWaitMs: 1e9, decideMs: 2e9, roundMs: 3e9 }, 0);
  const decision = { coordinator: 'apac', dealers: ['apac', 'eu'], holders: ['apac', 'eu'] };
  return { ...s, phase, matched: ['us', 'apac'], decision: phase === 'combine' || phase === 'done' ? decision : null };
}

describe('transition table', () => {
  it('covers every phase and message type', () => {
    expect(Object.keys(ACCEPTS).sort()).toEqual([...PHASES].sort());
    for (const p of PHASES) for (const t of ACCEPTS[p]) expect(MESSAGE_TYPES).toContain(t);
  });

  for (const version of [1, 2] as const) {
  const p: RoundParams = version === 2 ? { ...params, protocol: 2 } : params;
  for (const phase of PHASES) {
    for (const type of MESSAGE_TYPES) {
      const valid = acceptsIn(phase, version).includes(type);
      it(`v${version}: ${phase} x ${type}: ${valid ? 'accepted by the phase guard' : 'refused as PROTOCOL_UNEXPECTED_MESSAGE'}`, () => {
        const state = inPhase(phase, p);
        const { state: next, effects } = step(state, { kind: 'message', from: 'us', msg: sample(type), now: 1 }, ctx('eu', p));
        const unexpected = effects.filter((e) => e.kind === 'refused' && e.error.code === 'PROTOCOL_UNEXPECTED_MESSAGE' && e.error.found === type);
        if (valid) {
          expect(unexpected).toEqual([]);
        } else {
          expect(unexpected).toHaveLength(1);
          const err = (unexpected[0] as Extract<(typeof effects)[number], { kind: 'refused' }>).error;
          expect(err.message).toBe(`unexpected ${type} from us in phase ${phase}`);
          expect(err.expected).toBe(acceptsIn(phase, version).join('|') || 'nothing');
          expect(next).toEqual(state); // refused messages change nothing
          expect(effects).toHaveLength(1);
        }
      });
    }
  }
  }
});

describe('guards beyond the phase', () => {
  it('refuses a message from a region that is not a participant', () => {
    const { effects } = step(inPhase('collect'), { kind: 'message', from: 'mars', msg: sample('params'), now: 1 }, ctx('eu'));
    expect(effects).toMatchObject([{ kind: 'refused', error: { code: 'PROTOCOL_UNEXPECTED_MESSAGE' } }]);
  });
  it('aborts on a signature that does not verify, naming the signer', () => {
    const bad = { ...(sample('agg-done') as Extract<PeerMessage, { type: 'agg-done' }>), sig: new Uint8Array(64).fill(1) };
    const { state, effects } = step(inPhase('combine'), { kind: 'message', from: 'us', msg: bad, now: 1 }, ctx('eu'));
    expect(state.phase).toBe('aborted');
    expect(state.error).toMatchObject({ code: 'PROTOCOL_BAD_SIGNATURE', culprits: ['us'] });
    expect(effects.filter((e) => e.kind === 'send').map((e) => (e as { msg: PeerMessage }).msg.type)).toEqual(['abort', 'abort']);
  });
  it('aborts when a sender claims another identity inside a signed message', () => {
    const m = sample('receipt') as Extract<PeerMessage, { type: 'receipt' }>;
    const { state } = step(inPhase('decide'), { kind: 'message', from: 'apac', msg: m, now: 1 }, ctx('eu'));
    expect(state.error?.message).toBe('receipt from apac claims holder us (found by eu)');
  });
  it('refuses shares from a region whose parameters were not agreed', () => {
    const s = { ...inPhase('collect'), matched: [] };
    const { state } = step(s, { kind: 'message', from: 'us', msg: sample('share'), now: 1 }, ctx('eu'));
    expect(state.error?.message).toBe('share from us before its parameters were agreed (found by eu)');
  });
  it('aborts on the first differing parameter, naming it with both values', () => {
    const { state } = step(inPhase('collect'), { kind: 'message', from: 'us', msg: { type: 'params', round: 'r', params: { ...params, threshold: 3 } }, now: 1 }, ctx('eu'));
    expect(state.error?.code).toBe('PROTOCOL_PARAMS_MISMATCH');
    expect(state.error?.message).toMatch(/parameters differ, threshold: 2 at eu, 3 at us;/);
  });
  it('refuses a message handed to the wrong round without touching this one', () => {
    const state = inPhase('collect');
    const { state: next, effects } = step(state, { kind: 'message', from: 'us', msg: { type: 'params', round: 'other', params }, now: 1 }, ctx('eu'));
    expect(effects).toMatchObject([{ kind: 'refused', error: { code: 'PROTOCOL_UNEXPECTED_MESSAGE', message: 'params for round other handed to round r' } }]);
    expect(next).toEqual(state);
  });
});

describe('decisions (PROTOCOL_EQUIVOCATION, POLICY_*)', () => {
  const signDecision = (dealers: string[], holders: string[]) => {
    const m = { type: 'decision' as const, round: 'r', coordinator: 'apac', dealers, holders };
    return { ...m, sig: ed25519.sign(signedBytes(m), keys.apac) };
  };

  it('aborts with PROTOCOL_EQUIVOCATION when the coordinator signed two different decisions, naming it', () => {
    const { state } = step(inPhase('combine'), { kind: 'message', from: 'us', msg: signDecision(['apac', 'eu'], ['apac', 'eu', 'us']), now: 1 }, ctx('eu'));
    expect(state.phase).toBe('aborted');
    expect(state.error).toMatchObject({ code: 'PROTOCOL_EQUIVOCATION', culprits: ['apac'], message: 'apac signed two different decisions for round r (found by eu)' });
  });

  it('ignores a relayed copy of the same decision', () => {
    const state = inPhase('combine');
    const { state: next, effects } = step(state, { kind: 'message', from: 'us', msg: signDecision(['apac', 'eu'], ['apac', 'eu']), now: 1 }, ctx('eu'));
    expect(effects).toEqual([]);
    expect(next.phase).toBe('combine');
  });

  it('aborts with POLICY_FLOW_REFUSED on a decision that uses a flow the policy refuses, and records the refusal', () => {
    // apac may share only within APAC: the decided flow apac -> eu is refused
    const fed = parseFederation({ ...federationJson(), threshold: 1, allowInsecureThreshold: true, policy: { regions: { apac: { shareTo: ['APAC'] } } } });
    const c = { ...ctx('eu'), policy: fed };
    const s = { ...inPhase('decide'), params: { ...params, threshold: 1 } };
    const msg = { type: 'decision' as const, round: 'r', coordinator: 'apac', dealers: ['apac'], holders: ['apac', 'eu'] };
    const { state, effects } = step(s, { kind: 'message', from: 'apac', msg: { ...msg, sig: ed25519.sign(signedBytes(msg), keys.apac) }, now: 1 }, c);
    expect(state.error).toMatchObject({ code: 'POLICY_FLOW_REFUSED', culprits: ['apac'] });
    expect(state.error?.message).toMatch(/^decision by apac uses the flow apac -> eu, which the locality policy refuses/);
    expect(effects.filter((e) => e.kind === 'violation')).toHaveLength(1);
  });

  it('the coordinator aborts with POLICY_MIN_TRAINERS when the contributors brought fewer trainers than the policy asks, before anything is revealed', () => {
    const s: RoundState = {
      ...initialState('apac', { ...params, minTrainers: 5 }, { peerWaitMs: 10, decideMs: 20, roundMs: 1000 }, 0),
      phase: 'decide', matched: ['eu', 'us'], dealtTo: ['apac', 'eu'],
      // eu committed (it contributes nothing): a live holder
      commits: { apac: { contributes: true, trainers: 1, digests: { apac: 'aa', eu: 'bb' } }, eu: { contributes: false, trainers: 0, digests: {} } },
      receipts: { apac: { apac: 'aa', eu: 'bb' } },
    };
    const { state, effects } = step(s, { kind: 'tick', now: 25 }, ctx('apac'));
    expect(state.error).toMatchObject({ code: 'POLICY_MIN_TRAINERS', message: 'only 1 trainer(s) contributed, the policy requires 5: nothing is revealed (found by apac)' });
    expect(effects.some((e) => e.kind === 'send' && e.msg.type === 'decision')).toBe(false);
  });
});

describe('publishing hold-back (message order while our aggregate share streams out)', () => {
  it('holds a peer\'s agg-done and everything after it from that peer until published, then replays them in order', () => {
    const c = ctx('eu');
    const state: RoundState = { ...inPhase('combine'), publishing: true };
    const aggDone = sample('agg-done');
    const agg = { type: 'agg' as const, round: 'r', offset: 0, data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) };
    const s1 = step(state, { kind: 'message', from: 'us', msg: aggDone, now: 1 }, c);
    expect(s1.effects).toEqual([]);
    const s2 = step(s1.state, { kind: 'message', from: 'us', msg: agg, now: 2 }, c);
    expect(s2.effects).toEqual([]);
    agg.data.fill(0); // the node's receive buffer is reused: the held chunk is a copy
    expect(s2.state.deferred?.map((d) => d.msg.type)).toEqual(['agg-done', 'agg']);
    expect((s2.state.deferred![1]!.msg as typeof agg).data).toEqual(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
    // published: our agg-done goes out first, then the held messages are taken in order
    const s3 = step(s2.state, { kind: 'published', digest: new Uint8Array(32), now: 3 }, c);
    const sent = s3.effects.filter((e) => e.kind === 'send').map((e) => (e as { msg: PeerMessage }).msg.type);
    expect(sent.slice(0, 2)).toEqual(['agg-done', 'agg-done']);
    expect(s3.state.publishing).toBe(false);
    expect(s3.state.deferred).toEqual([]);
    // the replayed agg-done from us was checked (it does not match: nothing of us was received)
    expect(s3.state.error?.code).toBe('PROTOCOL_BAD_COMMITMENT');
  });

  it('takes other messages at once while publishing', () => {
    const state: RoundState = { ...inPhase('combine'), publishing: true };
    const { state: next } = step(state, { kind: 'message', from: 'apac', msg: { type: 'abort', round: 'r', code: 'PROTOCOL_TIMEOUT', reason: 'x', culprits: [] }, now: 1 }, ctx('eu'));
    expect(next.phase).toBe('aborted');
  });
});
