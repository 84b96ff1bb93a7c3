/**
 * The round verifier: checks one or more regions' transcripts of one round against the
 * federation file (and, optionally, the result vector a trainer received). Isomorphic: used by
 * `mpc-node verify` and by the browser auditor page; only @noble/* and pure modules.
 *
 * Checks, in order (each a named {@link Check}; every failure names file, seq and check):
 *   encoding, chain, signatures, parameters, protocol, receipts, dealer-consistency, decision,
 *   threshold, policy, consistency, fan-in, result, sealed, cross-check (dealer-consistency and
 *   fan-in are version 2's: a version-1 transcript passes them with a note saying so).
 * What they prove and what they do not: docs/transcript.md.
 *
 * This file owns the public API and the order the checks run in, and the check of the given
 * result vector; the checks themselves live beside it: decode.ts (encoding), chain.ts (chain,
 * signatures), view.ts (the checks of one transcript; version 2's in dealer-check.ts,
 * aggregate-check.ts, fan-in-check.ts, seal-check.ts, with points.ts), policy-check.ts (policy),
 * cross-check.ts (cross-check), picture.ts (the round picture), report.ts (the report types).
 * @module
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { parseFederation, type Federation } from '../federation/index.js';
import { vectorDigest } from '../protocol/commitments.js';
import type { RoundEntry as Entry } from '../protocol/records.js';
import { checkChains, checkSignatures } from './chain.js';
import { crossCheck, crossCheckFiles } from './cross-check.js';
import { decodeFile, type File } from './decode.js';
import { picture } from './picture.js';
import { policyCheck } from './policy-check.js';
import { CHECK_NAMES, defaultDetail, type Check, type CheckName, type FailAt, type VerifyInput, type VerifyReport } from './report.js';
import { viewOf, type View } from './view.js';

export { CHECK_NAMES } from './report.js';
export type { Check, CheckName, RoundPicture, VerifyInput, VerifyReport } from './report.js';

/**
 * Verifies the transcripts of one round. Never throws on bad input: every problem is a failed
 * check with a location.
 */
export async function verifyRound(input: VerifyInput): Promise<VerifyReport> {
  const errs = new Map<CheckName, string[]>(CHECK_NAMES.map((c) => [c, []]));
  const notes = new Map<CheckName, string>();
  const fail = (c: CheckName): FailAt => (where, msg) => errs.get(c)!.push(`${where}: ${msg}`);
  let fed: Federation;
  try {
    fed = parseFederation(input.federation, 'federation');
  } catch (e) {
    return { ok: false, checks: [{ name: 'federation', ok: false, detail: (e as Error).message }], errors: [`federation: ${(e as Error).message}`], picture: null };
  }
  if (input.transcripts.length === 0) {
    return { ok: false, checks: [{ name: 'encoding', ok: false, detail: 'no transcript given' }], errors: ['encoding: no transcript given'], picture: null };
  }
  const keys = new Map(fed.regions.map((r) => [r.id, hexToBytes(r.publicKey)]));

  const files: File[] = input.transcripts.map((bytes, i) => decodeFile(bytes, input.names?.[i] ?? `transcript[${i}]`, fail('encoding')));
  const at = (f: File, e: Entry) => `${f.name} seq ${f.entries.indexOf(e)}`;
  checkChains(files, fail('chain'));
  await checkSignatures(files, fed, keys, at, fail('signatures'));

  // per-file protocol checks
  const views: View[] = [];
  for (const f of files) {
    const v = viewOf(f, fed, (c, e, m) => fail(c)(e ? at(f, e) : f.name, m));
    if (v) views.push(v);
  }

  notes.set('policy', policyCheck(views, fed, fail('policy')));
  const named = views.filter((v) => v.trainers);
  if (named.length) {
    const who = named.map((v) => `${v.recorder} ${v.trainers!.body.count} update(s) from ${v.trainers!.body.ids.length} trainer id(s)`).join(', ');
    notes.set('protocol', `${defaultDetail('protocol', files)}; ${who}`);
  }

  crossCheckFiles(files, fail('cross-check'));
  if (views.length > 1) crossCheck(views, fail('cross-check'));
  else notes.set('cross-check', 'one transcript: nothing to cross-check (give every region\'s transcript to compare them)');

  const main = views.find((v) => v.result) ?? views[0];
  if (input.result) {
    const note = checkResultVector(input.result, main, fail('result'));
    if (note) notes.set('result', note);
  }
  for (const v of views) for (const [c, n] of v.notes) if (!notes.has(c)) notes.set(c, n);

  const checks: Check[] = CHECK_NAMES.map((name) => {
    const e = errs.get(name)!;
    return { name, ok: e.length === 0, detail: e.length ? e.slice(0, 5).join('; ') + (e.length > 5 ? `; and ${e.length - 5} more` : '') : (notes.get(name) ?? defaultDetail(name, files)) };
  });
  const errors = CHECK_NAMES.flatMap((c) => errs.get(c)!.map((m) => `${c}: ${m}`));
  return { ok: errors.length === 0, checks, errors, picture: main ? picture(main, fed) : null };
}

/**
 * The `result` check of a given result vector: it is the sealed sum or the sealed mean of the
 * round `main` records. @returns the detail line when it matches.
 */
function checkResultVector(result: Uint8Array, main: View | undefined, fail: FailAt): string | null {
  if (!main?.result) {
    fail('result', 'a result vector was given, but no transcript records a result');
    return null;
  }
  const r = main.result.body;
  if (result.length !== r.params * 4) {
    fail('result', `the result vector has ${result.length} bytes, the round has ${r.params} float32 values (${r.params * 4} bytes)`);
    return null;
  }
  // one pass over the vector when it is the sum; the mean's digest only when it is not
  if (bytesToHex(vectorDigest('sum', result)) === r.sum) return 'the given result vector is the sealed sum';
  if (bytesToHex(vectorDigest('mean', result)) === r.mean) return 'the given result vector is the sealed mean';
  fail(`${main.file.name} seq ${main.result.seq}`, 'the given result vector matches neither the sealed sum nor the sealed mean digest');
  return null;
}
