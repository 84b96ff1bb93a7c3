/**
 * The named-tensor manifest (src/core/tensor-manifest.ts): canonical bytes, the same bytes
 * Python's json.dumps(separators=(",", ":")) writes, strict parsing, and the first difference.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeManifest, manifestDifference, manifestDigestHex, manifestValues, parseManifest, type TensorManifest } from '../src/core/tensor-manifest.js';
import { MpcError } from '../src/errors.js';

const M: TensorManifest = {
  v: 1,
  tensors: [
    { name: 'conv1.weight', shape: [8, 1, 3, 3], dtype: 'float32' },
    { name: 'bn1.num_batches_tracked', shape: [], dtype: 'int64' },
    { name: 'fc."odd"\\name', shape: [10, 72], dtype: 'bfloat16' },
  ],
};
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const codeOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return e instanceof MpcError ? `${e.code}: ${e.message}` : String(e);
  }
  return 'accepted';
};

describe('tensor manifest', () => {
  it('has one canonical form, and parses exactly it back', () => {
    const b = encodeManifest(M);
    expect(text(b)).toBe('{"v":1,"tensors":[{"name":"conv1.weight","shape":[8,1,3,3],"dtype":"float32"},{"name":"bn1.num_batches_tracked","shape":[],"dtype":"int64"},{"name":"fc.\\"odd\\"\\\\name","shape":[10,72],"dtype":"bfloat16"}]}');
    expect(parseManifest(b)).toEqual(M);
    expect(manifestValues(M)).toBe(72 + 1 + 720);
    expect(manifestDigestHex(b)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes the bytes Python json.dumps(separators=(",", ":")) writes', () => {
    if (!existsSync('/usr/bin/python3')) return; // the Python client's own tests check this too
    const py = spawnSync('/usr/bin/python3', ['-c', 'import json,sys; sys.stdout.write(json.dumps(json.loads(sys.stdin.read()), separators=(",", ":")))'], { input: text(encodeManifest(M)), encoding: 'utf8' });
    expect(py.stdout).toBe(text(encodeManifest(M)));
  });

  it('refuses what is not canonical or not valid, naming the tensor', () => {
    const enc = (s: string) => new TextEncoder().encode(s);
    expect(codeOf(() => parseManifest(enc('{"v":1, "tensors":[{"name":"a","shape":[1],"dtype":"float32"}]}')))).toMatch(/^API_BAD_MANIFEST: manifest is not in canonical form/);
    expect(codeOf(() => parseManifest(enc('{"tensors":[{"name":"a","shape":[1],"dtype":"float32"}],"v":1}')))).toMatch(/not in canonical form/);
    expect(codeOf(() => parseManifest(enc('{"v":2,"tensors":[]}')))).toBe('API_BAD_MANIFEST: manifest.v must be 1');
    expect(codeOf(() => parseManifest(enc('{"v":1,"tensors":[]}')))).toMatch(/non-empty list/);
    expect(codeOf(() => parseManifest(enc('{"v":1,"tensors":[{"name":"a","shape":[0],"dtype":"float32"}]}')))).toMatch(/tensors\[0\] \("a"\): shape must be/);
    expect(codeOf(() => parseManifest(enc('{"v":1,"tensors":[{"name":"a","shape":[1],"dtype":"complex64"}]}')))).toMatch(/dtype must be one of/);
    expect(codeOf(() => parseManifest(enc('{"v":1,"tensors":[{"name":"a","shape":[1],"dtype":"float32"},{"name":"a","shape":[1],"dtype":"float32"}]}')))).toMatch(/names tensor "a" twice/);
    expect(codeOf(() => parseManifest(enc('{"v":1,"tensors":[{"name":"é","shape":[1],"dtype":"float32"}]}')))).toMatch(/printable ASCII/);
    expect(codeOf(() => parseManifest(Uint8Array.of(0xff, 0xfe)))).toBe('API_BAD_MANIFEST: manifest is not UTF-8 JSON');
    expect(codeOf(() => encodeManifest({ v: 1, tensors: [] }))).toMatch(/^API_BAD_MANIFEST/);
  });

  it('names the first tensor where two manifests differ', () => {
    const other: TensorManifest = { v: 1, tensors: [M.tensors[0]!, { name: 'bn1.num_batches_tracked', shape: [1], dtype: 'int64' }] };
    expect(manifestDifference(M, M, 'a', 'b')).toBeNull();
    expect(manifestDifference(M, other, 'this trainer', 'the round')).toBe('tensor 1: this trainer has "bn1.num_batches_tracked" int64[], the round has "bn1.num_batches_tracked" int64[1]');
    const shorter: TensorManifest = { v: 1, tensors: M.tensors.slice(0, 2) };
    expect(manifestDifference(shorter, M, 'eu', 'us')).toBe('tensor 2: us has "fc.\\"odd\\"\\\\name" bfloat16[10, 72], eu has no more tensors (2)');
  });
});
