/**
 * Round transcripts (format v1): a hash chain of signed entries, one canonical-JSON line each.
 * Spec: docs/transcript.md. Browser-safe: only @noble/hashes and @noble/curves.
 *
 *   line  = canonicalJson({ v: 1, round, region, seq, kind, prev, body, hash, sig }) + "\n"
 *   hash  = SHA-256( "mpc-node/transcript/v1\0" || canonicalJson(entry without hash, sig) )
 *   sig   = Ed25519_sign(key of `region`, "mpc-node/transcript/v1/sig\0" || hash)
 *   prev  = hash of entry seq-1 (64 zeros for seq 0)
 *
 * `region` is the recorder: every entry of one file is recorded and signed by the same region.
 * Messages that another region signed (commits, receipt, decision, agg-done, seal) are stored in
 * `body` as received, with their original signature (hex), so one transcript carries the others'
 * signatures and an auditor can check them against the federation's keys.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson, federationDigestHex, type Federation } from '../config/federation.js';
import { paramsBytes, signedBytes, type PeerMessage, type RoundParams } from '../protocol/messages.js';
import { policyDigest, type PolicyRule } from '../policy/index.js';

export const TRANSCRIPT_VERSION = 1;
export const ENTRY_HASH_TAG = 'mpc-node/transcript/v1\0';
export const ENTRY_SIG_TAG = 'mpc-node/transcript/v1/sig\0';
export const PARAMS_DIGEST_TAG = 'mpc-node/v1/params\0';
/** The policy digest's tag; defined with the digest, in src/policy. */
export { POLICY_DIGEST_TAG } from '../policy/index.js';
export const RESULT_SUM_TAG = 'mpc-node/v1/result/sum\0';
export const RESULT_MEAN_TAG = 'mpc-node/v1/result/mean\0';
export const RESULT_TAG = 'mpc-node/v1/result\0';
export const CHALLENGE_TAG = 'mpc-node/v1/challenge\0';
export const ZERO_HASH = '0'.repeat(64);

/** Entry bodies by kind (binaries as lower-case hex). */
export interface EntryBodies {
  /** The agreed parameters as this region proposed them, their digest and the policy digest. */
  params: { params: RoundParams; digest: string; policy: string };
  /** A participant whose parameters did not arrive (or match) before dealing: it is left out. */
  dropout: { region: string; phase: string; reason: string };
  commits: { dealer: string; contributes: boolean; trainers: number; digests: Record<string, string>; sig: string };
  receipt: { dealer: string; holder: string; digest: string; sig: string };
  decision: { coordinator: string; dealers: string[]; holders: string[]; sig: string };
  'agg-done': { holder: string; digest: string; sig: string };
  /**
   * Outcome of the consistency check over the aggregate shares of `used`; with every holder's
   * agg-done in, the Fiat-Shamir `challenge` and `value` = <field result, r(challenge)> (decimal).
   */
  check: { ok: boolean; used: string[]; culprits: string[]; challenge: string | null; value: string | null };
  result: { contributors: string[]; holders: string[]; params: number; totalWeight: number; sum: string; mean: string; digest: string };
  /** Final entry of a complete round: every holder's seal (signature over the result digest). */
  sealed: { seals: { holder: string; result: string; projection: string; sig: string }[] };
  /** Final entry when the seals did not all arrive before the deadline. */
  unsealed: { missing: string[]; reason: string };
  abort: { by: string; code: string; reason: string; culprits: string[] };
  /**
   * A locality-policy decision (docs/policy.md) as the recorder took it: `subject` is
   * "dealer->holder" for a share flow, else the round id; `at` is the time it was decided
   * (ISO 8601 UTC, milliseconds), which fixes the grants in force; `grant` names the grant used.
   */
  policy: { rule: PolicyRule; subject: string; outcome: 'allowed' | 'refused'; reason: string; grant: string | null; at: string };
}
export type EntryKind = keyof EntryBodies;
export const ENTRY_KINDS: readonly EntryKind[] = ['params', 'dropout', 'commits', 'receipt', 'decision', 'agg-done', 'check', 'result', 'sealed', 'unsealed', 'abort', 'policy'];

/** What the round state machine asks the node edge to record (unsigned, unchained). */
export type RecordBody = { [K in EntryKind]: { kind: K; body: EntryBodies[K] } }[EntryKind];

export interface Entry<K extends EntryKind = EntryKind> {
  v: 1;
  round: string;
  region: string;
  seq: number;
  kind: K;
  prev: string;
  body: EntryBodies[K];
  hash: string;
  sig: string;
}

const te = new TextEncoder();
const hex = bytesToHex;

/** Hash of an entry: over the canonical JSON of every field but `hash` and `sig`. */
export function entryHash(e: Omit<Entry, 'hash' | 'sig'>): Uint8Array {
  const { v, round, region, seq, kind, prev, body } = e;
  return sha256(utf8ToBytes(ENTRY_HASH_TAG + canonicalJson({ v, round, region, seq, kind, prev, body })));
}

/** The bytes an entry signature covers. */
export function entrySigBytes(hash: Uint8Array): Uint8Array {
  return concatBytes(utf8ToBytes(ENTRY_SIG_TAG), hash);
}

/** One encoded line (with its trailing newline). */
export function encodeEntry(e: Entry): string {
  return canonicalJson(e) + '\n';
}

/**
 * Builds one region's transcript of one round: chains, hashes and signs entries. No I/O: the
 * node edge writes each returned line (src/node/transcript-file.ts).
 */
export class TranscriptBuilder {
  private seq = 0;
  private prev = ZERO_HASH;
  constructor(
    readonly round: string,
    readonly region: string,
    private readonly sign: (bytes: Uint8Array) => Uint8Array,
  ) {}

  /** @returns the entry and its encoded line. */
  append(rec: RecordBody): { entry: Entry; line: string } {
    const base = { v: 1 as const, round: this.round, region: this.region, seq: this.seq, kind: rec.kind, prev: this.prev, body: rec.body };
    const h = entryHash(base);
    const entry = { ...base, hash: hex(h), sig: hex(this.sign(entrySigBytes(h))) } as Entry;
    this.seq++;
    this.prev = entry.hash;
    return { entry, line: encodeEntry(entry) };
  }

  get length(): number {
    return this.seq;
  }
}

/** Converts a signed peer message to its transcript body (binaries as hex, `type`/`round` dropped). */
export function messageRecord(m: PeerMessage): RecordBody {
  switch (m.type) {
    case 'commits':
      return { kind: 'commits', body: { dealer: m.dealer, contributes: m.contributes, trainers: m.trainers, digests: Object.fromEntries(Object.keys(m.digests).sort().map((k) => [k, hex(m.digests[k]!)])), sig: hex(m.sig) } };
    case 'receipt':
      return { kind: 'receipt', body: { dealer: m.dealer, holder: m.holder, digest: hex(m.digest), sig: hex(m.sig) } };
    case 'decision':
      return { kind: 'decision', body: { coordinator: m.coordinator, dealers: [...m.dealers], holders: [...m.holders], sig: hex(m.sig) } };
    case 'agg-done':
      return { kind: 'agg-done', body: { holder: m.holder, digest: hex(m.digest), sig: hex(m.sig) } };
    default:
      throw new TypeError(`messageRecord: ${m.type} is not a signed message kept in transcripts`);
  }
}

/** SHA-256(PARAMS_DIGEST_TAG || paramsBytes(p)) as hex. */
export function paramsDigestHex(p: RoundParams): string {
  return hex(sha256(concatBytes(utf8ToBytes(PARAMS_DIGEST_TAG), paramsBytes(p))));
}

const LITTLE_ENDIAN = new Uint8Array(Float32Array.of(1).buffer)[3] === 0x3f;

/** Raw little-endian bytes of a float32 vector (a view, no copy, on little-endian machines). */
export function f32Bytes(v: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  const out = new Uint8Array(v.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < v.length; i++) dv.setFloat32(i * 4, v[i]!, true);
  return out;
}

/** SHA-256(tag || raw little-endian float32 bytes): what an auditor recomputes over result.bin. */
export function vectorDigest(kind: 'sum' | 'mean', f32le: Uint8Array, hash: HashFn = nobleSha256): Uint8Array {
  const h = hash();
  h.update(utf8ToBytes(kind === 'sum' ? RESULT_SUM_TAG : RESULT_MEAN_TAG));
  h.update(f32le);
  return h.digest();
}

/** An incremental SHA-256: @noble/hashes here (browsers); the node passes node:crypto's, ~8x faster. */
export type HashFn = () => { update(d: Uint8Array): void; digest(): Uint8Array };
const nobleSha256: HashFn = () => {
  const h = sha256.create();
  return { update: (d) => void h.update(d), digest: () => h.digest() };
};

/** The mean the node returns for reduce=mean, exactly as it computes it (float64 division, float32 store). */
export function meanOf(sum: Float32Array, totalWeight: number): Float32Array {
  const out = new Float32Array(sum.length);
  for (let i = 0; i < sum.length; i++) out[i] = sum[i]! / totalWeight;
  return out;
}

/**
 * The result digest the holders seal: SHA-256(RESULT_TAG || sumDigest || meanDigest || f64 BE totalWeight).
 */
export function resultDigest(sumDigest: Uint8Array, meanDigest: Uint8Array, totalWeight: number): Uint8Array {
  const w = new Uint8Array(8);
  new DataView(w.buffer).setFloat64(0, totalWeight);
  return sha256(concatBytes(utf8ToBytes(RESULT_TAG), sumDigest, meanDigest, w));
}

/**
 * The sum and mean digests and the result digest of a result read in pieces
 * (src/protocol/vectors.ts `RoundResult`), without a model-sized array (40 MB at 1e7 parameters).
 */
export function resultDigests(r: { params: number; totalWeight: number; read(offset: number, out: Float32Array, reduce: 'sum' | 'mean'): void }, hash: HashFn = nobleSha256): { sum: Uint8Array; mean: Uint8Array; digest: Uint8Array } {
  const hs = hash();
  const hm = hash();
  hs.update(utf8ToBytes(RESULT_SUM_TAG));
  hm.update(utf8ToBytes(RESULT_MEAN_TAG));
  const piece = new Float32Array(Math.min(r.params, 65536));
  for (let o = 0; o < r.params; o += piece.length) {
    const p = piece.subarray(0, Math.min(piece.length, r.params - o));
    r.read(o, p, 'sum');
    hs.update(f32Bytes(p));
    r.read(o, p, 'mean');
    hm.update(f32Bytes(p));
  }
  const s = hs.digest();
  const m = hm.digest();
  return { sum: s, mean: m, digest: resultDigest(s, m, r.totalWeight) };
}

/**
 * Fiat-Shamir challenge of the consistency check, fixed once every holder's aggregate share is
 * committed: SHA-256(CHALLENGE_TAG || params digest || signedBytes(decision) || decision sig ||
 * for each holder h in decision order: len-prefixed h || agg-done digest of h).
 */
export function challengeOf(p: RoundParams, decision: Extract<PeerMessage, { type: 'decision' }>, aggDigests: ReadonlyMap<string, Uint8Array>): Uint8Array {
  const parts: Uint8Array[] = [utf8ToBytes(CHALLENGE_TAG), utf8ToBytes(paramsDigestHex(p)), signedBytes(decision), decision.sig];
  for (const h of decision.holders) {
    const d = aggDigests.get(h);
    if (!d) throw new RangeError(`challengeOf: no aggregate digest of ${h}`);
    const name = te.encode(h);
    parts.push(Uint8Array.of(name.length), name, d);
  }
  return sha256(concatBytes(...parts));
}

/** The parameters a node of federation `f` proposes for round `round` of `params` values. */
export function roundParamsFor(f: Federation, round: string, params: number): RoundParams {
  return {
    round, federation: federationDigestHex(f), policy: policyDigest(f),
    participants: f.regions.map((r) => r.id).sort(), threshold: f.threshold, params,
    scaleBits: f.round.scaleBits, clipL2: f.round.clipL2, clipMode: f.round.clipMode,
    minContributors: f.round.minContributors, minTrainers: f.policy.minTrainers,
  };
}
