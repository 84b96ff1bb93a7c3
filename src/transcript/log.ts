/**
 * Transcripts as a plain log (format v1): a hash chain of signed entries, one canonical-JSON line
 * each. What the entries say is the protocol's business (src/protocol/records.ts); this module
 * only chains, hashes and signs them. Spec: docs/transcript.md. Browser-safe.
 *
 *   line  = canonicalJson({ v: 1, round, region, seq, kind, prev, body, hash, sig }) + "\n"
 *   hash  = SHA-256( "mpc-node/transcript/v1\0" || canonicalJson(entry without hash, sig) )
 *   sig   = Ed25519_sign(key of `region`, "mpc-node/transcript/v1/sig\0" || hash)
 *   prev  = hash of entry seq-1 (64 zeros for seq 0)
 *
 * `region` is the recorder: every entry of one file is recorded and signed by the same region.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/canonical-json.js';

export const TRANSCRIPT_VERSION = 1;
export const ENTRY_HASH_TAG = 'mpc-node/transcript/v1\0';
export const ENTRY_SIG_TAG = 'mpc-node/transcript/v1/sig\0';
export const ZERO_HASH = '0'.repeat(64);

/** What a log holds before chaining: a kind and its body (plain JSON data). */
export interface LogRecord<K extends string = string, B = unknown> {
  kind: K;
  body: B;
}

/** One chained, signed entry. */
export interface Entry<K extends string = string, B = unknown> {
  v: 1;
  round: string;
  region: string;
  seq: number;
  kind: K;
  prev: string;
  body: B;
  hash: string;
  sig: string;
}

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
 * Builds one region's transcript of one round: chains, hashes and signs records. No I/O: the
 * node edge writes each returned line (src/node/transcript-file.ts).
 */
export class TranscriptBuilder<R extends LogRecord = LogRecord> {
  private seq = 0;
  private prev = ZERO_HASH;
  constructor(
    readonly round: string,
    readonly region: string,
    private readonly sign: (bytes: Uint8Array) => Uint8Array,
  ) {}

  /** @returns the entry and its encoded line. */
  append(rec: R): { entry: Entry<R['kind'], R['body']>; line: string } {
    const base = { v: 1 as const, round: this.round, region: this.region, seq: this.seq, kind: rec.kind, prev: this.prev, body: rec.body };
    const h = entryHash(base);
    const entry: Entry<R['kind'], R['body']> = { ...base, hash: bytesToHex(h), sig: bytesToHex(this.sign(entrySigBytes(h))) };
    this.seq++;
    this.prev = entry.hash;
    return { entry, line: encodeEntry(entry) };
  }

  get length(): number {
    return this.seq;
  }
}
