/**
 * The round verifier: checks one or more regions' transcripts of one round against the
 * federation file (and, optionally, the result vector a trainer received). Isomorphic: used by
 * `mpc-node verify` and by the browser auditor page; only @noble/* and pure modules.
 *
 * Checks, in order (each a named {@link Check}; every failure names file, seq and check):
 *   encoding, chain, signatures, parameters, protocol, receipts, decision, threshold, policy,
 *   consistency, result, sealed, cross-check.
 * What they prove and what they do not: docs/transcript.md.
 * @module
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/canonical-json.js';
import { REGION_ID_RE, ROUND_ID_RE } from '../core/ids.js';
import { parseFederation, type Federation } from '../federation/index.js';
import * as R from '../field/reference.js';
import { SignatureBatch } from '../core/crypto.js';
import { signedBytes } from '../protocol/messages.js';
import { EXTRA_ELEMS, PARAM_KEYS, paramsDigestHex, roundParamsFor, type RoundParams } from '../protocol/params.js';
import { challengeOf, resultDigest, vectorDigest } from '../protocol/commitments.js';
import { ENTRY_KINDS, type EntryBodies, type EntryKind, type RoundEntry as Entry } from '../protocol/records.js';
import { allowedHolders, type PolicyDecision } from '../policy/index.js';
import { entryHash, entrySigBytes, ZERO_HASH } from '../transcript/log.js';

export interface VerifyInput {
  transcripts: Uint8Array[];
  /** Parsed federation JSON. */
  federation: unknown;
  /** Raw float32 LE as returned by POST /v1/aggregate (reduce=sum or mean). */
  result?: Uint8Array;
  /** Display names of the transcripts (file names); default `transcript[i]`. */
  names?: string[];
}
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}
export interface RoundPicture {
  round: string;
  regions: { id: string; jurisdiction: string; dealt: boolean; held: boolean; dropped: boolean }[];
  flows: { from: string; to: string; kind: 'shares' | 'aggregate-share'; bytes: number }[];
  result: { digest: string; contributors: string[]; holders: string[] } | null;
}
export interface VerifyReport {
  ok: boolean;
  checks: Check[];
  errors: string[];
  picture: RoundPicture | null;
}

export const CHECK_NAMES = [
  'encoding', 'chain', 'signatures', 'parameters', 'protocol', 'receipts', 'decision', 'threshold', 'policy', 'consistency', 'result', 'sealed', 'cross-check',
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

class Fail extends Error {}

interface File {
  name: string;
  entries: Entry[];
  /** false: encoding failed, entries are the prefix that decoded. */
  complete: boolean;
}

/**
 * Verifies the transcripts of one round. Never throws on bad input: every problem is a failed
 * check with a location.
 */
export async function verifyRound(input: VerifyInput): Promise<VerifyReport> {
  const errs = new Map<CheckName, string[]>(CHECK_NAMES.map((c) => [c, []]));
  const notes = new Map<CheckName, string>();
  const fail = (c: CheckName, where: string, msg: string) => errs.get(c)!.push(`${where}: ${msg}`);
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
  const sigs = new SignatureBatch(keys);

  // ---- encoding ----
  const files: File[] = input.transcripts.map((bytes, i) => decodeFile(bytes, input.names?.[i] ?? `transcript[${i}]`, (where, m) => fail('encoding', where, m)));
  const at = (f: File, e: Entry) => `${f.name} seq ${f.entries.indexOf(e)}`;

  // ---- chain ----
  for (const f of files) {
    const rec = f.entries[0]?.region;
    if (f.entries.length === 0) fail('chain', f.name, 'empty transcript');
    let prev = ZERO_HASH;
    f.entries.forEach((e, i) => {
      const where = `${f.name} seq ${i}`; // the position: a tampered seq must not move the blame
      if (e.seq !== i) fail('chain', where, `seq ${e.seq} at position ${i}`);
      if (e.prev !== prev) fail('chain', where, `prev ${e.prev.slice(0, 16)}… does not link to the previous entry's hash ${prev.slice(0, 16)}…`);
      if (e.region !== rec) fail('chain', where, `recorded by ${e.region}, the file's first entry by ${rec}`);
      if (e.round !== f.entries[0]!.round) fail('chain', where, `round ${e.round}, the file's first entry has ${f.entries[0]!.round}`);
      const h = bytesToHex(entryHash(e));
      if (h !== e.hash) fail('chain', where, `entry hash ${e.hash.slice(0, 16)}… does not match its content (${h.slice(0, 16)}…)`);
      prev = e.hash;
    });
  }

  // ---- signatures ----
  // queued, then checked together (Web Crypto where the runtime has Ed25519, and each distinct
  // message once: the same signed message is carried by every region's transcript)
  for (const f of files) {
    for (const e of f.entries) {
      if (!keys.has(e.region)) {
        fail('signatures', at(f, e), `recorder ${e.region} is not a region of federation ${fed.federation}`);
        continue;
      }
      sigs.add(e.region, entrySigBytes(hexToBytes(e.hash)), e.sig, () => fail('signatures', at(f, e), `entry signature by ${e.region} does not verify`));
      const m = embedded(e);
      if (m) sigs.add(m.signer, signedBytes(m.msg), m.sig, () => fail('signatures', at(f, e), `${e.kind} signature by ${m.signer} does not verify`));
      if (e.kind === 'sealed') {
        for (const s of (e.body as EntryBodies['sealed']).seals) {
          const msg = sealMsg(e.round, s);
          if (!msg) fail('signatures', at(f, e), `seal signature by ${s.holder} does not verify`);
          else sigs.add(s.holder, signedBytes(msg), s.sig, () => fail('signatures', at(f, e), `seal signature by ${s.holder} does not verify`));
        }
      }
    }
  }
  await sigs.run();

  // ---- per-file protocol checks ----
  const views: View[] = [];
  for (const f of files) {
    const v = viewOf(f, fed, (c, e, m) => fail(c, e ? at(f, e) : f.name, m));
    if (v) views.push(v);
  }

  // ---- policy: every share flow allowed by the policy in force ----
  notes.set('policy', policyCheck(views, fed, (where, m) => fail('policy', where, m)));

  // ---- cross-check ----
  const rounds = new Set(files.map((f) => f.entries[0]?.round).filter((r) => r !== undefined));
  if (rounds.size > 1) fail('cross-check', 'transcripts', `transcripts of different rounds: ${[...rounds].join(', ')}`);
  const recorders = files.map((f) => f.entries[0]?.region);
  recorders.forEach((r, i) => {
    if (r !== undefined && recorders.indexOf(r) !== i) fail('cross-check', files[i]!.name, `a second transcript recorded by ${r} (${files[recorders.indexOf(r)]!.name})`);
  });
  if (views.length > 1) crossCheck(views, (where, m) => fail('cross-check', where, m));
  else notes.set('cross-check', 'one transcript: nothing to cross-check (give every region\'s transcript to compare them)');

  // ---- the result vector ----
  const main = views.find((v) => v.result) ?? views[0];
  if (input.result) {
    if (!main?.result) fail('result', 'result', 'a result vector was given, but no transcript records a result');
    else {
      const r = main.result.body;
      if (input.result.length !== r.params * 4) fail('result', 'result', `the result vector has ${input.result.length} bytes, the round has ${r.params} float32 values (${r.params * 4} bytes)`);
      else {
        // one pass over the vector when it is the sum; the mean's digest only when it is not
        if (bytesToHex(vectorDigest('sum', input.result)) === r.sum) notes.set('result', 'the given result vector is the sealed sum');
        else if (bytesToHex(vectorDigest('mean', input.result)) === r.mean) notes.set('result', 'the given result vector is the sealed mean');
        else fail('result', `${main.file.name} seq ${main.result.seq}`, 'the given result vector matches neither the sealed sum nor the sealed mean digest');
      }
    }
  }
  for (const v of views) for (const [c, n] of v.notes) if (!notes.has(c)) notes.set(c, n);

  const checks: Check[] = CHECK_NAMES.map((name) => {
    const e = errs.get(name)!;
    return { name, ok: e.length === 0, detail: e.length ? e.slice(0, 5).join('; ') + (e.length > 5 ? `; and ${e.length - 5} more` : '') : (notes.get(name) ?? defaultDetail(name, files)) };
  });
  const errors = CHECK_NAMES.flatMap((c) => errs.get(c)!.map((m) => `${c}: ${m}`));
  return { ok: errors.length === 0, checks, errors, picture: main ? picture(main, fed) : null };
}

function defaultDetail(name: CheckName, files: File[]): string {
  const n = files.reduce((s, f) => s + f.entries.length, 0);
  switch (name) {
    case 'encoding': return `${files.length} transcript(s), ${n} entries, canonical JSON lines`;
    case 'chain': return 'every entry links to the previous entry\'s hash and its hash matches its content';
    case 'signatures': return 'every entry and every embedded message verifies against the federation\'s keys';
    case 'parameters': return 'the agreed parameters match the federation file (digest, policy, threshold, encoding)';
    case 'protocol': return 'entries follow the protocol order, no duplicates';
    case 'receipts': return 'every receipt matches the dealer\'s commitment';
    case 'decision': return 'the decision is signed by the coordinator and every (dealer, holder) pair is backed by a receipt';
    case 'threshold': return 'holders >= t, contributors >= minContributors';
    case 'policy': return 'every share flow (commitment dealer -> holder) and every recorded policy decision agrees with the locality policy in force';
    case 'consistency': return 'the aggregate shares passed the consistency check';
    case 'result': return 'the result digest matches the recorded sum and mean digests';
    case 'sealed': return 'every holder sealed the result';
    case 'cross-check': return 'the transcripts agree on every shared entry';
  }
}

// ---------------------------------------------------------------- decoding

function decodeFile(bytes: Uint8Array, name: string, fail: (where: string, m: string) => void): File {
  const f: File = { name, entries: [], complete: false };
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    fail(name, 'not valid UTF-8');
    return f;
  }
  if (text.length === 0) {
    fail(name, 'empty file');
    return f;
  }
  const lines = text.split('\n');
  const last = lines.pop();
  if (last !== '') {
    fail(`${name} seq ${lines.length}`, 'the last line has no newline (truncated: a crash while writing?)');
    return f;
  }
  for (let i = 0; i < lines.length; i++) {
    const where = `${name} seq ${i}`;
    try {
      let o: unknown;
      try {
        o = JSON.parse(lines[i]!);
      } catch {
        throw new Fail('not valid JSON');
      }
      const e = entryShape(o);
      if (canonicalJson(o) !== lines[i]) throw new Fail('not in canonical form (RFC 8785: sorted keys, no whitespace)');
      f.entries.push(e);
    } catch (e) {
      if (!(e instanceof Fail)) throw e;
      fail(where, e.message);
      return f;
    }
  }
  f.complete = true;
  return f;
}

type O = Record<string, unknown>;
function obj(v: unknown, keys: readonly string[], what: string): O {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Fail(`${what} is not an object`);
  const got = Object.keys(v);
  for (const k of got) if (!keys.includes(k)) throw new Fail(`${what} has an unexpected field ${JSON.stringify(k.slice(0, 32))}`);
  for (const k of keys) if (!(k in v)) throw new Fail(`${what} lacks the field ${k}`);
  return v as O;
}
const isStr = (v: unknown, re: RegExp, what: string): string => {
  if (typeof v !== 'string' || !re.test(v)) throw new Fail(`${what} is not valid`);
  return v;
};
const isInt = (v: unknown, what: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Fail(`${what} is not a non-negative integer`);
  return v;
};
const isBool = (v: unknown, what: string): boolean => {
  if (typeof v !== 'boolean') throw new Fail(`${what} is not a boolean`);
  return v;
};
const regionList = (v: unknown, what: string): string[] => {
  if (!Array.isArray(v) || !v.every((r) => typeof r === 'string' && REGION_ID_RE.test(r)) || new Set(v).size !== v.length) throw new Fail(`${what} is not a list of distinct region ids`);
  return v as string[];
};

const BODY_KEYS: Record<EntryKind, readonly string[]> = {
  params: ['params', 'digest', 'policy'],
  dropout: ['region', 'phase', 'reason'],
  commits: ['dealer', 'contributes', 'trainers', 'digests', 'sig'],
  receipt: ['dealer', 'holder', 'digest', 'sig'],
  decision: ['coordinator', 'dealers', 'holders', 'sig'],
  'agg-done': ['holder', 'digest', 'sig'],
  check: ['ok', 'used', 'culprits', 'challenge', 'value'],
  result: ['contributors', 'holders', 'params', 'totalWeight', 'sum', 'mean', 'digest'],
  sealed: ['seals'],
  unsealed: ['missing', 'reason'],
  abort: ['by', 'code', 'reason', 'culprits'],
  policy: ['rule', 'subject', 'outcome', 'reason', 'grant', 'at'],
};
const POLICY_RULES = ['self', 'same-jurisdiction', 'open', 'share-to', 'grant', 'unknown-region', 'min-contributors', 'min-trainers', 'max-rounds-in-flight', 'threshold'];
const FLOW_RULES = ['self', 'same-jurisdiction', 'open', 'share-to', 'grant', 'unknown-region'];
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Strict shape of one entry: exact key sets, types, hex lengths. */
function entryShape(o: unknown): Entry {
  const e = obj(o, ['v', 'round', 'region', 'seq', 'kind', 'prev', 'body', 'hash', 'sig'], 'entry');
  if (e.v !== 1) throw new Fail(`transcript version ${String(e.v).slice(0, 8)} is not supported (expected 1)`);
  isStr(e.round, ROUND_ID_RE, 'round');
  isStr(e.region, REGION_ID_RE, 'region');
  isInt(e.seq, 'seq');
  if (typeof e.kind !== 'string' || !ENTRY_KINDS.includes(e.kind as EntryKind)) throw new Fail(`unknown entry kind ${JSON.stringify(String(e.kind).slice(0, 16))}`);
  isStr(e.prev, HEX64, 'prev');
  isStr(e.hash, HEX64, 'hash');
  isStr(e.sig, HEX128, 'sig');
  const kind = e.kind as EntryKind;
  const b = obj(e.body, BODY_KEYS[kind], `${kind} body`);
  const str = (k: string, max = 2048) => {
    if (typeof b[k] !== 'string' || (b[k] as string).length > max) throw new Fail(`${kind}.${k} is not a string`);
  };
  switch (kind) {
    case 'params': {
      const p = obj(b.params, PARAM_KEYS, 'params.params');
      isStr(p.round, ROUND_ID_RE, 'params.round');
      isStr(p.federation, HEX64, 'params.federation');
      isStr(p.policy, HEX64, 'params.policy');
      regionList(p.participants, 'params.participants');
      for (const k of ['threshold', 'params', 'scaleBits', 'minContributors', 'minTrainers']) isInt(p[k], `params.${k}`);
      if (typeof p.clipL2 !== 'number' || !(p.clipL2 > 0)) throw new Fail('params.clipL2 is not a positive number');
      if (p.clipMode !== 'clip' && p.clipMode !== 'reject') throw new Fail('params.clipMode is not clip|reject');
      isStr(b.digest, HEX64, 'params.digest');
      isStr(b.policy, HEX64, 'params.policy');
      break;
    }
    case 'dropout':
      isStr(b.region, REGION_ID_RE, 'dropout.region');
      str('phase', 16);
      str('reason');
      break;
    case 'commits': {
      isStr(b.dealer, REGION_ID_RE, 'commits.dealer');
      isBool(b.contributes, 'commits.contributes');
      isInt(b.trainers, 'commits.trainers');
      const d = obj(b.digests, Object.keys((b.digests ?? {}) as object), 'commits.digests');
      for (const [k, v] of Object.entries(d)) {
        isStr(k, REGION_ID_RE, 'commits.digests key');
        isStr(v, HEX64, `commits.digests.${k}`);
      }
      isStr(b.sig, HEX128, 'commits.sig');
      break;
    }
    case 'receipt':
      isStr(b.dealer, REGION_ID_RE, 'receipt.dealer');
      isStr(b.holder, REGION_ID_RE, 'receipt.holder');
      isStr(b.digest, HEX64, 'receipt.digest');
      isStr(b.sig, HEX128, 'receipt.sig');
      break;
    case 'decision':
      isStr(b.coordinator, REGION_ID_RE, 'decision.coordinator');
      regionList(b.dealers, 'decision.dealers');
      regionList(b.holders, 'decision.holders');
      isStr(b.sig, HEX128, 'decision.sig');
      break;
    case 'agg-done':
      isStr(b.holder, REGION_ID_RE, 'agg-done.holder');
      isStr(b.digest, HEX64, 'agg-done.digest');
      isStr(b.sig, HEX128, 'agg-done.sig');
      break;
    case 'check':
      isBool(b.ok, 'check.ok');
      regionList(b.used, 'check.used');
      regionList(b.culprits, 'check.culprits');
      if (b.challenge !== null) isStr(b.challenge, HEX64, 'check.challenge');
      if (b.value !== null) isStr(b.value, /^(0|[1-9][0-9]{0,19})$/, 'check.value');
      if ((b.challenge === null) !== (b.value === null)) throw new Fail('check.challenge and check.value must both be set or both null');
      break;
    case 'result':
      regionList(b.contributors, 'result.contributors');
      regionList(b.holders, 'result.holders');
      isInt(b.params, 'result.params');
      if (typeof b.totalWeight !== 'number' || !Number.isFinite(b.totalWeight)) throw new Fail('result.totalWeight is not a number');
      for (const k of ['sum', 'mean', 'digest']) isStr(b[k], HEX64, `result.${k}`);
      break;
    case 'sealed':
      if (!Array.isArray(b.seals)) throw new Fail('sealed.seals is not a list');
      for (const s of b.seals) {
        const x = obj(s, ['holder', 'result', 'projection', 'sig'], 'seal');
        isStr(x.holder, REGION_ID_RE, 'seal.holder');
        isStr(x.result, HEX64, 'seal.result');
        isStr(x.projection, /^([0-9a-f]{16})?$/, 'seal.projection');
        isStr(x.sig, HEX128, 'seal.sig');
      }
      break;
    case 'unsealed':
      regionList(b.missing, 'unsealed.missing');
      str('reason');
      break;
    case 'policy':
      if (typeof b.rule !== 'string' || !POLICY_RULES.includes(b.rule)) throw new Fail('policy.rule is not a known rule');
      str('subject', 300);
      if (b.outcome !== 'allowed' && b.outcome !== 'refused') throw new Fail('policy.outcome is not allowed|refused');
      str('reason', 4096);
      if (b.grant !== null) isStr(b.grant, /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'policy.grant');
      isStr(b.at, ISO_MS, 'policy.at');
      if (!Number.isFinite(Date.parse(b.at as string))) throw new Fail('policy.at is not a valid time');
      break;
    case 'abort':
      isStr(b.by, REGION_ID_RE, 'abort.by');
      isStr(b.code, /^[A-Z_]{1,64}$/, 'abort.code');
      str('reason');
      regionList(b.culprits, 'abort.culprits');
      break;
  }
  return e as unknown as Entry;
}

/** The message a signed entry embeds, as the signer signed it. */
function embedded(e: Entry): { signer: string; msg: Parameters<typeof signedBytes>[0]; sig: string } | null {
  const round = e.round;
  switch (e.kind) {
    case 'commits': {
      const b = e.body as EntryBodies['commits'];
      const digests = Object.fromEntries(Object.entries(b.digests).map(([k, v]) => [k, hexToBytes(v)]));
      return { signer: b.dealer, sig: b.sig, msg: { type: 'commits', round, dealer: b.dealer, contributes: b.contributes, trainers: b.trainers, digests } };
    }
    case 'receipt': {
      const b = e.body as EntryBodies['receipt'];
      return { signer: b.holder, sig: b.sig, msg: { type: 'receipt', round, dealer: b.dealer, holder: b.holder, digest: hexToBytes(b.digest) } };
    }
    case 'decision': {
      const b = e.body as EntryBodies['decision'];
      return { signer: b.coordinator, sig: b.sig, msg: { type: 'decision', round, coordinator: b.coordinator, dealers: b.dealers, holders: b.holders } };
    }
    case 'agg-done': {
      const b = e.body as EntryBodies['agg-done'];
      return { signer: b.holder, sig: b.sig, msg: { type: 'agg-done', round, holder: b.holder, digest: hexToBytes(b.digest) } };
    }
    default:
      return null;
  }
}

function sealMsg(round: string, s: { holder: string; result: string; projection: string }): Parameters<typeof signedBytes>[0] | null {
  try {
    return { type: 'seal', round, holder: s.holder, result: hexToBytes(s.result), projection: hexToBytes(s.projection) };
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- one transcript

interface View {
  file: File;
  recorder: string;
  round: string;
  params: RoundParams | null;
  commits: Map<string, Entry<'commits'>>;
  receipts: Map<string, Entry<'receipt'>>;
  decision: Entry<'decision'> | null;
  aggDone: Map<string, Entry<'agg-done'>>;
  check: Entry<'check'> | null;
  result: Entry<'result'> | null;
  final: Entry | null;
  policies: Entry<'policy'>[];
  notes: Map<CheckName, string>;
}

/** Protocol stage of each kind; `policy` entries may come at any stage before the final entry. */
const ORDER: Record<EntryKind, number> = { params: 0, dropout: 1, commits: 1, receipt: 1, decision: 2, 'agg-done': 3, check: 4, result: 5, sealed: 6, unsealed: 6, abort: 6, policy: 0 };

function viewOf(f: File, fed: Federation, fail: (c: CheckName, e: Entry | null, m: string) => void): View | null {
  const first = f.entries[0];
  if (!first) return null;
  const v: View = {
    file: f, recorder: first.region, round: first.round, params: null, commits: new Map(), receipts: new Map(), decision: null,
    aggDone: new Map(), check: null, result: null, final: null, policies: [], notes: new Map(),
  };
  // ---- parameters ----
  if (first.kind !== 'params') fail('protocol', first, `the first entry is ${first.kind}, expected params`);
  else {
    const b = first.body as EntryBodies['params'];
    const p = b.params;
    v.params = p;
    // what a node of this federation proposes; `params` (the vector length) is the round's own
    const { params: _length, ...want } = roundParamsFor(fed, first.round, p.params);
    for (const [k, w] of Object.entries(want)) {
      const got = (p as unknown as O)[k];
      if (canonicalJson(got) !== canonicalJson(w)) fail('parameters', first, `${k} = ${canonicalJson(got).slice(0, 80)}, the federation file gives ${canonicalJson(w).slice(0, 80)}`);
    }
    if (p.params < 1 || p.params > fed.round.maxParams) fail('parameters', first, `params = ${p.params} is outside 1..round.maxParams`);
    if (p.minTrainers < 1) fail('parameters', first, 'minTrainers < 1');
    if (b.digest !== paramsDigestHex(p)) fail('parameters', first, 'params digest does not match the parameters');
    if (b.policy !== p.policy) fail('parameters', first, 'policy digest differs from params.policy');
    if (!p.participants.includes(first.region)) fail('parameters', first, `recorder ${first.region} is not a participant`);
  }
  const P = v.params;
  const participants = P?.participants ?? [];
  const known = (r: string) => participants.includes(r);

  // ---- protocol: order, duplicates, membership ----
  let stage = 0;
  for (const e of f.entries) {
    if (v.final) {
      fail('protocol', e, `${e.kind} after the final ${v.final.kind} entry`);
      continue;
    }
    if (e.kind === 'params' && e !== first) fail('protocol', e, 'a second params entry');
    if (ORDER[e.kind] < stage && e.kind !== 'abort' && e.kind !== 'policy') fail('protocol', e, `${e.kind} after ${kindAt(stage)}`);
    stage = Math.max(stage, ORDER[e.kind]);
    switch (e.kind) {
      case 'policy':
        v.policies.push(e as Entry<'policy'>);
        break;
      case 'dropout': {
        const b = e.body as EntryBodies['dropout'];
        if (!known(b.region)) fail('protocol', e, `dropout of ${b.region}, not a participant`);
        break;
      }
      case 'commits': {
        const b = e.body as EntryBodies['commits'];
        if (!known(b.dealer)) fail('protocol', e, `commits by ${b.dealer}, not a participant`);
        if (v.commits.has(b.dealer)) fail('protocol', e, `a second commits entry by ${b.dealer}`);
        for (const h of Object.keys(b.digests)) if (!known(h)) fail('protocol', e, `commitment to ${h}, not a participant`);
        if (!b.contributes && (b.trainers !== 0 || Object.keys(b.digests).length)) fail('protocol', e, `${b.dealer} does not contribute but commits to shares`);
        v.commits.set(b.dealer, e as Entry<'commits'>);
        break;
      }
      case 'receipt': {
        const b = e.body as EntryBodies['receipt'];
        const k = `${b.dealer}>${b.holder}`;
        if (!known(b.dealer) || !known(b.holder)) fail('protocol', e, `receipt between non-participants ${b.dealer} -> ${b.holder}`);
        if (v.receipts.has(k)) fail('protocol', e, `a second receipt ${b.dealer} -> ${b.holder}`);
        v.receipts.set(k, e as Entry<'receipt'>);
        break;
      }
      case 'decision':
        if (v.decision) fail('protocol', e, 'a second decision');
        v.decision ??= e as Entry<'decision'>;
        break;
      case 'agg-done': {
        const b = e.body as EntryBodies['agg-done'];
        if (!v.decision) fail('protocol', e, 'agg-done before the decision');
        else if (!v.decision.body.holders.includes(b.holder)) fail('protocol', e, `agg-done by ${b.holder}, not a decided holder`);
        if (v.aggDone.has(b.holder)) fail('protocol', e, `a second agg-done by ${b.holder}`);
        v.aggDone.set(b.holder, e as Entry<'agg-done'>);
        break;
      }
      case 'check':
        if (v.check) fail('protocol', e, 'a second check');
        v.check ??= e as Entry<'check'>;
        break;
      case 'result':
        if (!v.check || !v.check.body.ok) fail('protocol', e, 'result without a passed consistency check');
        if (v.result) fail('protocol', e, 'a second result');
        v.result ??= e as Entry<'result'>;
        break;
      case 'sealed':
      case 'unsealed':
        if (!v.result) fail('protocol', e, `${e.kind} without a result`);
        v.final = e;
        break;
      case 'abort':
        v.final = e;
        break;
    }
  }
  if (v.check && !v.check.body.ok && v.final?.kind !== 'abort') fail('protocol', v.check, 'a failed consistency check not followed by an abort');
  if (v.result && v.aggDone.size === 0) fail('protocol', v.result, 'result without any agg-done');

  // ---- receipts ----
  for (const [, e] of v.receipts) {
    const b = e.body;
    const c = v.commits.get(b.dealer);
    if (c && c.body.digests[b.holder] !== b.digest) fail('receipts', e, `receipt ${b.dealer} -> ${b.holder} names digest ${b.digest.slice(0, 16)}…, the commitment is ${(c.body.digests[b.holder] ?? 'absent').slice(0, 16)}…`);
    if (!c && v.decision?.body.dealers.includes(b.dealer)) fail('receipts', e, `receipt for decided dealer ${b.dealer} without its commitment in this transcript`);
  }

  // ---- decision & threshold ----
  const d = v.decision;
  if (d && P) {
    const b = d.body;
    const coord = participants[0];
    if (b.coordinator !== coord) fail('decision', d, `decision by ${b.coordinator}, the coordinator is ${coord}`);
    for (const r of [...b.dealers, ...b.holders]) if (!known(r)) fail('decision', d, `decision names ${r}, not a participant`);
    const isCoord = v.recorder === coord;
    let backed = 0;
    let missing = 0;
    for (const dl of b.dealers) {
      const c = v.commits.get(dl);
      if (!c) {
        fail('decision', d, `dealer ${dl} has no commitment in this transcript`);
        continue;
      }
      if (!c.body.contributes) fail('decision', d, `dealer ${dl} committed as not contributing`);
      for (const h of b.holders) {
        if (c.body.digests[h] === undefined) {
          fail('decision', d, `dealer ${dl} never committed a share to holder ${h}`);
          continue;
        }
        const r = v.receipts.get(`${dl}>${h}`);
        if (r && r.seq < d.seq) backed++;
        else if (isCoord || h === v.recorder) fail('decision', d, `no receipt ${dl} -> ${h} before the decision`);
        else missing++;
      }
    }
    v.notes.set('decision', `D = {${b.dealers.join(', ')}}, R = {${b.holders.join(', ')}} by ${b.coordinator}; ${backed} (dealer, holder) pair(s) backed by receipts` + (missing ? `, ${missing} receipt(s) not seen by ${v.recorder} (the coordinator's transcript has them all)` : ''));
    const t = P.threshold;
    if (b.holders.length < t) fail('threshold', d, `${b.holders.length} holder(s), threshold is ${t}`);
    if (b.dealers.length < P.minContributors) fail('threshold', d, `${b.dealers.length} contributor(s), the policy requires ${P.minContributors}`);
    const trainers = b.dealers.reduce((n, x) => n + (v.commits.get(x)?.body.trainers ?? 0), 0);
    if (trainers < P.minTrainers) fail('threshold', d, `${trainers} trainer(s), the policy requires ${P.minTrainers}`);
    if (t < 2 && !fed.allowInsecureThreshold) fail('threshold', d, 'threshold 1 without allowInsecureThreshold');
    v.notes.set('threshold', `${b.holders.length} holders >= t = ${t}; ${b.dealers.length} contributors >= ${P.minContributors}; ${trainers} trainers`);
  }

  // ---- consistency ----
  const ck = v.check;
  if (ck && d && P) {
    const b = ck.body;
    const xOf = (h: string) => BigInt(participants.indexOf(h) + 1);
    for (const h of b.used) if (!v.aggDone.has(h)) fail('consistency', ck, `check uses ${h}'s aggregate share, but its agg-done is not recorded`);
    if (b.ok && b.used.length < P.threshold) fail('consistency', ck, `check over ${b.used.length} aggregate share(s), threshold is ${P.threshold}`);
    const allIn = d.body.holders.every((h) => v.aggDone.has(h));
    if (b.ok && allIn) {
      try {
        const digests = new Map(d.body.holders.map((h) => [h, hexToBytes(v.aggDone.get(h)!.body.digest)] as const));
        const dm = { type: 'decision' as const, round: v.round, coordinator: d.body.coordinator, dealers: d.body.dealers, holders: d.body.holders, sig: hexToBytes(d.body.sig) };
        const ch = bytesToHex(challengeOf(P, dm, digests));
        if (b.challenge !== ch) fail('consistency', ck, `challenge ${String(b.challenge).slice(0, 16)}… is not the Fiat-Shamir challenge of the committed aggregate shares (${ch.slice(0, 16)}…)`);
      } catch (e) {
        fail('consistency', ck, `cannot recompute the challenge: ${(e as Error).message}`);
      }
    }
    const sealed = v.final?.kind === 'sealed' ? (v.final.body as EntryBodies['sealed']).seals : null;
    if (b.ok && b.value !== null && sealed) {
      const pts = sealed.filter((s) => s.projection.length === 16).map((s) => ({ x: xOf(s.holder), y: BigInt('0x' + s.projection), h: s.holder })).sort((a, c) => (a.x < c.x ? -1 : 1));
      if (pts.length !== d.body.holders.length) fail('consistency', v.final!, `${pts.length} projection(s) for ${d.body.holders.length} holders`);
      else if (pts.some((p) => p.y >= R.P)) fail('consistency', v.final!, 'a projection is not a field element');
      else {
        const t = P.threshold;
        const base = pts.slice(0, t);
        const lam = (at: bigint) => R.lagrangeCoefficients(base.map((p) => p.x), at);
        const interp = (at: bigint) => lam(at).reduce((acc, l, i) => R.add(acc, R.mul(l, base[i]!.y)), 0n);
        const off = pts.slice(t).filter((p) => interp(p.x) !== p.y).map((p) => p.h);
        if (off.length) fail('consistency', v.final!, `the sealed projections of ${off.join(', ')} are not on the degree ${t - 1} polynomial through ${base.map((p) => p.h).join(', ')}`);
        else if (interp(0n) !== BigInt(b.value)) fail('consistency', v.final!, 'the projections interpolate at 0 to a value other than the recorded projection of the result');
        else v.notes.set('consistency', `${pts.length} sealed projections on one polynomial of degree ${t - 1} (Fiat-Shamir challenge ${b.challenge!.slice(0, 16)}…), value at 0 = the result's projection`);
      }
    } else if (b.ok && b.value === null) {
      v.notes.set('consistency', `checked by ${v.recorder} over ${b.used.join(', ')}; no Fiat-Shamir projections (not every holder's aggregate share was in)`);
    }
  }

  // ---- result ----
  const r = v.result;
  if (r && d && P) {
    const b = r.body;
    if (b.contributors.join() !== d.body.dealers.join()) fail('result', r, `contributors ${b.contributors.join(',')} differ from the decided dealers ${d.body.dealers.join(',')}`);
    if (b.holders.join() !== d.body.holders.join()) fail('result', r, `holders ${b.holders.join(',')} differ from the decided holders ${d.body.holders.join(',')}`);
    if (b.params !== P.params) fail('result', r, `result of ${b.params} values, the round has ${P.params}`);
    if (bytesToHex(resultDigest(hexToBytes(b.sum), hexToBytes(b.mean), b.totalWeight)) !== b.digest) fail('result', r, 'the result digest does not match its sum and mean digests and total weight');
  }

  // ---- sealed ----
  const fin = v.final;
  const lastE = f.entries[f.entries.length - 1]!;
  if (!f.complete) fail('sealed', null, 'not checked: the transcript did not decode');
  else if (!fin) fail('sealed', lastE, `the transcript ends at seq ${lastE.seq} (${lastE.kind}) without a final entry: the round is unfinished or the node crashed`);
  else if (fin.kind === 'abort') {
    const a = fin.body as EntryBodies['abort'];
    fail('sealed', fin, `the round was aborted by ${a.by} (${a.code}: ${a.reason})`);
  } else if (fin.kind === 'unsealed') {
    const u = fin.body as EntryBodies['unsealed'];
    fail('sealed', fin, `unsealed: ${u.reason}`);
  } else if (d && r) {
    const seals = (fin.body as EntryBodies['sealed']).seals;
    if (seals.map((s) => s.holder).join() !== d.body.holders.join()) fail('sealed', fin, `seals by ${seals.map((s) => s.holder).join(',')}, the holders are ${d.body.holders.join(',')}`);
    for (const s of seals) if (s.result !== r.body.digest) fail('sealed', fin, `${s.holder} sealed result ${s.result.slice(0, 16)}…, the recorded result is ${r.body.digest.slice(0, 16)}…`);
    v.notes.set('sealed', `sealed by ${seals.map((s) => s.holder).join(', ')} over result ${r.body.digest.slice(0, 16)}…`);
  }
  return v;
}

/**
 * The `policy` check: each recorded flow decision re-evaluates to the same outcome at its time,
 * and every share flow a dealer committed to (and every decided dealer -> holder pair) was
 * allowed: at the time of a recorded `allowed` decision for that flow (grants valid then), or
 * else by the file's static rules (no grant, since no time is recorded for it).
 * @returns the detail line when it passes.
 */
function policyCheck(views: View[], fed: Federation, fail: (where: string, m: string) => void): string {
  const flowAt = (d: string, h: string, ms: number, grants = fed.policy.grants): PolicyDecision => {
    try {
      return allowedHolders(fed, d, [h], ms, grants).decisions[0]!;
    } catch (e) {
      return { rule: 'unknown-region', subject: `${d}->${h}`, outcome: 'refused', reason: (e as Error).message, grant: null };
    }
  };
  // flows a recorded `allowed` decision showed allowed at its time (re-evaluated just below)
  const allowedAtRecord = new Set<string>();
  let recorded = 0;
  let refused = 0;
  for (const v of views) {
    for (const e of v.policies) {
      recorded++;
      const b = e.body;
      const where = `${v.file.name} seq ${e.seq}`;
      if (b.outcome === 'refused') refused++;
      if (!FLOW_RULES.includes(b.rule)) {
        if (b.subject !== v.round) fail(where, `policy decision ${b.rule} about ${b.subject.slice(0, 40)}, expected the round ${v.round}`);
        continue;
      }
      const m = /^([a-z][a-z0-9-]{0,31})->([a-z][a-z0-9-]{0,31})$/.exec(b.subject);
      if (!m) {
        fail(where, `flow decision ${b.rule} with subject ${b.subject.slice(0, 40)}, expected dealer->holder`);
        continue;
      }
      const at = Date.parse(b.at);
      const want = flowAt(m[1]!, m[2]!, at);
      if (want.outcome !== b.outcome || want.rule !== b.rule || want.grant !== b.grant) {
        fail(where, `recorded ${b.subject} ${b.outcome} (${b.rule}${b.grant ? `, grant ${b.grant}` : ''}) at ${b.at}; the policy in force then gives ${want.outcome} (${want.rule}): ${want.reason}`);
      }
      if (b.outcome === 'allowed' && want.outcome === 'allowed') allowedAtRecord.add(b.subject);
    }
  }
  const checked = new Set<string>();
  let flows = 0;
  const flow = (d: string, h: string, where: string, what: string): void => {
    if (d === h || checked.has(`${what}|${d}->${h}`)) return;
    checked.add(`${what}|${d}->${h}`);
    flows++;
    if (allowedAtRecord.has(`${d}->${h}`)) return;
    const st = flowAt(d, h, 0, []);
    if (st.outcome === 'allowed') return;
    fail(where, `${what} ${d} -> ${h} is not allowed by the policy in force: ${st.reason} (no policy entry records an allowed decision for this flow)`);
  };
  for (const v of views) {
    for (const [, c] of v.commits) {
      if (!c.body.contributes) continue;
      for (const h of Object.keys(c.body.digests)) flow(c.body.dealer, h, `${v.file.name} seq ${c.seq}`, 'share flow');
    }
    const d = v.decision;
    if (d) for (const dl of d.body.dealers) for (const h of d.body.holders) flow(dl, h, `${v.file.name} seq ${d.seq}`, 'decided flow');
  }
  return `${flows} share flow(s) allowed by the policy in force; ${recorded} recorded decision(s) re-evaluated` + (refused ? `, ${refused} refusal(s)` : '');
}

function kindAt(stage: number): string {
  return ['params', 'commits/receipts', 'the decision', 'agg-done', 'the check', 'the result', 'the final entry'][stage] ?? '?';
}

// ---------------------------------------------------------------- several transcripts

function crossCheck(views: View[], fail: (where: string, m: string) => void): void {
  const ref = views[0]!;
  const cmp = (what: string, a: { e: Entry; v: View } | undefined, b: { e: Entry; v: View } | undefined) => {
    if (!a || !b) return;
    if (canonicalJson(a.e.body) !== canonicalJson(b.e.body)) fail(`${b.v.file.name} seq ${b.e.seq}`, `${what} differs from ${a.v.file.name} seq ${a.e.seq}`);
  };
  for (const v of views.slice(1)) {
    if (v.params && ref.params && canonicalJson(v.params) !== canonicalJson(ref.params)) fail(`${v.file.name} seq 0`, `params differ from ${ref.file.name}`);
  }
  const byKey = <T extends Entry>(get: (v: View) => Map<string, T>, what: string) => {
    const seen = new Map<string, { e: Entry; v: View }>();
    for (const v of views) {
      for (const [k, e] of get(v)) {
        const first = seen.get(k);
        if (first) cmp(`${what} ${k}`, first, { e, v });
        else seen.set(k, { e, v });
      }
    }
  };
  byKey((v) => v.commits, 'commits of');
  byKey((v) => v.receipts, 'receipt');
  byKey((v) => v.aggDone, 'agg-done of');
  const single = (get: (v: View) => Entry | null, what: string) => {
    let first: { e: Entry; v: View } | undefined;
    for (const v of views) {
      const e = get(v);
      if (!e) continue;
      if (first) cmp(what, first, { e, v });
      else first = { e, v };
    }
  };
  single((v) => v.decision, 'the decision');
  single((v) => v.result, 'the result');
  // the check entries differ in `used` only at a deadline; challenge and value must agree
  let firstCk: View | undefined;
  for (const v of views) {
    if (!v.check?.body.ok || v.check.body.value === null) continue;
    if (!firstCk) firstCk = v;
    else if (v.check.body.challenge !== firstCk.check!.body.challenge || v.check.body.value !== firstCk.check!.body.value) {
      fail(`${v.file.name} seq ${v.check.seq}`, `the consistency check's challenge or value differs from ${firstCk.file.name}`);
    }
  }
  const seals = new Map<string, { s: string; v: View; e: Entry }>();
  for (const v of views) {
    if (v.final?.kind !== 'sealed') continue;
    for (const s of (v.final.body as EntryBodies['sealed']).seals) {
      const c = canonicalJson(s);
      const f = seals.get(s.holder);
      if (f && f.s !== c) fail(`${v.file.name} seq ${v.final.seq}`, `the seal of ${s.holder} differs from ${f.v.file.name} seq ${f.e.seq}`);
      else if (!f) seals.set(s.holder, { s: c, v, e: v.final });
    }
  }
}

// ---------------------------------------------------------------- picture

function picture(v: View, fed: Federation): RoundPicture {
  const d = v.decision?.body;
  const D = d?.dealers ?? [];
  const Rr = d?.holders ?? [];
  const L = (v.params?.params ?? 0) + EXTRA_ELEMS;
  const flows: RoundPicture['flows'] = [];
  for (const [dealer, c] of v.commits) {
    if (!c.body.contributes) continue;
    for (const h of Object.keys(c.body.digests)) if (h !== dealer) flows.push({ from: dealer, to: h, kind: 'shares', bytes: L * 8 });
  }
  const alive = (v.params?.participants ?? []).filter((p) => D.includes(p) || Rr.includes(p) || v.commits.has(p));
  for (const h of Rr) for (const to of alive) if (to !== h) flows.push({ from: h, to, kind: 'aggregate-share', bytes: L * 8 });
  return {
    round: v.round,
    regions: fed.regions.map((r) => ({ id: r.id, jurisdiction: r.jurisdiction, dealt: D.includes(r.id), held: Rr.includes(r.id), dropped: !D.includes(r.id) && !Rr.includes(r.id) && !(v.commits.get(r.id) && !v.commits.get(r.id)!.body.contributes) })),
    flows,
    result: v.result ? { digest: v.result.body.digest, contributors: [...v.result.body.contributors], holders: [...v.result.body.holders] } : null,
  };
}

