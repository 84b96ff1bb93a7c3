/**
 * Transcripts (docs/transcript.md): the entry encoding, the chain, signatures, cross-checks,
 * unsealed rounds, and that one flipped byte anywhere fails verification naming file, entry
 * and check. Vectors: test/transcript.vectors.test.ts.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../src/core/canonical-json.js';
import { loadKernelsFresh } from '../src/field/node.js';
import type { WasmKernels } from '../src/field/wasm.js';
import { localSecretKey } from '../src/protocol/harness.js';
import { verifyRound } from '../src/verifier/index.js';
import { enc, parseLines, rewrite, runRound, trainerIdOf, type RoundRun } from './transcript-fixtures.js';

let K: WasmKernels;
let good: RoundRun;
beforeAll(async () => {
  K = await loadKernelsFresh();
  good = runRound(K);
});

const verify = (run: RoundRun, texts: Record<string, string> = run.transcripts, result?: Uint8Array) =>
  verifyRound({ transcripts: Object.values(texts).map(enc), names: Object.keys(texts).map((r) => `${r}.jsonl`), federation: run.federation, ...(result ? { result } : {}) });

describe('entry encoding (spec: docs/transcript.md)', () => {
  it('each line is the canonical JSON of the entry; hash = SHA-256(tag || canonical entry without hash, sig); sig over sig-tag || hash', () => {
    const text = good.transcripts.eu!;
    expect(text.endsWith('\n')).toBe(true);
    let prev = '0'.repeat(64);
    for (const [i, line] of text.trimEnd().split('\n').entries()) {
      const e = JSON.parse(line) as Record<string, unknown>;
      expect(canonicalJson(e)).toBe(line);
      expect(Object.keys(e).sort()).toEqual(['body', 'hash', 'kind', 'prev', 'region', 'round', 'seq', 'sig', 'v']);
      expect(e.seq).toBe(i);
      expect(e.prev).toBe(prev);
      const { hash, sig, ...rest } = e;
      expect(bytesToHex(sha256(utf8ToBytes('mpc-node/transcript/v1\0' + canonicalJson(rest))))).toBe(hash);
      const msg = concatBytes(utf8ToBytes('mpc-node/transcript/v1/sig\0'), hexToBytes(hash as string));
      expect(ed25519.verify(hexToBytes(sig as string), msg, ed25519.getPublicKey(localSecretKey('eu')))).toBe(true);
      prev = hash as string;
    }
  });

  it('records the protocol steps in order: params, commits/receipts, decision, agg-done, check, result, sealed', () => {
    const kinds = parseLines(good.transcripts.apac!).map((e) => e.kind);
    expect(kinds[0]).toBe('params');
    expect(kinds.filter((k) => k === 'commits')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'receipt')).toHaveLength(9);
    expect(kinds.slice(-6)).toEqual(['agg-done', 'agg-done', 'agg-done', 'check', 'result', 'sealed']);
  });

  it("carries the other regions' original signatures (commits, receipts, decision, agg-done, seals)", () => {
    const es = parseLines(good.transcripts.eu!);
    const signers = new Set(es.flatMap((e) => {
      const b = e.body as Record<string, unknown>;
      if (e.kind === 'sealed') return (b.seals as { holder: string }[]).map((s) => s.holder);
      return [b.dealer && e.kind === 'commits' ? b.dealer : b.holder ?? b.coordinator].filter(Boolean) as string[];
    }));
    expect([...signers].sort()).toEqual(['apac', 'eu', 'us']);
  });
});

describe('verification', () => {
  it('every check passes on the three transcripts with the sum or the mean as the result', async () => {
    for (const result of [good.sum!, good.mean!]) {
      const rep = await verify(good, good.transcripts, result);
      expect(rep.errors).toEqual([]);
      expect(rep.checks.every((c) => c.ok)).toBe(true);
    }
    const rep = await verify(good);
    expect(rep.picture).toMatchObject({ round: 'vec-1', result: { contributors: ['apac', 'eu', 'us'], holders: ['apac', 'eu', 'us'] } });
    expect(rep.picture!.flows.filter((f) => f.kind === 'shares')).toHaveLength(6);
    expect(rep.picture!.flows.filter((f) => f.kind === 'aggregate-share')).toHaveLength(6);
  });

  it('one transcript alone verifies (cross-check says there is nothing to compare)', async () => {
    const rep = await verify(good, { eu: good.transcripts.eu! });
    expect(rep.ok).toBe(true);
    expect(rep.checks.find((c) => c.name === 'cross-check')!.detail).toMatch(/nothing to cross-check/);
  });

  it('a transcript signed with a key the federation does not list fails signatures', async () => {
    const fed = structuredClone(good.federation) as { regions: { id: string; publicKey: string }[] };
    fed.regions.find((r) => r.id === 'eu')!.publicKey = bytesToHex(ed25519.getPublicKey(new Uint8Array(32).fill(9)));
    const rep = await verifyRound({ transcripts: [enc(good.transcripts.apac!)], federation: fed });
    expect(rep.errors[0]).toMatch(/^signatures: transcript\[0\] seq \d+: commits signature by eu does not verify/);
  });

  it('an unsealed round (final entry "unsealed") and a transcript cut before its end both fail "sealed"', async () => {
    const unsealed = rewrite(good.transcripts.eu!, (es) => [...es.slice(0, -1), { ...es.at(-1)!, kind: 'unsealed', body: { missing: ['us'], reason: 'no seal from us within 5000 ms of the result' } }], { resign: true });
    const a = await verify(good, { eu: unsealed });
    expect(a.errors).toEqual(['sealed: eu.jsonl seq 19: unsealed: no seal from us within 5000 ms of the result']);
    const cut = good.transcripts.eu!.trimEnd().split('\n').slice(0, 10).join('\n') + '\n';
    const b = await verify(good, { eu: cut });
    expect(b.errors[0]).toMatch(/^sealed: eu\.jsonl seq 9: the transcript ends at seq 9 \(receipt\) without a final entry/);
  });

  it('cross-check: transcripts of different rounds, or two of one recorder, fail', async () => {
    const other = runRound(K, { round: 'vec-2' });
    const rep = await verify(good, { eu: good.transcripts.eu!, us: other.transcripts.us! });
    // every file named, with the round it records
    expect(rep.errors).toContain(`cross-check: transcripts: transcripts of different rounds: eu.jsonl: round vec-1; us.jsonl: round vec-2`);
    const twice = await verifyRound({ transcripts: [enc(good.transcripts.eu!), enc(good.transcripts.eu!)], federation: good.federation });
    expect(twice.errors).toEqual(['cross-check: transcript[1]: a second transcript recorded by eu (transcript[0])']);
  });

  it('a flipped byte anywhere fails, naming the file, the entry (seq = line) and encoding|chain|signatures', async () => {
    const text = good.transcripts.us!;
    const bytes = enc(text);
    const lineOf = (pos: number) => text.slice(0, pos).split('\n').length - 1;
    // a stride through the first line (params), the last (seals) and the rest: ~300 verifications
    const firstEnd = text.indexOf('\n') + 1;
    const lastStart = text.lastIndexOf('\n', text.length - 2) + 1;
    const positions = new Set<number>();
    for (let p = 0; p < firstEnd; p += 3) positions.add(p);
    for (let p = lastStart; p < bytes.length; p += 11) positions.add(p);
    positions.add(bytes.length - 1); // the final newline
    for (let p = firstEnd; p < lastStart; p += 173) positions.add(p);
    let n = 0;
    for (const p of positions) {
      const t = bytes.slice();
      t[p]! ^= 0x01;
      const rep = await verifyRound({ transcripts: [t], names: ['us.jsonl'], federation: good.federation });
      expect(rep.ok, `byte ${p}`).toBe(false);
      expect(rep.errors[0], `byte ${p}`).toMatch(new RegExp(`^(encoding|chain|signatures): us\\.jsonl seq ${lineOf(p)}: `));
      n++;
    }
    expect(n).toBeGreaterThan(250);
  }, 120_000);
});

describe('the trainers entry (pseudonymous trainer ids)', () => {
  let named: RoundRun;
  beforeAll(() => {
    named = runRound(K, { trainerIds: true });
  });

  it("is recorded by each region for its own trainers, after params, and verifies (transcripts without it still do)", async () => {
    for (const region of ['apac', 'eu', 'us']) {
      const es = parseLines(named.transcripts[region]!);
      const t = es.filter((e) => e.kind === 'trainers');
      expect(t.map((e) => e.body)).toEqual([{ count: 1, ids: [trainerIdOf(region, 0)] }]);
      expect(es.indexOf(t[0]!)).toBeGreaterThan(0);
    }
    const rep = await verify(named, named.transcripts, named.mean!);
    expect(rep.errors).toEqual([]);
    expect(rep.checks.find((c) => c.name === 'protocol')!.detail).toBe('entries follow the protocol order, no duplicates; apac 1 update(s) from 1 trainer id(s), eu 1 update(s) from 1 trainer id(s), us 1 update(s) from 1 trainer id(s)');
    expect(parseLines(good.transcripts.eu!).some((e) => e.kind === 'trainers')).toBe(false);
  });

  it('a count that is not the recorder\'s commits.trainers, a second entry, or unsorted or malformed ids fail', async () => {
    const edit = (f: (b: { count: number; ids: string[] }) => void) =>
      rewrite(named.transcripts.eu!, (es) => es.map((e) => (e.kind === 'trainers' ? { ...e, body: (() => { const b = structuredClone(e.body) as { count: number; ids: string[] }; f(b); return b; })() } : e)), { resign: true });
    const count = await verify(named, { eu: edit((b) => (b.count = 2)) });
    expect(count.errors).toEqual([expect.stringMatching(/^protocol: eu\.jsonl seq \d+: 2 trainer update\(s\) recorded, the recorder's commits say 1$/)]);
    const unsorted = await verify(named, { eu: edit((b) => ((b.count = 2), (b.ids = ['f'.repeat(32), '0'.repeat(32)]))) });
    expect(unsorted.errors[0]).toMatch(/^encoding: eu\.jsonl seq \d+: trainers\.ids is not a sorted list of distinct trainer ids/);
    const tooMany = await verify(named, { eu: edit((b) => b.ids.push('f'.repeat(32))) });
    expect(tooMany.errors[0]).toMatch(/trainers\.ids names 2 trainer\(s\) for 1 update\(s\)/);
    const named1 = await verify(named, { eu: edit((b) => (b.ids = ['alice'])) });
    expect(named1.errors[0]).toMatch(/^encoding: .*trainers\.ids is not a sorted list/);
    const twice = rewrite(named.transcripts.eu!, (es) => { const i = es.findIndex((e) => e.kind === 'trainers'); return [...es.slice(0, i + 1), es[i]!, ...es.slice(i + 1)]; }, { resign: true });
    expect((await verify(named, { eu: twice })).errors[0]).toMatch(/^protocol: eu\.jsonl seq \d+: a second trainers entry/);
  });
});
