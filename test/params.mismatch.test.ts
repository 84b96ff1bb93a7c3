/**
 * A parameter mismatch names what differs: a field of the round parameters with both values,
 * or (when only the digests differ) the federation-file fields through the two nodes' federation
 * summaries, e.g. `policy.regions.eu.shareTo`, `round.collectMs`. The summary's shape check
 * refuses what a peer could abuse.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { federationSummary, parseFederation, summaryDifferences, summaryProblem, SUMMARY_MAX_ENTRIES, type Federation } from '../src/federation/index.js';
import { MAX_ABORT_REASON } from '../src/protocol/messages.js';
import { paramsBytes, paramsDigestHex, paramsMismatch, roundParamsFor } from '../src/protocol/params.js';
import { encodeManifest, manifestDigestHex, type TensorManifest } from '../src/core/tensor-manifest.js';
import { initialState, step, type StepContext } from '../src/protocol/round.js';
import { decodePeerMessage, encodePeerMessage } from '../src/wire/codec.js';
import { federationJson } from './transcript-fixtures.js';

const base = federationJson(['apac', 'eu', 'us']);
const fed = (edit: (j: Record<string, unknown>) => void = () => {}): Federation => {
  const j = structuredClone(base);
  edit(j);
  return parseFederation(j);
};
const round = (j: Record<string, unknown>) => j.round as Record<string, unknown>;

describe('federationSummary', () => {
  it('flattens the federation to one short fingerprint per field, naming regions by id', () => {
    const s = federationSummary(fed())!;
    expect(s['round.clipL2']).toBe('10000');
    expect(s['regions[eu].endpoint']).toBe('"ws://127.0.0.1:7101"');
    expect(s['policy.regions.eu.shareTo']).toBe('null');
    expect(s['regions[eu].publicKey']).toMatch(/^sha256:[0-9a-f]{16}$/); // longer than 64 characters: a fingerprint
    expect(summaryProblem(s)).toBeNull();
  });

  it('names every field that differs, a field only one side has included', () => {
    const a = federationSummary(fed())!;
    const b = federationSummary(fed((j) => (round(j).collectMs = 500)))!;
    expect(summaryDifferences(a, b)).toEqual([{ path: 'round.collectMs', ours: '1000', theirs: '500' }]);
    expect(summaryDifferences(a, { ...a, 'x.y': '1' })).toEqual([{ path: 'x.y', ours: null, theirs: '1' }]);
    expect(summaryDifferences(a, { ...a, __proto__: 'x' } as never)).toEqual([]);
  });

  it('refuses a summary from a peer that is not a small map of short strings', () => {
    expect(summaryProblem([])).toMatch(/map/);
    expect(summaryProblem({ a: 1 })).toMatch(/strings/);
    expect(summaryProblem({ a: 'x'.repeat(65) })).toMatch(/at most 64/);
    expect(summaryProblem({ ['p'.repeat(257)]: 'x' })).toMatch(/too long/);
    expect(summaryProblem(Object.fromEntries(Array.from({ length: SUMMARY_MAX_ENTRIES + 1 }, (_, i) => [`k${i}`, 'v'])))).toMatch(/more than/);
  });
});

describe('paramsMismatch', () => {
  const ours = roundParamsFor(fed(), 'r1', 10);

  it('names a round parameter with both values and where each is, not the digests it also changes', () => {
    const theirs = roundParamsFor(fed((j) => (round(j).clipL2 = 50)), 'r1', 10);
    expect(paramsMismatch(ours, theirs, 'us', 'eu')).toMatchObject({ key: 'clipL2', expected: '10000', found: '50', detail: 'round.clipL2: 10000 at us, 50 at eu' });
    expect(paramsMismatch(ours, { ...ours, params: 12 }, 'us', 'eu')!.detail).toBe('params (the update length): 10 at us, 12 at eu');
    expect(paramsMismatch(ours, ours, 'us', 'eu')).toBeNull();
  });

  it('names the policy rule that differs when only the digests do (both summaries at hand)', () => {
    const other = fed((j) => (j.policy = { regions: { eu: { shareTo: ['EU', 'US'] } } }));
    const theirs = roundParamsFor(other, 'r1', 10);
    const mm = paramsMismatch(ours, theirs, 'us', 'eu', { ours: federationSummary(fed()), theirs: federationSummary(other)! })!;
    expect(mm.key).toBe('policy');
    expect(mm.detail).toBe('policy.regions.eu.shareTo: null at us, ["EU","US"] at eu');
  });

  it('names a federation field outside the round parameters (round.collectMs)', () => {
    const other = fed((j) => (round(j).collectMs = 500));
    const mm = paramsMismatch(ours, roundParamsFor(other, 'r1', 10), 'us', 'eu', { ours: federationSummary(fed()), theirs: federationSummary(other)! })!;
    expect(mm.detail).toBe('round.collectMs: 1000 at us, 500 at eu');
  });

  it('without a peer summary, names the digest (policy first)', () => {
    const other = fed((j) => (round(j).collectMs = 500));
    const mm = paramsMismatch(ours, roundParamsFor(other, 'r1', 10), 'us', 'eu', { ours: federationSummary(fed()) })!;
    expect(mm.detail).toMatch(/^policy digest: "[0-9a-f]{12}…" at us, "[0-9a-f]{12}…" at eu; federation digest: "[0-9a-f]{12}…" at us, "[0-9a-f]{12}…" at eu$/);
  });

  it('a peer\'s long field paths are cut: the message stays short enough to be an abort reason', () => {
    const ours = federationSummary(fed())!;
    const theirs = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`${'p'.repeat(250)}${i}`, 'x'.repeat(64)]));
    const mm = paramsMismatch(roundParamsFor(fed(), 'r1', 10), { ...roundParamsFor(fed(), 'r1', 10), policy: 'e'.repeat(64) }, 'us', 'eu', { ours, theirs })!;
    expect(mm.detail.length).toBeLessThan(MAX_ABORT_REASON / 2);
  });

  it('lists at most four fields and counts the rest', () => {
    const other = fed((j) => Object.assign(round(j), { collectMs: 500, phaseTimeoutMs: 20_000, roundTimeoutMs: 200_000, maxWeight: 10, maxTrainersPerRound: 10 }));
    const mm = paramsMismatch(ours, roundParamsFor(other, 'r1', 10), 'us', 'eu', { ours: federationSummary(fed()), theirs: federationSummary(other)! })!;
    expect(mm.detail.split('; ')).toHaveLength(5);
    expect(mm.detail).toMatch(/; 1 more field\(s\)$/);
  });
});

describe('a params message with the sender summary', () => {
  it('goes over the wire, and the receiving round aborts naming the field', () => {
    const mine = fed();
    const other = fed((j) => (round(j).collectMs = 500));
    const sent = { type: 'params' as const, round: 'r1', params: roundParamsFor(other, 'r1', 10), summary: federationSummary(other)! };
    const got = decodePeerMessage(encodePeerMessage(sent));
    expect(got).toEqual(sent);
    const key = ed25519.utils.randomSecretKey();
    const ctx: StepContext = { memory: {} as never, sign: (b) => ed25519.sign(b, key), verify: () => true, projectionRng: () => () => {}, summary: federationSummary(mine) };
    const s = initialState('us', roundParamsFor(mine, 'r1', 10), { peerWaitMs: 1e9, decideMs: 2e9, roundMs: 3e9 }, 0);
    const open = step(s, { kind: 'open', now: 0 }, ctx);
    // our own params go out with our summary
    expect(open.effects.find((e) => e.kind === 'send')).toMatchObject({ msg: { type: 'params', summary: federationSummary(mine) } });
    const { state } = step(open.state, { kind: 'message', from: 'eu', msg: got, now: 1 }, ctx);
    expect(state.error).toMatchObject({ code: 'PROTOCOL_PARAMS_MISMATCH', message: 'round r1: parameters differ, round.collectMs: 1000 at us, 500 at eu; align the federation files / trainer updates and retry (found by us)' });
  });

  it('a malformed summary is a malformed message', () => {
    const bad = { type: 'params' as const, round: 'r1', params: roundParamsFor(fed(), 'r1', 10), summary: { a: 1 } as never };
    expect(() => decodePeerMessage(encodePeerMessage(bad))).toThrow(/summary values must be strings/);
  });
});

describe('rounds of named tensors', () => {
  const A: TensorManifest = { v: 1, tensors: [{ name: 'fc1.weight', shape: [4, 3], dtype: 'float32' }, { name: 'fc1.bias', shape: [4], dtype: 'float32' }] };
  const B: TensorManifest = { v: 1, tensors: [{ name: 'fc1.weight', shape: [3, 4], dtype: 'float32' }, { name: 'fc1.bias', shape: [4], dtype: 'float32' }] };
  const textOf = (m: TensorManifest) => new TextDecoder().decode(encodeManifest(m));
  const digestOf = (m: TensorManifest) => manifestDigestHex(encodeManifest(m));

  it('the manifest digest is a round parameter; without one the canonical bytes are those of before', () => {
    const f = fed();
    const plain = roundParamsFor(f, 'r', 16);
    expect(plain).not.toHaveProperty('manifest');
    const named = roundParamsFor(f, 'r', 16, digestOf(A));
    expect(paramsDigestHex(named)).not.toBe(paramsDigestHex(plain));
    expect(paramsBytes(plain).length).toBeLessThan(paramsBytes(named).length);
  });

  it('models that differ with the same length: the mismatch names the first tensor that differs', () => {
    const f = fed();
    const mm = paramsMismatch(roundParamsFor(f, 'r', 16, digestOf(A)), roundParamsFor(f, 'r', 16, digestOf(B)), 'us', 'eu', { manifests: { ours: A, theirs: B } })!;
    expect(mm.key).toBe('manifest');
    expect(mm.detail).toBe('the trainers\' models differ: tensor 0: us has "fc1.weight" float32[4, 3], eu has "fc1.weight" float32[3, 4]');
    const plain = paramsMismatch(roundParamsFor(f, 'r', 16, digestOf(A)), roundParamsFor(f, 'r', 16), 'us', 'eu')!;
    expect(plain.detail).toMatch(/^the trainers' models differ: manifest "[0-9a-f]{12}…" at us, plain float32 vectors \(no manifest\) at eu$/);
  });

  it('a params message carries the manifest text, whose digest must be params.manifest', () => {
    const p = roundParamsFor(fed(), 'r', 16, digestOf(A));
    const msg = { type: 'params' as const, round: 'r', params: p, tensors: textOf(A) };
    expect(decodePeerMessage(encodePeerMessage(msg))).toMatchObject({ tensors: textOf(A), params: { manifest: digestOf(A) } });
    expect(() => decodePeerMessage(encodePeerMessage({ ...msg, tensors: textOf(B) }))).toThrow(/tensors do not have the digest params.manifest names/);
    expect(() => decodePeerMessage(encodePeerMessage({ ...msg, tensors: '{"v":1}' }))).toThrow(/params: tensors: manifest.tensors must be a non-empty list/);
    expect(() => decodePeerMessage(encodePeerMessage({ ...msg, params: { ...p, manifest: 'xyz' } }))).toThrow(/params.manifest is not a 32-byte hex digest/);
  });
});
