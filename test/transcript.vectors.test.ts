/**
 * Transcript test vectors (format v1) under test/vectors/transcript/v1/: generated here from
 * runLocal with fixed seeds and deterministic keys (test/transcript-fixtures.ts).
 *
 *   MPC_WRITE_VECTORS=1 npx vitest run test/transcript.vectors.test.ts   # (re)write the files
 *   npx vitest run test/transcript.vectors.test.ts                      # regenerate and compare, verify each
 *
 * good_*.json must verify; bad_*.json must fail, and the first error must name `expect.check`
 * (and `expect.where`: file and seq).
 */
import { join } from 'node:path';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { signGrant } from '../src/policy/index.js';
import { beforeAll } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import type { EntryBodies } from '../src/protocol/records.js';
import { federationJson, rewrite, runRound, signAs, vectorFiles, vectorSuite, type RoundRun, type Vector } from './transcript-fixtures.js';

const DIR = join(import.meta.dirname, 'vectors/transcript/v1');
const SOURCE = 'MPC_WRITE_VECTORS=1 npx vitest run test/transcript.vectors.test.ts (runLocal with fixed seeds, keys SHA-256("key:" + region); test/transcript-fixtures.ts)';

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

const files = vectorFiles;

function build(): Record<string, Vector> {
  const good = runRound(K);
  const drop = runRound(K, { round: 'vec-drop', faults: { deadBeforeDeal: ['us'] } });
  const bad = runRound(K, { round: 'vec-abort', faults: { corruptAggregate: [{ region: 'us', index: 1 }] } });
  // eu may share only with APAC, except to US through a grant signed by the policy authority
  const AUTH_SK = new Uint8Array(32).fill(0x0a);
  const policy = {
    regions: { eu: { classification: 'personal', shareTo: ['APAC'] } },
    authority: bytesToHex(ed25519.getPublicKey(AUTH_SK)),
    grants: [signGrant(AUTH_SK, { federation: 'vectors', id: 'eu-to-US-2026', flow: { from: 'eu', toJurisdiction: 'US' }, notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-12-31T23:59:59Z' })],
  };
  const granted = runRound(K, { round: 'vec-policy', policy, now: Date.parse('2026-06-15T12:00:00Z') });
  const named = runRound(K, { round: 'vec-trainers', trainerIds: true });
  const euNamed = named.transcripts.eu!;
  const trainersSeq = euNamed.trimEnd().split('\n').findIndex((l) => l.includes('"kind":"trainers"'));
  const euPolicy = granted.transcripts.eu!;
  const grantSeq = euPolicy.trimEnd().split('\n').findIndex((l) => l.includes('"kind":"policy"') && l.includes('"grant":"eu-to-US-2026"'));
  const eu = good.transcripts.eu!;
  const v = (description: string, run: RoundRun, expectV: Vector['expect'], o: { edit?: Partial<Record<string, string>>; result?: Uint8Array | null; federation?: Record<string, unknown> } = {}): Vector => ({
    description, source: SOURCE, federation: o.federation ?? run.federation, transcripts: files(run, o.edit),
    result: o.result === undefined ? (run.mean ? bytesToHex(run.mean) : null) : o.result ? bytesToHex(o.result) : null, expect: expectV,
  });
  const receiptSeq = eu.trimEnd().split('\n').findIndex((l) => l.includes('"kind":"receipt"') && l.includes('"holder":"eu"') && l.includes('"dealer":"us"'));
  const wrongResult = good.mean!.slice();
  wrongResult[0]! ^= 1;
  return {
    good_3regions: v('3 regions, t = 2, all contribute; every transcript sealed by all 3 holders; result = the mean eu returned', good, { ok: true }),
    good_dropout: v('us never starts: apac and eu deal, hold and seal (t = 2)', drop, { ok: true }),
    good_policy_grant: v('eu may share only with APAC; a grant signed by the policy authority allows eu -> US for 2026; the round runs on 2026-06-15 and records the decisions', granted, { ok: true }),
    good_trainer_ids: v('every region records a trainers entry: its one update, from one pseudonymous trainer id', named, { ok: true }),
    bad_trainer_count_protocol: v(`eu's trainers entry (seq ${trainersSeq}) claims 2 updates from 2 ids while its signed commits say 1; chain re-signed`, named, { ok: false, check: 'protocol', where: `eu.jsonl seq ${trainersSeq}` }, {
      edit: {
        eu: rewrite(euNamed, (es) => es.map((e, i) => (i === trainersSeq ? { ...e, body: { count: 2, ids: [...(e.body as EntryBodies['trainers']).ids, 'f'.repeat(32)].sort() } } : e)), { resign: true }),
      },
    }),
    bad_policy_refused_flow: v(`eu's recorded decision for the granted flow (seq ${grantSeq}) rewritten to "refused", chain re-signed: the shares eu committed to us contradict it`, granted, { ok: false, check: 'policy', where: `eu.jsonl seq ${grantSeq}` }, {
      edit: {
        eu: rewrite(euPolicy, (es) => es.map((e, i) => (i === grantSeq ? { ...e, body: { ...(e.body as EntryBodies['policy']), outcome: 'refused' } } : e)), { resign: true }),
      },
    }),
    bad_flipped_hex_chain: v('one hex digit of a receipt digest in eu seq 4 changed, nothing else', good, { ok: false, check: 'chain', where: 'eu.jsonl seq 4' }, {
      edit: { eu: eu.split('\n').map((l, i) => (i === 4 ? l.replace(/"digest":"(.)/, (_m, c: string) => `"digest":"${c === 'a' ? 'b' : 'a'}`) : l)).join('\n') },
    }),
    bad_rehashed_signatures: v('a receipt digest in eu seq 4 changed and the chain re-hashed, but not re-signed', good, { ok: false, check: 'signatures', where: 'eu.jsonl seq 4' }, {
      edit: { eu: rewrite(eu, (es) => es.map((e, i) => (i === 4 ? { ...e, body: { ...(e.body as EntryBodies['receipt']), digest: '11'.repeat(32) } } : e)), { rehash: true }) },
    }),
    bad_lying_recorder_receipts: v(`eu re-signs its own receipt (seq ${receiptSeq}) with a digest other than us's commitment, and re-signs its chain`, good, { ok: false, check: 'receipts', where: `eu.jsonl seq ${receiptSeq}` }, {
      edit: {
        eu: rewrite(eu, (es) => es.map((e, i) => {
          if (i !== receiptSeq) return e;
          const b = { ...(e.body as EntryBodies['receipt']), digest: '22'.repeat(32) };
          return { ...e, body: { ...b, sig: signAs('eu', { type: 'receipt', round: e.round, dealer: b.dealer, holder: b.holder, digest: hexToBytes(b.digest) }) } };
        }), { resign: true }),
      },
    }),
    bad_truncated_sealed: v("eu's transcript without its final sealed entry (a crash before the seals arrived)", good, { ok: false, check: 'sealed', where: 'eu.jsonl seq 18' }, {
      edit: { eu: eu.trimEnd().split('\n').slice(0, -1).join('\n') + '\n' },
    }),
    bad_torn_line_encoding: v("eu's last line cut in the middle (a crash while writing)", good, { ok: false, check: 'encoding', where: 'eu.jsonl seq 19' }, { edit: { eu: eu.slice(0, eu.length - 100) } }),
    bad_result_vector_result: v('the transcripts are good; the result vector has one bit flipped', good, { ok: false, check: 'result', where: 'apac.jsonl seq 18' }, { result: wrongResult }),
    bad_dealer_equivocation_cross_check: v("us signed two different commitments (trainers 1 and 2); eu's transcript holds the second", good, { ok: false, check: 'cross-check', where: 'eu.jsonl seq 3' }, {
      edit: {
        eu: rewrite(eu, (es) => es.map((e) => {
          if (e.kind !== 'commits' || (e.body as EntryBodies['commits']).dealer !== 'us') return e;
          const b = { ...(e.body as EntryBodies['commits']), trainers: 2 };
          const digests = Object.fromEntries(Object.entries(b.digests).map(([k, d]) => [k, hexToBytes(d)]));
          return { ...e, body: { ...b, sig: signAs('us', { type: 'commits', round: e.round, dealer: 'us', contributes: true, trainers: 2, digests }) } };
        }), { resign: true }),
      },
    }),
    bad_projection_consistency: v("apac signs a seal whose projection is off by one; eu's transcript records it", good, { ok: false, check: 'consistency', where: 'eu.jsonl seq 19' }, {
      edit: {
        eu: rewrite(eu, (es) => es.map((e) => {
          if (e.kind !== 'sealed') return e;
          const seals = (e.body as EntryBodies['sealed']).seals.map((s) => {
            if (s.holder !== 'apac') return s;
            const projection = (BigInt('0x' + s.projection) + 1n).toString(16).padStart(16, '0');
            return { ...s, projection, sig: signAs('apac', { type: 'seal', round: e.round, holder: 'apac', result: hexToBytes(s.result), projection: hexToBytes(projection) }) };
          });
          return { ...e, body: { seals } };
        }), { resign: true }),
      },
    }),
    bad_seal_other_result_sealed: v("us seals a different result digest; eu's transcript records it", good, { ok: false, check: 'sealed', where: 'eu.jsonl seq 19' }, {
      edit: {
        eu: rewrite(eu, (es) => es.map((e) => {
          if (e.kind !== 'sealed') return e;
          const seals = (e.body as EntryBodies['sealed']).seals.map((s) => (s.holder !== 'us' ? s : { ...s, result: '33'.repeat(32), sig: signAs('us', { type: 'seal', round: e.round, holder: 'us', result: hexToBytes('33'.repeat(32)), projection: hexToBytes(s.projection) }) }));
          return { ...e, body: { seals } };
        }), { resign: true }),
      },
    }),
    bad_reordered_protocol: v('eu moves the decision before the commitments and re-signs its chain', good, { ok: false, check: 'protocol', where: 'eu.jsonl seq 2' }, {
      edit: { eu: rewrite(eu, (es) => { const d = es.findIndex((e) => e.kind === 'decision'); const out = es.filter((_, i) => i !== d); out.splice(1, 0, es[d]!); return out; }, { resign: true }) },
    }),
    bad_other_federation_parameters: v('good transcripts checked against a federation file with another clipL2 (same keys)', good, { ok: false, check: 'parameters', where: 'apac.jsonl seq 0' }, {
      federation: { ...federationJson(), round: { ...(federationJson().round as object), clipL2: 5000 } },
    }),
    bad_aborted_sealed: v("us publishes a wrong aggregate share: apac's and eu's consistency checks fail and they abort (nothing revealed); their transcripts", { ...bad, transcripts: { apac: bad.transcripts.apac!, eu: bad.transcripts.eu! } }, { ok: false, check: 'sealed', where: 'apac.jsonl seq 18' }, { result: null }),
    bad_cheater_consistency: v("the same round with us's own transcript: its agg-done commits to the share it sent, not the one it combined, so its Fiat-Shamir challenge does not recompute", bad, { ok: false, check: 'consistency', where: 'us.jsonl seq 17' }, { result: null }),
  };
}

vectorSuite('transcript vectors v1', DIR, build);
