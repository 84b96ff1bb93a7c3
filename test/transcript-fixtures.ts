/**
 * Shared by test/transcript.test.ts and the vector generator (test/transcript.vectors.test.ts):
 * a federation whose keys are runLocal's deterministic keys, rounds with fixed seeds, tampering
 * helpers that rewrite entries and re-chain / re-sign them with a chosen key, and the vector
 * suite that regenerates and replays a directory of vectors (test/transcript.vectors*.test.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
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
import { verifyRound } from '../src/verifier/index.js';

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

/**
 * `trainerIds`: every update carries a trainer id (trainerIdOf), so each node records its `trainers` entry.
 * `protocol: 2`: the federation file's `round.protocol` is 2 (a version-2 round).
 */
export function runRound(K: WasmKernels, o: { params?: number; round?: string; faults?: LocalFaults; regions?: string[]; threshold?: number; policy?: Record<string, unknown>; now?: number; trainerIds?: boolean; protocol?: 1 | 2 } = {}): RoundRun {
  const regions = o.regions ?? REGIONS;
  const base = federationJson(regions, o.threshold ?? 2);
  if (o.protocol === 2) base.round = { ...(base.round as object), protocol: 2 };
  const federation = { ...base, ...(o.policy ? { policy: o.policy } : {}) };
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

/** Signature by `region`'s runLocal key over a message's signedBytes under `version`'s label (hex). */
export function signAs(region: string, msg: Parameters<typeof signedBytes>[0], version: 1 | 2 = 1): string {
  return bytesToHex(ed25519.sign(signedBytes(msg, version), localSecretKey(region)));
}

/** One transcript vector file (test/vectors/transcript/v<n>/<name>.json). */
export interface Vector {
  description: string;
  source: string;
  federation: Record<string, unknown>;
  transcripts: { name: string; text: string }[];
  /** raw float32 LE result as hex, or null */
  result: string | null;
  expect: { ok: true } | { ok: false; check: string; where: string };
}

/** A round's transcripts as vector files (`<region>.jsonl`), with some replaced by `edit`. */
export const vectorFiles = (run: RoundRun, edit: Partial<Record<string, string>> = {}) =>
  Object.entries(run.transcripts).map(([r, text]) => ({ name: `${r}.jsonl`, text: edit[r] ?? text }));

/**
 * The vector suite of one directory: `build()` regenerates every vector (and writes them with
 * MPC_WRITE_VECTORS=1); they must equal the files byte for byte, and each file replays:
 * good_ ones verify, bad_ ones fail with the first error naming `expect.check` at `expect.where`.
 */
export function vectorSuite(title: string, dir: string, build: () => Record<string, Vector>): void {
  describe(title, () => {
    it('regenerates byte for byte (deterministic) and every vector verifies as expected', async () => {
      const built = build();
      if (process.env.MPC_WRITE_VECTORS === '1') {
        mkdirSync(dir, { recursive: true });
        for (const [name, vec] of Object.entries(built)) writeFileSync(join(dir, `${name}.json`), JSON.stringify(vec, null, 1) + '\n');
      }
      const onDisk = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
      expect(onDisk).toEqual(Object.keys(built).map((n) => `${n}.json`).sort());
      for (const [name, vec] of Object.entries(built)) {
        expect(JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')), name).toEqual(vec);
      }
    }, 120_000);

    for (const f of existsSync(dir) ? readdirSync(dir).filter((x) => x.endsWith('.json')).sort() : []) {
      it(`${f}`, async () => {
        const vec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Vector;
        expect(vec.source).toMatch(/MPC_WRITE_VECTORS=1/);
        const rep = await verifyRound({ transcripts: vec.transcripts.map((t) => enc(t.text)), names: vec.transcripts.map((t) => t.name), federation: vec.federation, ...(vec.result ? { result: hexToBytes(vec.result) } : {}) });
        const want = vec.expect;
        if (want.ok) {
          expect(rep.errors).toEqual([]);
          expect(rep.ok).toBe(true);
        } else {
          expect(rep.ok).toBe(false);
          expect(rep.errors[0]).toMatch(new RegExp(`^${want.check}: ${want.where.replace(/\./g, '\\.')}: `));
          expect(rep.checks.find((c) => c.name === want.check)?.ok).toBe(false);
        }
      });
    }
  });
}

export { hexToBytes };
