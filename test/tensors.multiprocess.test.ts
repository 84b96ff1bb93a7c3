/**
 * Rounds of named tensors between real node processes (docs/api.md "Named tensors"): the
 * manifest is checked at each node against its other trainers and, through the round
 * parameters, across regions; models that differ at equal length are refused, naming the first
 * tensor that differs; the transcripts record the manifest digest and verify.
 * Needs the built CLI (npm test builds it first).
 */
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed, AggregateError, type TensorSpec } from '../src/client/index.js';
import { encodeManifest, manifestDigestHex } from '../src/core/tensor-manifest.js';
import { cliPath, waitConnected, type LocalFederation } from '../src/node/local-federation.js';
import { useFederations } from './support/federation.js';

const fx = useFederations('mpc-node-tensors-');
const IDS = ['apac', 'eu', 'us'];

async function federation(): Promise<LocalFederation> {
  const fed = await fx.federation(IDS, { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, collectMs: 300, phaseTimeoutMs: 2000, roundTimeoutMs: 30_000 } });
  await fx.start(fed);
  await waitConnected(fed);
  return fed;
}

const MODEL: TensorSpec[] = [{ name: 'fc.weight', shape: [2, 3], dtype: 'float32' }, { name: 'fc.bias', shape: [3], dtype: 'bfloat16' }];
const OTHER: TensorSpec[] = [{ name: 'fc.weight', shape: [3, 2], dtype: 'float32' }, { name: 'fc.bias', shape: [3], dtype: 'bfloat16' }];
const values = (k: number) => Float32Array.from({ length: 9 }, (_, i) => i + 10 * k);
const submit = (r: LocalFederation['regions'][number], round: string, k: number, tensors: TensorSpec[] | undefined, expect = 1) =>
  aggregateDetailed({ node: r.api, token: r.token, round, update: values(k), reduce: 'sum', expect, ...(tensors ? { tensors } : {}) });
const refusal = (p: Promise<unknown>) => p.then(() => null, (e: AggregateError) => ({ code: e.code, status: e.status, message: e.message }));

describe('rounds of named tensors', () => {
  it('sums them, answers with the manifest digest, and records it in every transcript, which verifies', async () => {
    const fed = await federation();
    const res = await Promise.all(fed.regions.map((r, k) => submit(r, 'named', k, MODEL)));
    const digest = manifestDigestHex(encodeManifest({ v: 1, tensors: MODEL }));
    for (const r of res) {
      expect(Array.from(r.vector)).toEqual(Array.from({ length: 9 }, (_, i) => 3 * i + 30));
      expect(r.manifestDigest).toBe(digest);
    }
    const files = fed.regions.map((r) => join(r.dataDir, 'transcripts', 'named.jsonl'));
    for (const f of files) {
      for (let i = 0; !(await readFile(f, 'utf8')).includes('"kind":"sealed"'); i++) {
        if (i > 100) throw new Error(`${f} not sealed`);
        await new Promise((ok) => setTimeout(ok, 50));
      }
      const params = JSON.parse((await readFile(f, 'utf8')).split('\n')[0]!) as { body: { params: { manifest?: string } } };
      expect(params.body.params.manifest).toBe(digest);
    }
    const v = spawnSync(process.execPath, [cliPath(), 'verify', ...files, '--federation', fed.config], { encoding: 'utf8' });
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
  }, 60_000);

  it('regions whose models differ at equal length abort before dealing, every region naming the first tensor that differs', async () => {
    const fed = await federation();
    const got = await Promise.all(fed.regions.map((r, k) => refusal(submit(r, 'models-differ', k, r.id === 'us' ? OTHER : MODEL))));
    for (const g of got) {
      expect(g).toMatchObject({ code: 'PROTOCOL_PARAMS_MISMATCH', status: 409 });
      expect(g!.message).toMatch(/models differ: tensor 0: \w+ has "fc\.weight" float32\[(2, 3|3, 2)\], \w+ has "fc\.weight" float32\[(3, 2|2, 3)\]/);
    }
    // nothing was dealt: no region committed to shares, and each transcript ends in the abort
    for (const r of fed.regions) {
      const kinds = (await readFile(join(r.dataDir, 'transcripts', 'models-differ.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { kind: string }).kind);
      expect(kinds).not.toContain('commits');
      expect(kinds.at(-1)).toBe('abort');
    }
  }, 60_000);

  it('at one node: a trainer whose model differs, or who sends a plain vector, is refused and the others go on', async () => {
    const fed = await federation();
    const [apac, eu, us] = fed.regions as [LocalFederation['regions'][number], LocalFederation['regions'][number], LocalFederation['regions'][number]];
    const first = submit(apac, 'one-node', 0, MODEL, 2);
    // wait until apac's round is open with the first trainer's manifest
    const logs = fx.procs.find((p) => p.region === 'apac')!.logs;
    for (let i = 0; !logs.some((l) => l.event === 'update-accepted' && l.round === 'one-node'); i++) {
      if (i > 200) throw new Error('first update not accepted');
      await new Promise((ok) => setTimeout(ok, 10));
    }
    expect(await refusal(submit(apac, 'one-node', 5, OTHER, 2))).toMatchObject({
      code: 'FIELD_MANIFEST_MISMATCH', status: 400,
      message: 'this update\'s model is not round one-node\'s: tensor 0: this update has "fc.weight" float32[3, 2], round one-node has "fc.weight" float32[2, 3]',
    });
    expect(await refusal(submit(apac, 'one-node', 5, undefined, 2))).toMatchObject({ code: 'FIELD_MANIFEST_MISMATCH', message: expect.stringMatching(/takes named tensors/) });
    const res = await Promise.all([first, submit(apac, 'one-node', 1, MODEL, 2), submit(eu, 'one-node', 2, MODEL), submit(us, 'one-node', 3, MODEL)]);
    for (const r of res) expect(Array.from(r.vector)).toEqual(Array.from({ length: 9 }, (_, i) => 4 * i + 60));
  }, 60_000);
});
