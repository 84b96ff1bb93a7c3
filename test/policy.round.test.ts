/**
 * The locality policy inside the round state machine (runLocal with a policy, virtual clock):
 * grants allow a flow only while valid (an expired one is refused, recorded and counted), a
 * round below the minimum trainers aborts before anything is revealed, a dealer with fewer than
 * t allowed holders aborts before dealing, and the verifier's `policy` check.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseFederation, type Federation } from '../src/federation/index.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import { loadKernelsFresh } from '../src/field/node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { runLocal, type LocalOutcome } from '../src/protocol/harness.js';
import { signGrant } from '../src/policy/index.js';
import { roundParamsFor } from '../src/protocol/params.js';
import type { EntryBodies } from '../src/protocol/records.js';
import { verifyRound } from '../src/verifier/index.js';
import { federationJson, REGIONS } from './transcript-fixtures.js';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const AUTH_SK = new Uint8Array(32).fill(0x0a);
const GRANT = signGrant(AUTH_SK, { federation: 'vectors', id: 'eu-to-US-2026', flow: { from: 'eu', toJurisdiction: 'US' }, notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-12-31T23:59:59Z' });
const IN_2026 = Date.parse('2026-06-15T12:00:00Z');
const IN_2027 = Date.parse('2027-01-01T00:00:00Z');

function fedWith(policy: Record<string, unknown>): { json: Record<string, unknown>; fed: Federation } {
  const json = { ...federationJson(), policy };
  return { json, fed: parseFederation(json) };
}

function run(fed: Federation, now: number, round = 'pol-1', trainers = 1): LocalOutcome[] {
  const P = 4;
  const inputs = REGIONS.map((region, r) => ({
    region,
    updates: Array.from({ length: trainers }, () => ({ update: Float32Array.from({ length: P }, (_, i) => Math.sin(i + 3 * r)), weight: 1 })),
  }));
  const rng = (region: string) => aesCtrRandom(new Uint8Array(32).fill(region.charCodeAt(0) ^ region.length));
  return runLocal(K, roundParamsFor(fed, round, P), inputs, { rng, policy: fed, now });
}

const policyEntries = (o: LocalOutcome) => o.transcript.filter((l) => l.includes('"kind":"policy"')).map((l) => (JSON.parse(l) as { body: EntryBodies['policy'] }).body);
const sharesSent = (o: LocalOutcome) => o.sent.filter((s) => s.msg.type === 'share').map((s) => s.to);
const verify = (json: Record<string, unknown>, outs: LocalOutcome[]) => verifyRound({ federation: json, transcripts: outs.map((o) => new TextEncoder().encode(o.transcript.join(''))), names: outs.map((o) => `${o.region}.jsonl`) });

describe('policy in the round', () => {
  const eu2apac = { authority: bytesToHex(ed25519.getPublicKey(AUTH_SK)), grants: [GRANT], regions: { eu: { classification: 'personal', shareTo: ['APAC'] } } };

  it('a valid grant allows eu -> us: dealt, recorded with the grant id, verified', async () => {
    const { json, fed } = fedWith(eu2apac);
    const outs = run(fed, IN_2026);
    const eu = outs.find((o) => o.region === 'eu')!;
    expect(outs.every((o) => o.result)).toBe(true);
    expect(sharesSent(eu).sort()).toEqual(['apac', 'us']);
    expect(policyEntries(eu)).toContainEqual(expect.objectContaining({ subject: 'eu->us', outcome: 'allowed', rule: 'grant', grant: 'eu-to-US-2026' }));
    expect(eu.violations).toEqual([]);
    const rep = await verify(json, outs);
    expect(rep.errors).toEqual([]);
  });

  it('an expired grant is refused: eu never deals to us, the refusal is recorded and a violation; the round completes without us as holder', async () => {
    const { json, fed } = fedWith(eu2apac);
    const outs = run(fed, IN_2027, 'pol-2');
    const eu = outs.find((o) => o.region === 'eu')!;
    expect(sharesSent(eu)).toEqual(['apac']);
    const refused = policyEntries(eu).find((d) => d.subject === 'eu->us')!;
    expect(refused).toMatchObject({ outcome: 'refused', rule: 'share-to', grant: null });
    expect(refused.reason).toContain('grant eu-to-US-2026 expired at 2026-12-31T23:59:59Z');
    expect(eu.violations.map((v) => v.subject)).toEqual(['eu->us']);
    for (const o of outs) {
      expect(o.result).toBeDefined();
      expect(o.state.decision!.holders).toEqual(['apac', 'eu']);
    }
    const rep = await verify(json, outs);
    expect(rep.errors).toEqual([]);
    expect(rep.checks.find((c) => c.name === 'policy')!.detail).toMatch(/1 refusal/);
  });

  it('the verifier names the entry when a flow was not allowed by the policy in force', async () => {
    // the round ran under the open policy; the auditor's file forbids eu -> US without a grant
    const open = fedWith({});
    const outs = run(open.fed, IN_2026, 'pol-3');
    const strict = { ...federationJson(), policy: { authority: eu2apac.authority, grants: [GRANT], regions: eu2apac.regions } };
    // dates matter only for grants: evaluate the recorded decisions in 2027, when the grant is expired
    const rep = await verifyRound({
      federation: strict,
      transcripts: outs.map((o) => new TextEncoder().encode(o.transcript.join('').replace(/"at":"2026-06-15T12:00:0\d\.\d{3}Z"/g, '"at":"2027-01-01T00:00:00.000Z"'))),
      names: outs.map((o) => `${o.region}.jsonl`),
    });
    const pol = rep.errors.filter((e) => e.startsWith('policy:'));
    expect(pol.some((e) => /^policy: eu\.jsonl seq \d+: recorded eu->us allowed \(open\)/.test(e))).toBe(true);
    expect(pol.some((e) => /seq \d+: share flow eu -> us is not allowed by the policy in force/.test(e))).toBe(true);
  });

  it('below policy.minTrainers: the round aborts before reconstruction, no aggregate share is sent, the refusal is recorded', async () => {
    const { json, fed } = fedWith({ minTrainers: 5 });
    const outs = run(fed, IN_2026, 'pol-4');
    for (const o of outs) {
      expect(o.result).toBeUndefined();
      expect(o.error?.message).toMatch(/only 3 trainer\(s\) contributed, the policy requires 5: nothing is revealed/);
      expect(o.sent.filter((s) => s.msg.type === 'agg' || s.msg.type === 'decision')).toEqual([]);
    }
    const apac = outs.find((o) => o.region === 'apac')!; // the coordinator
    expect(policyEntries(apac)).toContainEqual(expect.objectContaining({ rule: 'min-trainers', outcome: 'refused', subject: 'pol-4' }));
    const rep = await verify(json, outs);
    expect(rep.errors.filter((e) => !e.startsWith('sealed:'))).toEqual([]); // aborted, otherwise consistent
  });

  it('fewer than t allowed holders: the dealer aborts before dealing, naming the policy', () => {
    const { fed } = fedWith({ authority: eu2apac.authority, grants: [GRANT], regions: { eu: { shareTo: [] } } });
    const outs = run(fed, IN_2027, 'pol-5');
    const eu = outs.find((o) => o.region === 'eu')!;
    expect(sharesSent(eu)).toEqual([]);
    expect(eu.error?.code).toBe('PROTOCOL_BELOW_THRESHOLD');
    expect(eu.error?.message).toMatch(/locality policy lets eu deal to only 1 .*nothing was dealt/);
    expect(eu.violations.map((v) => v.subject).sort()).toEqual(['eu->apac', 'eu->us']);
  });
});
