/**
 * Transcript test vectors of protocol version 2 under test/vectors/transcript/v2/ (next to v1/):
 * generated here from runLocal with fixed seeds and deterministic keys (test/transcript-fixtures.ts),
 * the federation file's round.protocol = 2.
 *
 *   MPC_WRITE_VECTORS=1 npx vitest run test/transcript.vectors.v2.test.ts   # (re)write the files
 *   npx vitest run test/transcript.vectors.v2.test.ts                      # regenerate and compare, verify each
 *
 * good_*.json must verify; bad_*.json must fail, and the first error must name `expect.check`
 * (and `expect.where`: file and seq). The bad ones tamper with each claim version 2 adds.
 */
import { join } from 'node:path';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { beforeAll } from 'vitest';
import { loadKernelsFresh } from '../src/field/node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import type { EntryBodies } from '../src/protocol/records.js';
import type { Entry } from '../src/transcript/log.js';
import { parseLines, rewrite, runRound, signAs, vectorFiles, vectorSuite, type RoundRun, type Vector } from './transcript-fixtures.js';

const DIR = join(import.meta.dirname, 'vectors/transcript/v2');
const SOURCE = 'MPC_WRITE_VECTORS=1 npx vitest run test/transcript.vectors.v2.test.ts (runLocal with fixed seeds, keys SHA-256("key:" + region), round.protocol 2; test/transcript-fixtures.ts)';
const R5 = ['apac', 'eu', 'sa', 'us', 'za'];

let K: WasmKernels;
beforeAll(async () => {
  K = await loadKernelsFresh();
});

/** The position of the first entry of `text` that `pick` selects. */
const seqOf = (text: string, pick: (e: Entry) => boolean): number => {
  const i = parseLines(text).findIndex(pick);
  if (i < 0) throw new Error('vector: no such entry');
  return i;
};
/** A projection (16 hex) plus one, mod 2^64 (a wrong field element of the same shape). */
const plusOne = (p: string): string => ((BigInt('0x' + p) + 1n) % 2n ** 64n).toString(16).padStart(16, '0');

function build(): Record<string, Vector> {
  const plain = runRound(K, { round: 'vec2-3', protocol: 2 });
  const fan = runRound(K, { round: 'vec2-5', protocol: 2, regions: R5, threshold: 3 });
  // eu's computed share to za is off its polynomial (za is not one of eu's seeded holders sa, us)
  const dealer = runRound(K, { round: 'vec2-dealer', protocol: 2, regions: R5, threshold: 3, faults: { corruptShare: [{ region: 'eu', to: 'za' }] } });
  const corrected = runRound(K, { round: 'vec2-corrected', protocol: 2, regions: R5, threshold: 3, faults: { corruptAggregate: [{ region: 'us', index: 1 }] } });
  const v = (description: string, run: RoundRun, expectV: Vector['expect'], o: { edit?: Partial<Record<string, string>>; result?: Uint8Array | null } = {}): Vector => ({
    description, source: SOURCE, federation: run.federation, transcripts: vectorFiles(run, o.edit),
    result: o.result === undefined ? (run.mean ? bytesToHex(run.mean) : null) : o.result ? bytesToHex(o.result) : null, expect: expectV,
  });

  // a receipt projection: the coordinator's copy of us's receipt for sa's share, re-signed by us
  const fanApac = fan.transcripts.apac!;
  const isReceipt = (dealerId: string, holder: string) => (e: Entry) => e.kind === 'receipt' && (e.body as EntryBodies['receipt']).dealer === dealerId && (e.body as EntryBodies['receipt']).holder === holder;
  const fanDecision = seqOf(fanApac, (e) => e.kind === 'decision');
  const receiptTampered = rewrite(fanApac, (es) => es.map((e) => {
    if (!isReceipt('sa', 'us')(e)) return e;
    const b = { ...(e.body as EntryBodies['receipt']) };
    b.projection = plusOne(b.projection!);
    return { ...e, body: { ...b, sig: signAs('us', { type: 'receipt', round: e.round, dealer: b.dealer, holder: b.holder, digest: hexToBytes(b.digest), projection: hexToBytes(b.projection) }, 2) } };
  }), { resign: true });

  // the dealer-check's off list, rewritten by the coordinator
  const dealerApac = dealer.transcripts.apac!;
  const dcSeq = seqOf(dealerApac, (e) => e.kind === 'dealer-check');
  const offTampered = rewrite(dealerApac, (es) => es.map((e) => (e.kind === 'dealer-check' ? { ...e, body: { ...(e.body as EntryBodies['dealer-check']), off: ['sa'] } } : e)), { resign: true });

  // an agg-proj: sa's projection as apac records it, re-signed by sa
  const aggProjTampered = rewrite(fanApac, (es) => es.map((e) => {
    if (e.kind !== 'agg-proj' || (e.body as EntryBodies['agg-proj']).holder !== 'sa') return e;
    const projection = plusOne((e.body as EntryBodies['agg-proj']).projection);
    return { ...e, body: { holder: 'sa', projection, sig: signAs('sa', { type: 'agg-proj', round: e.round, holder: 'sa', projection: hexToBytes(projection) }, 2) } };
  }), { resign: true });
  const fanCheck = seqOf(fanApac, (e) => e.kind === 'check');

  // the check's used: apac claims to have combined eu, sa and us (by the fan-in rule it combines itself, eu and sa)
  const usedTampered = rewrite(fanApac, (es) => es.map((e) => (e.kind === 'check' ? { ...e, body: { ...(e.body as EntryBodies['check']), used: ['eu', 'sa', 'us'] } } : e)), { resign: true });

  // the check's culprits: apac's corrected round claims no culprit
  const corrApac = corrected.transcripts.apac!;
  const corrCheck = seqOf(corrApac, (e) => e.kind === 'check');
  const culpritsTampered = rewrite(corrApac, (es) => es.map((e) => (e.kind === 'check' ? { ...e, body: { ...(e.body as EntryBodies['check']), culprits: [] } } : e)), { resign: true });

  // the challenge of apac's check
  const plainApac = plain.transcripts.apac!;
  const plainCheck = seqOf(plainApac, (e) => e.kind === 'check');
  const challengeTampered = rewrite(plainApac, (es) => es.map((e) => (e.kind === 'check' ? { ...e, body: { ...(e.body as EntryBodies['check']), challenge: '44'.repeat(32) } } : e)), { resign: true });

  // eu's own receipt of apac's share signed under the version-1 label (or without its projection)
  const plainEu = plain.transcripts.eu!;
  const euReceipt = seqOf(plainEu, isReceipt('apac', 'eu'));
  const resignReceipt = (version: 1 | 2, keepProjection: boolean) => rewrite(plainEu, (es) => es.map((e, i) => {
    if (i !== euReceipt) return e;
    const { projection, ...rest } = e.body as EntryBodies['receipt'];
    const b = keepProjection ? { ...rest, projection: projection! } : rest;
    const msg = { type: 'receipt' as const, round: e.round, dealer: b.dealer, holder: b.holder, digest: hexToBytes(b.digest), ...(keepProjection ? { projection: hexToBytes(projection!) } : {}) };
    return { ...e, body: { ...b, sig: signAs('eu', msg, version) } };
  }), { resign: true });

  // apac's seal as eu records it: a projection other than apac's agg-proj, re-signed by apac
  const plainEuSealed = seqOf(plainEu, (e) => e.kind === 'sealed');
  const sealTampered = rewrite(plainEu, (es) => es.map((e) => {
    if (e.kind !== 'sealed') return e;
    const seals = (e.body as EntryBodies['sealed']).seals.map((s) => {
      if (s.holder !== 'apac') return s;
      const projection = plusOne(s.projection);
      return { ...s, projection, sig: signAs('apac', { type: 'seal', round: e.round, holder: 'apac', result: hexToBytes(s.result), projection: hexToBytes(projection) }, 2) };
    });
    return { ...e, body: { seals } };
  }), { resign: true });

  return {
    good_v2_3regions_seeded: v('version 2, 3 regions, t = 2: each dealer sends one holder a 32-byte seed and one a computed share; receipts with projections; every node combines 2 aggregate shares (fan-in); sealed by all 3', plain, { ok: true }),
    good_v2_5regions_fan_in: v('version 2, 5 regions, t = 3: 2 seeded holders per dealer; every node combines its own and 2 received aggregate shares, chosen by the fan-in rule; 5 projections on one polynomial of degree 2', fan, { ok: true }),
    good_v2_dealer_inconsistent: v("version 2, 5 regions, t = 3: eu's share to za is off eu's polynomial; the coordinator's dealer-check names za (unique decoding of the receipted projections) and leaves it out of R; the 4 others hold and seal", dealer, { ok: true }),
    good_v2_corrected: v("version 2, 5 regions, t = 3: us publishes a wrong aggregate share; every node's check names us a culprit, leaves it out and combines 3 honest shares: the result is corrected and sealed by the 4 others", corrected, { ok: true }),
    bad_v2_receipt_projection_dealer_consistency: v(`the coordinator apac's copy of us's receipt for sa's share carries another projection (re-signed by us, chain re-signed): sa's shares to the decided holders leave its polynomial`, fan, { ok: false, check: 'dealer-consistency', where: `apac.jsonl seq ${fanDecision}` }, { edit: { apac: receiptTampered } }),
    bad_v2_dealer_check_off_dealer_consistency: v(`the coordinator's dealer-check of eu (seq ${dcSeq}) names sa off instead of za, chain re-signed`, dealer, { ok: false, check: 'dealer-consistency', where: `apac.jsonl seq ${dcSeq}` }, { edit: { apac: offTampered } }),
    bad_v2_agg_proj_consistency: v("sa's signed projection as apac records it is off by one (re-signed by sa, chain re-signed): apac's check names no culprit, but unique decoding names sa", fan, { ok: false, check: 'consistency', where: `apac.jsonl seq ${fanCheck}` }, { edit: { apac: aggProjTampered } }),
    bad_v2_check_used_fan_in: v("apac's check claims it combined eu, sa and us (chain re-signed); by the fan-in rule apac combines its own aggregate share with eu's and sa's", fan, { ok: false, check: 'fan-in', where: `apac.jsonl seq ${fanCheck}` }, { edit: { apac: usedTampered } }),
    bad_v2_check_culprits_consistency: v("apac's check of the corrected round claims no culprit (chain re-signed), though us's projection is off the others' polynomial", corrected, { ok: false, check: 'consistency', where: `apac.jsonl seq ${corrCheck}` }, { edit: { apac: culpritsTampered } }),
    bad_v2_challenge_consistency: v("apac's check records another challenge (chain re-signed): it is not challengeOf(params, decision, the agg-done digests)", plain, { ok: false, check: 'consistency', where: `apac.jsonl seq ${plainCheck}` }, { edit: { apac: challengeTampered } }),
    bad_v2_v1_label_signatures: v(`eu's receipt (seq ${euReceipt}) signed by eu under the version-1 label "mpc-node/v1/receipt" (chain re-signed): in a version-2 round it does not verify`, plain, { ok: false, check: 'signatures', where: `eu.jsonl seq ${euReceipt}` }, { edit: { eu: resignReceipt(1, true) } }),
    bad_v2_receipt_without_projection_receipts: v(`eu's receipt (seq ${euReceipt}) without its projection, re-signed by eu under the version-2 label (chain re-signed)`, plain, { ok: false, check: 'receipts', where: `eu.jsonl seq ${euReceipt}` }, { edit: { eu: resignReceipt(2, false) } }),
    bad_v2_seal_projection_sealed: v("apac's seal as eu records it carries a projection other than apac's agg-proj (re-signed by apac, chain re-signed)", plain, { ok: false, check: 'sealed', where: `eu.jsonl seq ${plainEuSealed}` }, { edit: { eu: sealTampered } }),
  };
}

vectorSuite('transcript vectors v2', DIR, build);
