/**
 * Field benchmark: WASM kernels vs the BigInt oracle, in one run.
 *
 *   npm run bench                 readable table, ratios and targets
 *   npm run bench -- --json       one JSON object per line, then {"op":"summary",...}
 *   options: --L N (WASM vector length, default 1e6), --reps N (WASM repetitions, default 7),
 *            --bigint-L N (BigInt vector length, default 2e4), --bigint-reps N (default 3),
 *            --quick (L 1e5, 3 reps, BigInt L 5e3 and 1 rep: a smoke run, not for RESULTS)
 *
 * Every op is timed as a whole library call, as an application would make it; `seconds` is
 * the median over the repetitions (after warm-up calls), `elements_per_s` = L / seconds where
 * L is the number of elements actually processed per call (the length of the secret / of each
 * share vector / of the update). The BigInt oracle is measured on a shorter vector (it runs at
 * a few M elements/s) and its rows carry that L. Outputs and inputs are allocated once and
 * reused across repetitions: fresh pages cost ~15 us each on the reference VM and would
 * otherwise dominate.
 * @module
 */
import { randomFillSync } from 'node:crypto';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import * as R from '../src/field/reference.js';
import { decodeVector, encodeUpdate, type EncodeOptions } from '../src/field/fixed-point.js';
import { loadKernels } from '../src/field/node.js';
import { aesCtrRandom, nodeRandom } from '../src/field/random-node.js';
import { sampleField, type RandomFill } from '../src/field/random.js';
import type { FieldVec, WasmKernels } from '../src/field/wasm.js';
import { checkConsistency, checkPointsOnPolynomial, combine, deal } from '../src/sharing/shamir.js';

type Op = 'share' | 'combine' | 'encode' | 'decode' | 'add' | 'check';
type Impl = 'wasm' | 'bigint';

interface Row {
  op: Op;
  impl: Impl;
  t: number;
  n: number;
  L: number;
  seconds: number;
  elements_per_s: number;
  /** share rows: the randomness source. */
  rng?: 'randomFillSync' | 'aes-256-ctr';
  /** encode rows: true when clipMode 'clip' actually scaled the update down. */
  clip?: boolean;
}

const CONFIGS: readonly [number, number][] = [
  [2, 3],
  [3, 5],
  [6, 10],
];
const SCALE_BITS = 16;

interface Args {
  json: boolean;
  L: number;
  reps: number;
  bigL: number;
  bigReps: number;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { json: false, L: 1_000_000, reps: 7, bigL: 20_000, bigReps: 3 };
  const num = (i: number, name: string): number => {
    const v = Number(argv[i]);
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`${name} expects a positive integer, got ${argv[i]}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--json') a.json = true;
    else if (k === '--quick') Object.assign(a, { L: 100_000, reps: 3, bigL: 5_000, bigReps: 1 });
    else if (k === '--L') a.L = num(++i, '--L');
    else if (k === '--reps') a.reps = num(++i, '--reps');
    else if (k === '--bigint-L') a.bigL = num(++i, '--bigint-L');
    else if (k === '--bigint-reps') a.bigReps = num(++i, '--bigint-reps');
    else if (k === '--help' || k === '-h') {
      console.log('usage: node dist/bench/field.js [--json] [--L N] [--reps N] [--bigint-L N] [--bigint-reps N] [--quick]');
      process.exit(0);
    } else throw new RangeError(`unknown option ${k} (try --help)`);
  }
  return a;
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Median seconds of `reps` calls of `fn`, after `warm` untimed calls. */
function time(fn: () => void, reps: number, warm: number): number {
  for (let i = 0; i < warm; i++) fn();
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push((performance.now() - t0) / 1000);
  }
  return median(ts);
}

// ---------------------------------------------------------------- inputs

/** Values in [-1, 1), deterministic; L2 norm ~ sqrt(L/3). */
function makeUpdate(L: number): Float32Array {
  const v = new Float32Array(L);
  let s = 0x9e3779b9;
  for (let i = 0; i < L; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 31 - 1;
  }
  return v;
}

/** Uniform field elements from node:crypto (rejection of words >= p). */
function randomBigVec(L: number): bigint[] {
  const w = new BigUint64Array(L);
  randomFillSync(w);
  const one = new BigUint64Array(1);
  const out = new Array<bigint>(L);
  for (let i = 0; i < L; i++) {
    let x = w[i]!;
    while (x >= R.P) {
      randomFillSync(one);
      x = one[0]!;
    }
    out[i] = x;
  }
  return out;
}

function l2(values: Float32Array): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]! * values[i]!;
  return Math.sqrt(s);
}

// ---------------------------------------------------------------- WASM

function benchWasm(K: WasmKernels, L: number, reps: number, update: Float32Array): Row[] {
  const rows: Row[] = [];
  const warm = 2;
  const secret = K.alloc(L);
  sampleField(K, secret.ptr, L, nodeRandom);
  const maxN = Math.max(...CONFIGS.map(([, n]) => n));
  const outs: FieldVec[] = Array.from({ length: maxN }, () => K.allocZero(L));
  const out = K.allocZero(L);
  const b = K.alloc(L);
  sampleField(K, b.ptr, L, nodeRandom);
  const f32 = new Float32Array(L);
  const norm = l2(update);
  const reject: EncodeOptions = { scaleBits: SCALE_BITS, clipL2: 1e6 + 2 * norm, clipMode: 'reject' };
  const clipping: EncodeOptions = { scaleBits: SCALE_BITS, clipL2: norm / 2, clipMode: 'clip' };
  const aes = aesCtrRandom();
  const row = (op: Op, t: number, n: number, seconds: number, extra: Partial<Row> = {}): Row => ({
    op,
    impl: 'wasm',
    t,
    n,
    L,
    seconds,
    elements_per_s: L / seconds,
    ...extra,
  });

  for (const [t, n] of CONFIGS) {
    const o = outs.slice(0, n);
    rows.push(row('share', t, n, time(() => deal(K, secret, t, n, o, nodeRandom), reps, warm), { rng: 'randomFillSync' }));
    rows.push(row('share', t, n, time(() => deal(K, secret, t, n, o, aes), reps, warm), { rng: 'aes-256-ctr' }));
    deal(K, secret, t, n, o, nodeRandom);
    // any t shares: take the last t (x = n-t+1..n), so the coefficients are not the trivial ones
    const xs = Array.from({ length: t }, (_, i) => n - t + 1 + i);
    const sub = xs.map((x) => o[x - 1]!);
    rows.push(row('combine', t, n, time(() => combine(K, sub, xs, out), reps, warm)));
    if (K.view(out).some((v, i) => v !== K.get(secret, i))) throw new Error(`combine (${t},${n}) did not reconstruct the secret`);
    const allX = Array.from({ length: n }, (_, i) => i + 1);
    let ok = true;
    rows.push(row('check', t, n, time(() => (ok = checkConsistency(K, o, allX, t, nodeRandom).ok), reps, warm)));
    if (!ok) throw new Error(`checkConsistency (${t},${n}) rejected honest shares`);
    // the following do not depend on (t, n); measured again per configuration (shows the noise)
    rows.push(row('encode', t, n, time(() => encodeUpdate(K, update, out, reject), reps, warm)));
    rows.push(row('encode', t, n, time(() => encodeUpdate(K, update, out, clipping), reps, warm), { clip: true }));
    encodeUpdate(K, update, out, reject);
    rows.push(row('decode', t, n, time(() => decodeVector(K, out, f32, SCALE_BITS), reps, warm)));
    if (Math.abs(f32[L - 1]! - update[L - 1]!) > 2 ** -SCALE_BITS) throw new Error('decode(encode(v)) != v');
    rows.push(row('add', t, n, time(() => K.add(out, secret, b), reps, warm)));
  }
  for (const v of [secret, out, b, ...outs]) K.free(v);
  return rows;
}

// ---------------------------------------------------------------- BigInt oracle

function benchBigint(L: number, reps: number, update: Float32Array): Row[] {
  const rows: Row[] = [];
  const warm = 1;
  const secret = randomBigVec(L);
  const b = randomBigVec(L);
  const values = update.subarray(0, L);
  const clipL2 = 1e6 + 2 * l2(values);
  const f32 = new Float32Array(L);
  const row = (op: Op, t: number, n: number, seconds: number, extra: Partial<Row> = {}): Row => ({
    op,
    impl: 'bigint',
    t,
    n,
    L,
    seconds,
    elements_per_s: L / seconds,
    ...extra,
  });
  for (const [t, n] of CONFIGS) {
    let shares: bigint[][] = [];
    const share = () => {
      const coeffs = Array.from({ length: t - 1 }, () => randomBigVec(L));
      shares = R.shamirDealRef(secret, coeffs, n);
    };
    rows.push(row('share', t, n, time(share, reps, warm), { rng: 'randomFillSync' }));
    const xs = Array.from({ length: t }, (_, i) => BigInt(n - t + 1 + i));
    const sub = xs.map((x) => shares[Number(x) - 1]!);
    let rec: bigint[] = [];
    rows.push(row('combine', t, n, time(() => (rec = R.lagrangeCombineRef(sub, xs)), reps, warm)));
    if (rec.some((v, i) => v !== secret[i])) throw new Error(`BigInt combine (${t},${n}) did not reconstruct`);
    const allX = Array.from({ length: n }, (_, i) => BigInt(i + 1));
    let ok = true;
    const check = () => {
      const r = randomBigVec(L);
      ok = checkPointsOnPolynomial(allX, shares.map((s) => R.vecDot(s, r)), t).ok;
    };
    rows.push(row('check', t, n, time(check, reps, warm)));
    if (!ok) throw new Error(`BigInt check (${t},${n}) rejected honest shares`);
    let enc: bigint[] = [];
    const encode = () => {
      // same work as encodeUpdate in 'reject' mode: finiteness + L2 bound, then encode
      if (!(l2(values) <= clipL2)) throw new Error('bound');
      enc = R.encodeRef(values, SCALE_BITS);
    };
    rows.push(row('encode', t, n, time(encode, reps, warm)));
    rows.push(row('decode', t, n, time(() => f32.set(R.decodeRef(enc, SCALE_BITS)), reps, warm)));
    rows.push(row('add', t, n, time(() => R.vecAdd(secret, b), reps, warm)));
  }
  return rows;
}

// ---------------------------------------------------------------- summary

interface Target {
  name: string;
  measured: number;
  target: number;
  unit: string;
  higherIsBetter: boolean;
  pass: boolean;
}

function summarize(rows: Row[]) {
  const find = (op: Op, impl: Impl, t?: number, n?: number, pred: (r: Row) => boolean = () => true) =>
    rows.filter((r) => r.op === op && r.impl === impl && (t === undefined || (r.t === t && r.n === n)) && pred(r));
  const primary = (r: Row) => r.rng !== 'aes-256-ctr' && !r.clip;
  const ratios: { op: Op; t: number; n: number; wasm_over_bigint: number }[] = [];
  for (const op of ['share', 'combine', 'encode', 'decode', 'add', 'check'] as Op[]) {
    for (const [t, n] of CONFIGS) {
      const w = find(op, 'wasm', t, n, primary)[0];
      const g = find(op, 'bigint', t, n, primary)[0];
      if (w && g) ratios.push({ op, t, n, wasm_over_bigint: w.elements_per_s / g.elements_per_s });
    }
  }
  // (t,n)-independent ops: the median over the configurations' measurements
  const med = (op: Op, pred = primary) => median(find(op, 'wasm', undefined, undefined, pred).map((r) => r.elements_per_s));
  const share35 = find('share', 'wasm', 3, 5, primary)[0]!;
  const comb3 = find('combine', 'wasm', 3, 5)[0]!;
  const perM = (r: Row) => r.seconds * (1e6 / r.L); // seconds for 1e6 elements at the measured rate
  const minRatio = (op: Op) => Math.min(...ratios.filter((r) => r.op === op).map((r) => r.wasm_over_bigint));
  const targets: Target[] = [];
  const add = (name: string, measured: number, target: number, unit: string, higherIsBetter: boolean) =>
    targets.push({ name, measured, target, unit, higherIsBetter, pass: higherIsBetter ? measured >= target : measured <= target });
  add('share (3,5) of 1e6 incl. randomness', perM(share35) * 1e3, 20, 'ms', false);
  add('combine from 3 shares, 1e6', perM(comb3) * 1e3, 10, 'ms', false);
  add('add', med('add') / 1e6, 800, 'M elements/s', true);
  add('encode', med('encode') / 1e6, 150, 'M elements/s', true);
  add('decode', med('decode') / 1e6, 500, 'M elements/s', true);
  add('share vs BigInt (worst of the (t,n))', minRatio('share'), 40, 'x', true);
  add('combine vs BigInt (worst of the (t,n))', minRatio('combine'), 40, 'x', true);
  return { ratios, targets, all_pass: targets.every((t) => t.pass) };
}

// ---------------------------------------------------------------- output

const fmtRate = (x: number) => (x >= 1e9 ? `${(x / 1e9).toFixed(2)} G` : x >= 1e6 ? `${(x / 1e6).toFixed(1)} M` : `${(x / 1e3).toFixed(1)} k`);
const fmtSec = (s: number) => (s >= 1 ? `${s.toFixed(2)} s` : `${(s * 1e3).toFixed(3)} ms`);

function printTable(rows: Row[], summary: ReturnType<typeof summarize>, a: Args): void {
  console.log(`mpc-node field bench: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${new Date().toISOString()}`);
  console.log(`WASM L = ${a.L}, median of ${a.reps} after 2 warm-up calls; BigInt L = ${a.bigL}, median of ${a.bigReps} after 1 warm-up\n`);
  const head = ['op', 'impl', 't', 'n', 'L', 'variant', 'median', 'elements/s'];
  const body = rows.map((r) => [r.op, r.impl, String(r.t), String(r.n), String(r.L), r.rng ?? (r.clip ? 'clip' : r.op === 'encode' ? 'reject' : ''), fmtSec(r.seconds), fmtRate(r.elements_per_s)]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 ? c.padStart(w[i]!) : c.padEnd(w[i]!))).join('  ');
  console.log(line(head));
  console.log(w.map((x) => '-'.repeat(x)).join('  '));
  for (const b of body) console.log(line(b));
  console.log('\nwasm / bigint (elements/s):');
  for (const r of summary.ratios) console.log(`  ${r.op.padEnd(8)} (${r.t},${r.n})`.padEnd(20) + `${r.wasm_over_bigint.toFixed(1)}x`);
  console.log('\ntargets:');
  for (const t of summary.targets) {
    console.log(`  ${t.pass ? 'PASS' : 'FAIL'}  ${t.name}: ${t.measured.toFixed(t.unit === 'x' ? 1 : 2)} ${t.unit} (target ${t.higherIsBetter ? '>=' : '<='} ${t.target} ${t.unit})`);
  }
  console.log(`\n${summary.all_pass ? 'all targets met' : 'some targets missed'}`);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const K = await loadKernels();
  const update = makeUpdate(Math.max(a.L, a.bigL));
  const wasmRows = benchWasm(K, a.L, a.reps, update.subarray(0, a.L));
  const bigRows = benchBigint(a.bigL, a.bigReps, update);
  const rows = [...wasmRows, ...bigRows];
  const summary = summarize(rows);
  if (a.json) {
    for (const r of rows) console.log(JSON.stringify(r));
    console.log(JSON.stringify({ op: 'summary', node: process.version, nproc: cpus().length, L: a.L, reps: a.reps, bigint_L: a.bigL, bigint_reps: a.bigReps, ...summary }));
  } else {
    printTable(rows, summary, a);
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exit(1);
});
