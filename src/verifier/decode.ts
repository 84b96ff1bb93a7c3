/**
 * The `encoding` check: a transcript file decoded from JSON lines into entries, each line
 * strict UTF-8, valid JSON, in canonical form (RFC 8785) and of the exact entry shape of its
 * kind (key sets, types, hex lengths). Owns the decoded {@link File} and the shape rules; the
 * ids, parameter keys, entry kinds, policy rules and grant ids are the protocol's own
 * (core/ids, protocol/params, protocol/records, policy).
 * @module
 */
import { canonicalJson } from '../core/canonical-json.js';
import { REGION_ID_RE, ROUND_ID_RE, TRAINER_ID_RE } from '../core/ids.js';
import { GRANT_ID_RE, type PolicyRule } from '../policy/index.js';
import { roundParamsProblem } from '../protocol/params.js';
import { ENTRY_KINDS, type EntryKind, type RoundEntry as Entry } from '../protocol/records.js';
import { TRANSCRIPT_VERSION } from '../transcript/log.js';
import type { FailAt } from './report.js';
import { ERROR_CODE_RE, HEX32_RE, HEX64_RE } from '../core/hex.js';

/** One transcript as decoded. */
export interface File {
  name: string;
  entries: Entry[];
  /** false: encoding failed, entries are the prefix that decoded. */
  complete: boolean;
}

const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Every policy rule, by what its decision is about (the compiler keeps this list complete). */
const RULE_SUBJECT: Record<PolicyRule, 'flow' | 'round'> = {
  self: 'flow', 'same-jurisdiction': 'flow', open: 'flow', 'share-to': 'flow', grant: 'flow', 'unknown-region': 'flow',
  'min-contributors': 'round', 'min-trainers': 'round', 'max-rounds-in-flight': 'round', threshold: 'round',
};
const POLICY_RULES: readonly string[] = Object.keys(RULE_SUBJECT);
/** The rules whose decisions are about a flow: subject `"<dealer>-><holder>"`. */
export const FLOW_RULES: readonly string[] = POLICY_RULES.filter((r) => RULE_SUBJECT[r as PolicyRule] === 'flow');

/** A malformed line; its message is the encoding failure. */
class Fail extends Error {}

/** Decodes one transcript file; the first bad line ends it (`complete` stays false). */
export function decodeFile(bytes: Uint8Array, name: string, fail: FailAt): File {
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
  trainers: ['count', 'ids'],
  commits: ['dealer', 'contributes', 'trainers', 'digests', 'sig'],
  receipt: ['dealer', 'holder', 'digest', 'sig'],
  'dealer-check': ['dealer', 'holders', 'off'],
  decision: ['coordinator', 'dealers', 'holders', 'sig'],
  'agg-done': ['holder', 'digest', 'sig'],
  'agg-proj': ['holder', 'projection', 'sig'],
  check: ['ok', 'used', 'culprits', 'challenge', 'value'],
  result: ['contributors', 'holders', 'params', 'totalWeight', 'sum', 'mean', 'digest'],
  sealed: ['seals'],
  unsealed: ['missing', 'reason'],
  abort: ['by', 'code', 'reason', 'culprits'],
  policy: ['rule', 'subject', 'outcome', 'reason', 'grant', 'at'],
};

/** Strict shape of one entry: exact key sets, types, hex lengths. */
function entryShape(o: unknown): Entry {
  const e = obj(o, ['v', 'round', 'region', 'seq', 'kind', 'prev', 'body', 'hash', 'sig'], 'entry');
  if (e.v !== TRANSCRIPT_VERSION) throw new Fail(`transcript version ${String(e.v).slice(0, 8)} is not supported (expected ${TRANSCRIPT_VERSION})`);
  isStr(e.round, ROUND_ID_RE, 'round');
  isStr(e.region, REGION_ID_RE, 'region');
  isInt(e.seq, 'seq');
  if (typeof e.kind !== 'string' || !ENTRY_KINDS.includes(e.kind as EntryKind)) throw new Fail(`unknown entry kind ${JSON.stringify(String(e.kind).slice(0, 16))}`);
  isStr(e.prev, HEX32_RE, 'prev');
  isStr(e.hash, HEX32_RE, 'hash');
  isStr(e.sig, HEX64_RE, 'sig');
  const kind = e.kind as EntryKind;
  bodyShape(kind, obj(e.body, BODY_KEYS[kind], `${kind} body`));
  return e as unknown as Entry;
}

/** Strict shape of the body `b` of an entry of `kind` (its key set is already checked). */
function bodyShape(kind: EntryKind, b: O): void {
  const str = (k: string, max = 2048) => {
    if (typeof b[k] !== 'string' || (b[k] as string).length > max) throw new Fail(`${kind}.${k} is not a string`);
  };
  switch (kind) {
    case 'params': {
      const why = roundParamsProblem(b.params);
      if (why !== null) throw new Fail(`params entry: ${why}`);
      isStr(b.digest, HEX32_RE, 'params.digest');
      isStr(b.policy, HEX32_RE, 'params.policy');
      break;
    }
    case 'dropout':
      isStr(b.region, REGION_ID_RE, 'dropout.region');
      str('phase', 16);
      str('reason');
      break;
    case 'trainers': {
      const n = isInt(b.count, 'trainers.count');
      const ids = b.ids;
      if (!Array.isArray(ids) || !ids.every((x, i) => typeof x === 'string' && TRAINER_ID_RE.test(x) && (i === 0 || x > (ids[i - 1] as string)))) throw new Fail('trainers.ids is not a sorted list of distinct trainer ids (32 hex)');
      if (ids.length > n || (n > 0) !== (ids.length > 0)) throw new Fail(`trainers.ids names ${ids.length} trainer(s) for ${n} update(s)`);
      break;
    }
    case 'commits': {
      isStr(b.dealer, REGION_ID_RE, 'commits.dealer');
      isBool(b.contributes, 'commits.contributes');
      isInt(b.trainers, 'commits.trainers');
      const d = obj(b.digests, Object.keys((b.digests ?? {}) as object), 'commits.digests');
      for (const [k, v] of Object.entries(d)) {
        isStr(k, REGION_ID_RE, 'commits.digests key');
        isStr(v, HEX32_RE, `commits.digests.${k}`);
      }
      isStr(b.sig, HEX64_RE, 'commits.sig');
      break;
    }
    case 'receipt':
      isStr(b.dealer, REGION_ID_RE, 'receipt.dealer');
      isStr(b.holder, REGION_ID_RE, 'receipt.holder');
      isStr(b.digest, HEX32_RE, 'receipt.digest');
      isStr(b.sig, HEX64_RE, 'receipt.sig');
      break;
    case 'decision':
      isStr(b.coordinator, REGION_ID_RE, 'decision.coordinator');
      regionList(b.dealers, 'decision.dealers');
      regionList(b.holders, 'decision.holders');
      isStr(b.sig, HEX64_RE, 'decision.sig');
      break;
    case 'agg-done':
      isStr(b.holder, REGION_ID_RE, 'agg-done.holder');
      isStr(b.digest, HEX32_RE, 'agg-done.digest');
      isStr(b.sig, HEX64_RE, 'agg-done.sig');
      break;
    case 'check':
      isBool(b.ok, 'check.ok');
      regionList(b.used, 'check.used');
      regionList(b.culprits, 'check.culprits');
      if (b.challenge !== null) isStr(b.challenge, HEX32_RE, 'check.challenge');
      if (b.value !== null) isStr(b.value, /^(0|[1-9][0-9]{0,19})$/, 'check.value');
      if ((b.challenge === null) !== (b.value === null)) throw new Fail('check.challenge and check.value must both be set or both null');
      break;
    case 'result':
      regionList(b.contributors, 'result.contributors');
      regionList(b.holders, 'result.holders');
      isInt(b.params, 'result.params');
      if (typeof b.totalWeight !== 'number' || !Number.isFinite(b.totalWeight)) throw new Fail('result.totalWeight is not a number');
      for (const k of ['sum', 'mean', 'digest']) isStr(b[k], HEX32_RE, `result.${k}`);
      break;
    case 'sealed':
      if (!Array.isArray(b.seals)) throw new Fail('sealed.seals is not a list');
      for (const s of b.seals) {
        const x = obj(s, ['holder', 'result', 'projection', 'sig'], 'seal');
        isStr(x.holder, REGION_ID_RE, 'seal.holder');
        isStr(x.result, HEX32_RE, 'seal.result');
        isStr(x.projection, /^([0-9a-f]{16})?$/, 'seal.projection');
        isStr(x.sig, HEX64_RE, 'seal.sig');
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
      if (b.grant !== null) isStr(b.grant, GRANT_ID_RE, 'policy.grant');
      isStr(b.at, ISO_MS, 'policy.at');
      if (!Number.isFinite(Date.parse(b.at as string))) throw new Fail('policy.at is not a valid time');
      break;
    case 'abort':
      isStr(b.by, REGION_ID_RE, 'abort.by');
      isStr(b.code, ERROR_CODE_RE, 'abort.code');
      str('reason');
      regionList(b.culprits, 'abort.culprits');
      break;
  }
}
