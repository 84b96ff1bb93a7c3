/**
 * Liveness of a round when a region dies mid-round (runLocal, virtual clock): a region that
 * received shares and then died is never a decided holder, and the round ends at once (not at a
 * deadline); a decided holder that dies finishes the round without it when the result does not
 * need it, and aborts it at once with PROTOCOL_PEER_LOST when it does. A hung region (its link
 * stalled: up, but taking nothing) is not waited for once every other region has answered, and
 * is waited for again when it flows before that.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { runLocal, type LocalFaults, type LocalNodeInput, type LocalOutcome } from '../src/protocol/harness.js';
import type { PeerMessage } from '../src/protocol/messages.js';
import type { RoundParams } from '../src/protocol/params.js';
import { initialState, step, type RoundEvent, type RoundTiming } from '../src/protocol/round.js';
import { maxErr } from './support/plaintext.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const rng = (region: string) => aesCtrRandom(new Uint8Array(32).fill(region.charCodeAt(0)));
const REGIONS3 = ['apac', 'eu', 'us'];
const REGIONS5 = ['apac', 'eu', 'sa', 'us', 'za'];
const L = 50;
const timing: RoundTiming = { peerWaitMs: 1000, decideMs: 5000, roundMs: 20_000, sealMs: 5000 };

function params(participants: string[], t: number): RoundParams {
  return {
    round: 'r1', federation: 'f'.repeat(64), policy: 'p'.repeat(64), participants, threshold: t, params: L,
    scaleBits: 16, clipL2: 1e4, clipMode: 'reject', minContributors: 1, minTrainers: 1,
  };
}

function inputs(regions: string[]): LocalNodeInput[] {
  return regions.map((region, r) => ({ region, updates: [{ update: Float32Array.from({ length: L }, (_, i) => Math.sin(i + 10 * r)), weight: 1 + r }] }));
}

function weightedSum(inp: LocalNodeInput[], of: string[]): Float64Array {
  const sum = new Float64Array(L);
  for (const n of inp) if (of.includes(n.region)) for (const u of n.updates) u.update.forEach((v, i) => (sum[i]! += v * u.weight));
  return sum;
}


/** A kill predicate: true once `region` has sent a receipt for each of `dealers` to each of `to`. */
function afterReceipts(dealers: string[], to: string[]): (msg: PeerMessage, dest: string) => boolean {
  const sent = new Set<string>();
  return (msg, dest) => {
    if (msg.type === 'receipt' && dealers.includes(msg.dealer)) sent.add(`${msg.dealer}>${dest}`);
    return dealers.every((d) => to.every((p) => sent.has(`${d}>${p}`)));
  };
}

/** Runs a round and notes, per region, the virtual time of the event that ended it (result or abort). */
function run(regions: string[], t: number, faults: LocalFaults): { out: LocalOutcome[]; endedAt: Map<string, number>; inp: LocalNodeInput[] } {
  const inp = inputs(regions);
  const endedAt = new Map<string, number>();
  const observe = {
    step(region: string, ev: RoundEvent, effects: readonly { kind: string }[]) {
      if (effects.some((e) => e.kind === 'result' || e.kind === 'aborted')) endedAt.set(region, ev.now);
    },
  };
  const out = runLocal(K, params(regions, t), inp, { rng, timing, faults, observe });
  return { out, endedAt, inp };
}

const entries = (o: LocalOutcome) => o.transcript.map((l) => JSON.parse(l) as { kind: string; body: Record<string, unknown> });

describe('a region that dies mid-round', () => {
  it('received shares, sent receipts, died before its commits: not a holder, the round completes sealed at once', () => {
    // eu's collection is still open (it has not dealt): it receipts apac's and us's shares, then is killed
    const { out, endedAt, inp } = run(REGIONS3, 2, { holdInput: ['eu'], kill: [{ region: 'eu', after: afterReceipts(['apac', 'us'], ['apac', 'us']) }] });
    const live = out.filter((o) => o.region !== 'eu');
    expect(live.map((o) => o.region)).toEqual(['apac', 'us']);
    for (const o of live) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.decision).toMatchObject({ dealers: ['apac', 'us'], holders: ['apac', 'us'] });
      expect(maxErr(o.result!.sum, weightedSum(inp, ['apac', 'us']))).toBeLessThan(1e-3);
      expect(o.state.sealing?.state).toBe('sealed');
      expect(endedAt.get(o.region)).toBeLessThan(timing.decideMs); // not at a deadline
    }
    // the coordinator's transcript says why eu is not a holder
    expect(entries(live[0]!).find((e) => e.kind === 'dropout')?.body).toMatchObject({ region: 'eu', phase: 'decide', reason: expect.stringMatching(/link went down before the decision/) });
  });

  it('dealt, committed, then died: in D, not in R, decided at once (5 regions, t = 3)', () => {
    const others = REGIONS5.filter((r) => r !== 'za');
    const sent = new Set<string>();
    const afterCommits = (m: PeerMessage, to: string) => (m.type === 'commits' && sent.add(to), others.every((p) => sent.has(p)));
    const { out, endedAt, inp } = run(REGIONS5, 3, { kill: [{ region: 'za', after: afterCommits }] });
    for (const o of out.filter((x) => x.region !== 'za')) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.decision!.dealers).toContain('za');
      expect(o.state.decision!.holders).toEqual(others);
      expect(maxErr(o.result!.sum, weightedSum(inp, REGIONS5))).toBeLessThan(1e-3);
      expect(o.state.sealing?.state).toBe('sealed');
      expect(endedAt.get(o.region)).toBeLessThan(timing.decideMs);
    }
  });

  it('received and receipted but stuck (no commits, link still up): left out of R at the decision deadline', () => {
    const { out, inp } = run(REGIONS3, 2, { holdInput: ['eu'] });
    for (const o of out.filter((x) => x.region !== 'eu')) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.decision).toMatchObject({ dealers: ['apac', 'us'], holders: ['apac', 'us'] });
      expect(maxErr(o.result!.sum, weightedSum(inp, ['apac', 'us']))).toBeLessThan(1e-3);
    }
  });

  it('killed while dealing (before its commits): the holders it reached cannot leave its shares out, so the round aborts at once', () => {
    // a holder's sum of held shares already includes eu's chunks, and no share stream is kept apart
    const { out, endedAt } = run(REGIONS3, 2, { holdCommits: ['eu'], kill: [{ region: 'eu', after: afterReceipts(['apac', 'us'], ['apac', 'us']) }] });
    for (const o of out.filter((x) => x.region !== 'eu')) {
      expect(o.error?.code).toBe('PROTOCOL_BELOW_THRESHOLD');
      expect(o.error?.message).toMatch(/holds shares from eu, which is not a decided dealer/);
      expect(endedAt.get(o.region)).toBeLessThan(timing.decideMs);
    }
  });

  it('a decided holder outside the first t dies before its aggregate share: the round finishes without it, unsealed, at once', () => {
    // holders apac, eu, sa, us, za; the result is interpolated from apac, eu, sa
    const { out, endedAt, inp } = run(REGIONS5, 3, { kill: [{ region: 'za', after: (m) => m.type === 'decision' }] });
    for (const o of out.filter((x) => x.region !== 'za')) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.decision!.holders).toEqual(REGIONS5);
      expect(maxErr(o.result!.sum, weightedSum(inp, REGIONS5))).toBeLessThan(1e-3);
      expect(endedAt.get(o.region)).toBeLessThan(timing.decideMs);
      const last = entries(o).at(-1)!;
      expect(last).toMatchObject({ kind: 'unsealed', body: { missing: ['za'], reason: expect.stringMatching(/no seal from za: the link went down/) } });
    }
  });

  it('a decided holder among the first t dies before its aggregate share: every other region aborts at once with PROTOCOL_PEER_LOST', () => {
    const { out, endedAt } = run(REGIONS5, 3, { kill: [{ region: 'eu', after: (m) => m.type === 'decision' }] });
    for (const o of out.filter((x) => x.region !== 'eu')) {
      expect(o.error?.code).toBe('PROTOCOL_PEER_LOST');
      expect(o.error?.message).toMatch(/link to eu went down before its aggregate share arrived/);
      expect(endedAt.get(o.region)).toBeLessThan(timing.decideMs); // not at roundMs
      const last = entries(o).at(-1)!;
      expect(last).toMatchObject({ kind: 'abort', body: { by: o.region, code: 'PROTOCOL_PEER_LOST' } });
    }
  });

  it('a dead dealer\'s commits are in: the coordinator still waits for the live holders\' receipts of its shares', () => {
    // apac (coordinator) has everything from eu and itself, and us's commits, but not eu's receipt
    // of us's share; us then dies: deciding now would leave us out of D while eu holds its share
    const ctx = { memory: {} as never, sign: () => new Uint8Array(64), verify: () => true, projectionRng: () => () => {} };
    const all = { apac: 'a1', eu: 'e1', us: 'u1' };
    const s = {
      ...initialState('apac', params(REGIONS3, 2), timing, 0), phase: 'decide' as const, matched: ['eu', 'us'],
      commits: Object.fromEntries(REGIONS3.map((d) => [d, { contributes: true, trainers: 1, digests: { ...all } }])),
      receipts: { apac: { ...all }, eu: { ...all }, us: { apac: 'u1', us: 'u1' } },
    };
    const { state, effects } = step(s, { kind: 'peer-down', peer: 'us', now: 1 }, ctx);
    expect(state.decision).toBeNull();
    expect(state.phase).toBe('decide');
    expect(effects.filter((e) => e.kind !== 'log')).toEqual([]);
  });

  it('peer-up clears peer-down: a reconnected peer is waited for again', () => {
    const ctx = { memory: {} as never, sign: () => new Uint8Array(64), verify: () => true, projectionRng: () => () => {} };
    let s = { ...initialState('eu', params(REGIONS3, 2), timing, 0), matched: ['apac', 'us'] };
    s = step(s, { kind: 'peer-down', peer: 'us', now: 1 }, ctx).state as typeof s;
    expect(s.down).toEqual(['us']);
    // a repeated peer-down, or one for a non-participant, changes nothing
    expect(step(s, { kind: 'peer-down', peer: 'us', now: 2 }, ctx).effects).toEqual([]);
    expect(step(s, { kind: 'peer-down', peer: 'mars', now: 2 }, ctx).state.down).toEqual(['us']);
    s = step(s, { kind: 'peer-up', peer: 'us', now: 3 }, ctx).state as typeof s;
    expect(s.down).toEqual([]);
  });
});

describe('a hung region (its link stalled: up, but taking nothing)', () => {
  /** Stalls `region` once it has sent its parameters to every other region (it opened the round, then hung). */
  const afterParams = (region: string, regions: string[]) => {
    const sent = new Set<string>();
    return (m: PeerMessage, to: string) => (m.type === 'params' && sent.add(to), regions.filter((r) => r !== region).every((p) => sent.has(p)));
  };

  it('stalled, then every other region answered: decided without it at once, sealed, and the coordinator says why', () => {
    const { out, endedAt, inp } = run(REGIONS3, 2, { stall: [{ region: 'us', after: afterParams('us', REGIONS3) }] });
    const live = out.filter((o) => o.region !== 'us');
    for (const o of live) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.stalled).toEqual(['us']);
      expect(o.state.dealtTo).toContain('us'); // its parameters had matched: it was dealt to
      expect(o.state.decision).toMatchObject({ dealers: ['apac', 'eu'], holders: ['apac', 'eu'] });
      expect(maxErr(o.result!.sum, weightedSum(inp, ['apac', 'eu']))).toBeLessThan(1e-3);
      expect(o.state.sealing?.state).toBe('sealed');
      expect(endedAt.get(o.region)).toBeLessThan(timing.peerWaitMs); // not at a deadline
    }
    expect(entries(live[0]!).find((e) => e.kind === 'dropout')?.body).toMatchObject({ region: 'us', phase: 'decide', reason: expect.stringMatching(/stalled when every other participant had answered/) });
    expect(out.find((o) => o.region === 'us')!.state.phase).toBe('collect'); // it never ran again
  });

  it('stalled, but another region has not answered yet: still waited for, together with it, until the deadline', () => {
    // za hangs; eu's collection never closes (no commits): the coordinator waits for eu, so for
    // za too, and at the decision deadline leaves out both (5 regions, t = 2)
    const { out, endedAt, inp } = run(REGIONS5, 2, { holdInput: ['eu'], stall: [{ region: 'za', after: afterParams('za', REGIONS5) }] });
    for (const o of out.filter((x) => x.region !== 'za' && x.region !== 'eu')) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.decision).toMatchObject({ dealers: ['apac', 'sa', 'us'], holders: ['apac', 'sa', 'us'] });
      expect(maxErr(o.result!.sum, weightedSum(inp, ['apac', 'sa', 'us']))).toBeLessThan(1e-3);
      expect(endedAt.get(o.region)).toBeGreaterThanOrEqual(timing.decideMs); // it waited
    }
  });

  it('stalled, then flowing again before the decision: waited for again, and a dealer and holder', () => {
    // us hangs after its parameters and runs again at 250 ms; its collection closes at 750 ms,
    // eu's at 500 ms: once eu has answered, us (flowing, not yet committed) is still waited for
    const faults = { inputAt: { eu: 500, us: 750 }, stall: [{ region: 'us', after: afterParams('us', REGIONS3), flowAt: 250 }] };
    const { out, endedAt, inp } = run(REGIONS3, 2, faults);
    for (const o of out) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.stalled ?? []).toEqual([]);
      expect(o.state.decision).toMatchObject({ dealers: REGIONS3, holders: REGIONS3 });
      expect(maxErr(o.result!.sum, weightedSum(inp, REGIONS3))).toBeLessThan(1e-3);
      expect(endedAt.get(o.region)).toBeGreaterThanOrEqual(750);
    }
    // the same round with us still stalled when eu answers: decided then, without us
    const later = run(REGIONS3, 2, { ...faults, stall: [{ ...faults.stall[0]!, flowAt: 1500 }] });
    const apac = later.out.find((o) => o.region === 'apac')!;
    expect(apac.state.decision).toMatchObject({ dealers: ['apac', 'eu'], holders: ['apac', 'eu'] });
    expect(later.endedAt.get('apac')).toBeLessThan(750);
  });

  it('stalled as the last one missing, but the round cannot complete without it: waited for, and it takes part when it flows again', () => {
    // every region's policy requires 3 contributors: going on without us would abort the round
    // (us runs again at 750 ms, before its own wait for the others' parameters is up)
    const all3 = Object.fromEntries(REGIONS3.map((r) => [r, { minContributors: 3 }]));
    const { out, endedAt, inp } = run(REGIONS3, 2, { params: all3, stall: [{ region: 'us', after: afterParams('us', REGIONS3), flowAt: 750 }] });
    for (const o of out) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.decision).toMatchObject({ dealers: REGIONS3, holders: REGIONS3 });
      expect(maxErr(o.result!.sum, weightedSum(inp, REGIONS3))).toBeLessThan(1e-3);
      expect(endedAt.get(o.region)).toBeGreaterThanOrEqual(750);
    }
  });

  it('two stalled at once are both waited for (one of them may only be slow)', () => {
    // sa and za hang after their parameters (5 regions, t = 2): nothing is decided before the deadline
    const stall = ['sa', 'za'].map((region) => ({ region, after: afterParams(region, REGIONS5) }));
    const { out, endedAt, inp } = run(REGIONS5, 2, { stall });
    for (const o of out.filter((x) => x.region !== 'sa' && x.region !== 'za')) {
      expect(o.error?.message).toBeUndefined();
      expect(o.state.decision).toMatchObject({ dealers: ['apac', 'eu', 'us'], holders: ['apac', 'eu', 'us'] });
      expect(maxErr(o.result!.sum, weightedSum(inp, ['apac', 'eu', 'us']))).toBeLessThan(1e-3);
      expect(endedAt.get(o.region)).toBeGreaterThanOrEqual(timing.decideMs);
    }
  });

  it('the state machine: peer-stalled is ignored for a down or unknown peer, cleared by peer-flowing and by peer-up', () => {
    const ctx = { memory: {} as never, sign: () => new Uint8Array(64), verify: () => true, projectionRng: () => () => {} };
    let s = { ...initialState('eu', params(REGIONS3, 2), timing, 0), matched: ['apac', 'us'] };
    s = step(s, { kind: 'peer-stalled', peer: 'us', now: 1 }, ctx).state as typeof s;
    expect(s.stalled).toEqual(['us']);
    expect(step(s, { kind: 'peer-stalled', peer: 'mars', now: 2 }, ctx).state.stalled).toEqual(['us']);
    expect(step(s, { kind: 'peer-flowing', peer: 'us', now: 2 }, ctx).state.stalled).toEqual([]);
    expect(step(s, { kind: 'peer-up', peer: 'us', now: 2 }, ctx).state.stalled).toEqual([]);
    const down = step(s, { kind: 'peer-down', peer: 'apac', now: 2 }, ctx).state;
    expect(step(down, { kind: 'peer-stalled', peer: 'apac', now: 3 }, ctx).state.stalled).toEqual(['us']);
  });
});
