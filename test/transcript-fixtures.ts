/**
 * Shared by test/transcript.test.ts and the vector generator (test/transcript.vectors.test.ts):
 * a federation whose keys are runLocal's deterministic keys, rounds with fixed seeds, and
 * tampering helpers that rewrite entries and re-chain / re-sign them with a chosen key.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../src/core/canonical-json.js';
import { parseFederation, type Federation } from '../src/federation/index.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { localSecretKey, runLocal, type LocalFaults, type LocalOutcome } from '../src/protocol/harness.js';
import { signedBytes } from '../src/protocol/messages.js';
import { entryHash, entrySigBytes, ZERO_HASH, type Entry } from '../src/transcript/log.js';
import { f32Bytes, meanOf } from '../src/protocol/commitments.js';
import { roundParamsFor } from '../src/protocol/params.js';

export const REGIONS = ['apac', 'eu', 'us'];

export function federationJson(regions = REGIONS, threshold = 2): Record<string, unknown> {
  return {
    federation: 'vectors', version: 1, threshold,
    regions: regions.map((id, i) => ({
      id, jurisdiction: id.toUpperCase(), endpoint: `ws://127.0.0.1:${7100 + i}`,
      publicKey: bytesToHex(ed25519.getPublicKey(localSecretKey(id))), api: { host: '127.0.0.1', port: 7200 + i },
    })),
    round: { minContributors: 2, clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, clipMode: 'reject' },
  };
}

export interface RoundRun {
  federation: Record<string, unknown>;
  fed: Federation;
  outcomes: LocalOutcome[];
  /** region -> transcript text */
  transcripts: Record<string, string>;
  sum: Uint8Array | null;
  mean: Uint8Array | null;
}

/** One round among REGIONS with fixed seeds: region r's trainers submit sin-shaped updates. */
/** The pseudonymous trainer id runRound gives trainer `k` of `region` with `trainerIds` (32 hex). */
export const trainerIdOf = (region: string, k: number): string => bytesToHex(sha256(utf8ToBytes(`${region}/${k}`))).slice(0, 32);

/** `trainerIds`: every update carries a trainer id (trainerIdOf), so each node records its `trainers` entry. */
export function runRound(K: WasmKernels, o: { params?: number; round?: string; faults?: LocalFaults; regions?: string[]; threshold?: number; policy?: Record<string, unknown>; now?: number; trainerIds?: boolean } = {}): RoundRun {
  const regions = o.regions ?? REGIONS;
  const federation = { ...federationJson(regions, o.threshold ?? 2), ...(o.policy ? { policy: o.policy } : {}) };
  const fed = parseFederation(federation);
  const P = o.params ?? 4;
  const params = roundParamsFor(fed, o.round ?? 'vec-1', P);
  const inputs = regions.map((region, r) => ({
    region,
    updates: [{ update: Float32Array.from({ length: P }, (_, i) => Math.sin(i + 3 * r) * 2), weight: 1 + r, ...(o.trainerIds ? { trainer: trainerIdOf(region, 0) } : {}) }],
  }));
  const rng = (region: string) => aesCtrRandom(new Uint8Array(32).fill(region.charCodeAt(0) ^ region.length));
  const outcomes = runLocal(K, params, inputs, { rng, ...(o.faults ? { faults: o.faults } : {}), ...(o.policy ? { policy: fed } : {}), ...(o.now !== undefined ? { now: o.now } : {}) });
  const transcripts = Object.fromEntries(outcomes.map((x) => [x.region, x.transcript.join('')]));
  const res = outcomes.find((x) => x.result)?.result;
  return {
    federation, fed, outcomes, transcripts,
    sum: res ? f32Bytes(res.sum) : null,
    mean: res ? f32Bytes(meanOf(res.sum, res.totalWeight)) : null,
  };
}

export const enc = (s: string) => new TextEncoder().encode(s);
export const parseLines = (text: string): Entry[] => text.trimEnd().split('\n').map((l) => JSON.parse(l) as Entry);

/**
 * Rewrites entries with `edit`, then re-chains (prev, seq, hash) and, when `resign` is true,
 * re-signs every entry with the recorder's key (as a lying recorder could).
 */
export function rewrite(text: string, edit: (entries: Entry[]) => Entry[], opts: { rehash?: boolean; resign?: boolean } = {}): string {
  let entries = edit(parseLines(text));
  if (opts.rehash || opts.resign) {
    let prev = ZERO_HASH;
    entries = entries.map((e, seq) => {
      const base = { ...e, seq, prev };
      const h = entryHash(base);
      const out = { ...base, hash: bytesToHex(h), sig: opts.resign ? bytesToHex(ed25519.sign(entrySigBytes(h), localSecretKey(e.region))) : e.sig };
      prev = out.hash;
      return out;
    });
  }
  return entries.map((e) => canonicalJson(e) + '\n').join('');
}

/** Signature by `region`'s runLocal key over a message's signedBytes (hex). */
export function signAs(region: string, msg: Parameters<typeof signedBytes>[0]): string {
  return bytesToHex(ed25519.sign(signedBytes(msg), localSecretKey(region)));
}

export { hexToBytes };
