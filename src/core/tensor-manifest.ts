/**
 * The named-tensor manifest of an update (docs/api.md "Named tensors"): which tensors a trainer's
 * flat float32 vector holds, in which order, with which shapes and trainer-side dtypes. Every
 * trainer of a round sends the same manifest, so two models that differ (another layer order,
 * another architecture) are refused before anything is summed, even when their flat lengths
 * happen to match. The manifest travels as canonical JSON bytes; its digest is SHA-256 of them.
 *
 * Canonical form (what `encodeManifest` writes and `parseManifest` accepts, byte for byte):
 * `{"v":1,"tensors":[{"name":"fc.weight","shape":[10,64],"dtype":"float32"},...]}`: the keys in
 * that order, no whitespace; names are printable ASCII, so JSON.stringify and Python's
 * `json.dumps(m, separators=(",", ":"))` write the same bytes.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { MpcError } from '../errors.js';

/** One tensor of an update: its name, shape (row-major) and the dtype the trainer holds it in. */
export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: TensorDtype;
}

export interface TensorManifest {
  readonly v: 1;
  readonly tensors: readonly TensorSpec[];
}

/** Trainer-side dtypes a manifest may name (every one travels as float32 on the wire). */
export const TENSOR_DTYPES = ['float32', 'float16', 'bfloat16', 'float64', 'int8', 'int16', 'int32', 'int64', 'uint8', 'bool'] as const;
export type TensorDtype = (typeof TENSOR_DTYPES)[number];

/** Bounds that keep a manifest small next to its data: at most this many tensors, names of at most this many bytes, this many dimensions. */
export const MANIFEST_LIMITS = { maxBytes: 1 << 20, maxTensors: 65_536, maxNameBytes: 512, maxDims: 16 } as const;

const te = new TextEncoder();
/** Printable ASCII only: every JSON encoder (JSON.stringify, Python's json.dumps) then writes a name the same way. */
const NAME_RE = new RegExp(`^[\\x20-\\x7e]{1,${MANIFEST_LIMITS.maxNameBytes}}$`);

/** The canonical bytes of a manifest. @throws {MpcError} API_BAD_MANIFEST for a manifest outside the rules. */
export function encodeManifest(m: TensorManifest): Uint8Array {
  const problem = manifestProblem(m);
  if (problem) throw new MpcError('API_BAD_MANIFEST', problem);
  return te.encode(canonical(m));
}

function canonical(m: TensorManifest): string {
  return `{"v":1,"tensors":[${m.tensors.map((t) => `{"name":${JSON.stringify(t.name)},"shape":[${t.shape.join(',')}],"dtype":${JSON.stringify(t.dtype)}}`).join(',')}]}`;
}

/** Number of float32 values the manifest's tensors hold together. */
export function manifestValues(m: TensorManifest): number {
  return m.tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

/** hex SHA-256 of a manifest's canonical bytes. */
export function manifestDigestHex(bytes: Uint8Array): string {
  return bytesToHex(sha256(bytes));
}

/**
 * Reads a manifest from untrusted bytes: valid UTF-8 JSON of the canonical form, byte for byte.
 * @throws {MpcError} API_BAD_MANIFEST naming what is wrong (never echoing more than a name).
 */
export function parseManifest(bytes: Uint8Array): TensorManifest {
  if (bytes.length > MANIFEST_LIMITS.maxBytes) throw new MpcError('API_BAD_MANIFEST', `manifest of ${bytes.length} bytes is above ${MANIFEST_LIMITS.maxBytes}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new MpcError('API_BAD_MANIFEST', 'manifest is not UTF-8 JSON');
  }
  const problem = manifestProblem(json);
  if (problem) throw new MpcError('API_BAD_MANIFEST', problem);
  const m = json as TensorManifest;
  const again = te.encode(canonical(m));
  if (again.length !== bytes.length || !again.every((b, i) => b === bytes[i])) {
    throw new MpcError('API_BAD_MANIFEST', 'manifest is not in canonical form: keys v, tensors; name, shape, dtype in that order, no whitespace (docs/api.md "Named tensors")');
  }
  return m;
}

/** The first rule a manifest breaks, as a sentence naming the tensor, or null. */
function manifestProblem(m: unknown): string | null {
  if (typeof m !== 'object' || m === null || Array.isArray(m)) return 'manifest must be a JSON object';
  const o = m as Record<string, unknown>;
  if (o['v'] !== 1) return 'manifest.v must be 1';
  const ts = o['tensors'];
  if (!Array.isArray(ts) || ts.length === 0) return 'manifest.tensors must be a non-empty list';
  if (ts.length > MANIFEST_LIMITS.maxTensors) return `manifest has ${ts.length} tensors, at most ${MANIFEST_LIMITS.maxTensors}`;
  const names = new Set<string>();
  let values = 0;
  for (const [i, t] of ts.entries()) {
    if (typeof t !== 'object' || t === null || Array.isArray(t)) return `manifest.tensors[${i}] must be an object`;
    const { name, shape, dtype } = t as Record<string, unknown>;
    if (typeof name !== 'string' || !NAME_RE.test(name)) return `manifest.tensors[${i}].name must be 1..${MANIFEST_LIMITS.maxNameBytes} printable ASCII characters`;
    if (names.has(name)) return `manifest names tensor ${JSON.stringify(name)} twice`;
    names.add(name);
    if (!Array.isArray(shape) || shape.length > MANIFEST_LIMITS.maxDims || !shape.every((d) => Number.isSafeInteger(d) && d >= 1)) {
      return `manifest.tensors[${i}] (${JSON.stringify(name)}): shape must be a list of at most ${MANIFEST_LIMITS.maxDims} positive integers ([] for a scalar)`;
    }
    if (!(TENSOR_DTYPES as readonly unknown[]).includes(dtype)) return `manifest.tensors[${i}] (${JSON.stringify(name)}): dtype must be one of ${TENSOR_DTYPES.join(', ')}`;
    values += (shape as number[]).reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(values)) return 'manifest holds too many values';
  }
  return null;
}

/**
 * The first tensor where two manifests differ, as a sentence, or null when they are the same.
 * @param here - How to name the first manifest's side, e.g. "this trainer", "eu".
 */
export function manifestDifference(a: TensorManifest, b: TensorManifest, here: string, there: string): string | null {
  const n = Math.max(a.tensors.length, b.tensors.length);
  const show = (t: TensorSpec) => `${JSON.stringify(t.name)} ${t.dtype}[${t.shape.join(', ')}]`;
  for (let i = 0; i < n; i++) {
    const x = a.tensors[i];
    const y = b.tensors[i];
    if (!x) return `tensor ${i}: ${there} has ${show(y!)}, ${here} has no more tensors (${a.tensors.length})`;
    if (!y) return `tensor ${i}: ${here} has ${show(x)}, ${there} has no more tensors (${b.tensors.length})`;
    if (x.name !== y.name || x.dtype !== y.dtype || x.shape.join() !== y.shape.join()) return `tensor ${i}: ${here} has ${show(x)}, ${there} has ${show(y)}`;
  }
  return null;
}
