/**
 * Verifier benchmark: how long `verifyRound` (src/verifier) takes on a real 5-region round
 * (t = 3, every region's transcript), in Node and in Chromium (the auditor page's runtime).
 *
 *   npm run bench:verify                 readable table
 *   npm run bench:verify -- --json       one JSON object per case, then {"summary":...}
 *   options: --params 1000,100000,1000000 (vector lengths), --reps N (timed runs, default 7),
 *            --protocol 1,2 (the rounds' protocol versions, default 1; each case names its own,
 *            and with both the summary gives the version-2 / version-1 ratio of each case)
 *
 * The round is produced in-process by the protocol harness (runLocal: the same state machine and
 * transcript builder as the node, deterministic keys), so the transcripts are real. Cases per
 * vector length: without the result vector (target: < 200 ms, independent of the length) and
 * with it (the result check hashes the vector, so it grows with the length). Each figure is the
 * median of the timed runs after 2 warm-up runs, measured inside the runtime (performance.now()).
 * Chromium: /usr/bin/chromium through playwright-core, the verifier bundled by esbuild exactly
 * as for the page; skipped (null) when Chromium is missing.
 * @module
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { parseFederation } from '../src/federation/index.js';
import { loadKernels } from '../src/field/node.js';
import { aesCtrRandom } from '../src/field/random-node.js';
import { localSecretKey, runLocal } from '../src/protocol/harness.js';
import { f32Bytes } from '../src/protocol/commitments.js';
import { roundParamsFor } from '../src/protocol/params.js';
import { verifyRound } from '../src/verifier/index.js';

const REGIONS = ['af', 'apac', 'eu', 'sa', 'us'];
const CHROMIUM = '/usr/bin/chromium';
const TARGET_MS = 200;

interface Case {
  runtime: 'node' | 'chromium';
  protocol: 1 | 2;
  regions: number;
  params: number;
  with_result: boolean;
  transcript_bytes: number;
  ms: number | null;
  ok: boolean | null;
  target_ms: number | null;
  note?: string;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const PROTOCOLS = (arg('protocol') ?? '1').split(',').map((v) => (v === '2' ? 2 : 1) as 1 | 2);

async function makeRound(params: number, protocol: 1 | 2) {
  const K = await loadKernels();
  const federation = {
    federation: 'bench-verify', version: 1, threshold: 3,
    regions: REGIONS.map((id, i) => ({
      id, jurisdiction: id.toUpperCase(), endpoint: `ws://127.0.0.1:${7100 + i}`,
      publicKey: bytesToHex(ed25519.getPublicKey(localSecretKey(id))), api: { host: '127.0.0.1', port: 7200 + i },
    })),
    round: { minContributors: 2, clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, maxParams: Math.max(params, 1000), clipMode: 'reject', ...(protocol === 2 ? { protocol: 2 } : {}) },
  };
  const fed = parseFederation(federation);
  const rp = roundParamsFor(fed, `bench-${params}-v${protocol}`, params);
  const inputs = REGIONS.map((region, r) => ({ region, updates: [{ update: Float32Array.from({ length: params }, (_, i) => Math.sin(i * 0.001 + r)), weight: 1 + r }] }));
  const outcomes = runLocal(K, rp, inputs, { rng: (region) => aesCtrRandom(new Uint8Array(32).fill(region.length + region.charCodeAt(0))) });
  const transcripts = outcomes.map((o) => new TextEncoder().encode(o.transcript.join('')));
  const res = outcomes.find((o) => o.result)?.result;
  if (!res) throw new Error('the benchmark round produced no result');
  return { federation, transcripts, result: f32Bytes(res.sum) };
}

async function timeNode(round: Awaited<ReturnType<typeof makeRound>>, withResult: boolean, reps: number): Promise<{ ms: number; ok: boolean }> {
  const input = { transcripts: round.transcripts, federation: round.federation, ...(withResult ? { result: round.result } : {}) };
  let ok = true;
  for (let i = 0; i < 2; i++) ok &&= (await verifyRound(input)).ok;
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    const r = await verifyRound(input);
    times.push(performance.now() - t0);
    ok &&= r.ok;
  }
  return { ms: median(times), ok };
}

/** The verifier bundled for browsers, exposed as globalThis.__mpcVerify. */
async function verifierBundle(): Promise<string> {
  const { build } = await import('esbuild');
  const root = fileURLToPath(new URL(existsSync(fileURLToPath(new URL('../src/verifier/index.ts', import.meta.url))) ? '..' : '../..', import.meta.url));
  const out = await build({
    stdin: { contents: "import { verifyRound } from './src/verifier/index.ts'; globalThis.__mpcVerify = verifyRound;", resolveDir: root, loader: 'ts' },
    bundle: true, format: 'iife', platform: 'browser', target: ['es2022'], minify: true, write: false, logLevel: 'error',
  });
  return out.outputFiles[0]!.text;
}

async function main(): Promise<void> {
  const json = process.argv.includes('--json');
  const reps = Number(arg('reps') ?? 7);
  const sizes = (arg('params') ?? '1000,100000,1000000').split(',').map((s) => Math.round(Number(s)));
  const cases: Case[] = [];
  const rounds = new Map<string, Awaited<ReturnType<typeof makeRound>>>();
  const key = (p: number, v: 1 | 2) => `${p}/${v}`;
  for (const p of sizes) for (const v of PROTOCOLS) rounds.set(key(p, v), await makeRound(p, v));
  const bytesOf = (p: number, v: 1 | 2) => rounds.get(key(p, v))!.transcripts.reduce((s, t) => s + t.length, 0);

  for (const p of sizes) {
    for (const withResult of [false, true]) {
      for (const v of PROTOCOLS) {
        const r = await timeNode(rounds.get(key(p, v))!, withResult, reps);
        cases.push({ runtime: 'node', protocol: v, regions: REGIONS.length, params: p, with_result: withResult, transcript_bytes: bytesOf(p, v), ms: r.ms, ok: r.ok, target_ms: withResult ? null : TARGET_MS });
      }
    }
  }

  if (!existsSync(CHROMIUM)) {
    for (const p of sizes) for (const withResult of [false, true]) for (const v of PROTOCOLS) cases.push({ runtime: 'chromium', protocol: v, regions: REGIONS.length, params: p, with_result: withResult, transcript_bytes: bytesOf(p, v), ms: null, ok: null, target_ms: withResult ? null : TARGET_MS, note: `${CHROMIUM} missing: sudo apt-get install -y chromium` });
  } else {
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'mpc-node-bench-chromium-'));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
    });
    try {
      const page = ctx.pages()[0] ?? (await ctx.newPage());
      await page.setContent('<!doctype html><title>bench</title>');
      await page.addScriptTag({ content: await verifierBundle() });
      for (const p of sizes) {
        for (const withResult of [false, true]) for (const v of PROTOCOLS) {
          const round = rounds.get(key(p, v))!;
          const r = await page.evaluate(
            async ({ transcripts, federation, result, reps }) => {
              const verify = (globalThis as unknown as { __mpcVerify: (i: unknown) => Promise<{ ok: boolean }> }).__mpcVerify;
              const input = { transcripts: transcripts.map((t) => new Uint8Array(t)), federation, ...(result ? { result: new Uint8Array(result) } : {}) };
              let ok = true;
              for (let i = 0; i < 2; i++) ok &&= (await verify(input)).ok;
              const times: number[] = [];
              for (let i = 0; i < reps; i++) {
                const t0 = performance.now();
                ok &&= (await verify(input)).ok;
                times.push(performance.now() - t0);
              }
              times.sort((a, b) => a - b);
              return { ms: times[Math.floor(times.length / 2)]!, ok };
            },
            { transcripts: round.transcripts.map((t) => Array.from(t)), federation: round.federation, result: withResult ? Array.from(round.result) : null, reps },
          );
          cases.push({ runtime: 'chromium', protocol: v, regions: REGIONS.length, params: p, with_result: withResult, transcript_bytes: bytesOf(p, v), ms: r.ms, ok: r.ok, target_ms: withResult ? null : TARGET_MS });
        }
      }
    } finally {
      await ctx.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }

  const targeted = cases.filter((c) => c.target_ms !== null && c.ms !== null);
  const summary = {
    target_ms: TARGET_MS,
    all_verified: cases.every((c) => c.ok !== false),
    within_target: targeted.every((c) => c.ms! < TARGET_MS),
    max_ms_without_result: { node: Math.max(...targeted.filter((c) => c.runtime === 'node').map((c) => c.ms!)), chromium: targeted.some((c) => c.runtime === 'chromium') ? Math.max(...targeted.filter((c) => c.runtime === 'chromium').map((c) => c.ms!)) : null },
    node: process.version,
    /** With both versions: ms of version 2 / ms of version 1, per runtime, params and result. */
    v2_over_v1: PROTOCOLS.length < 2 ? null : cases.filter((c) => c.protocol === 2 && c.ms !== null).map((c) => {
      const one = cases.find((x) => x.protocol === 1 && x.runtime === c.runtime && x.params === c.params && x.with_result === c.with_result)!;
      return { runtime: c.runtime, params: c.params, with_result: c.with_result, ratio: one.ms ? Number((c.ms! / one.ms).toFixed(2)) : null };
    }),
  };
  if (json) {
    for (const c of cases) process.stdout.write(JSON.stringify(c) + '\n');
    process.stdout.write(JSON.stringify({ summary }) + '\n');
  } else {
    process.stdout.write(`verifyRound on a ${REGIONS.length}-region round (t = 3, all ${REGIONS.length} transcripts), median of ${reps} runs after 2 warm-ups\n`);
    process.stdout.write(`${'runtime'.padEnd(9)} ${'v'.padStart(2)} ${'params'.padStart(9)} ${'result'.padStart(7)} ${'transcripts'.padStart(12)} ${'ms'.padStart(9)}  ok\n`);
    for (const c of cases) process.stdout.write(`${c.runtime.padEnd(9)} ${String(c.protocol).padStart(2)} ${String(c.params).padStart(9)} ${(c.with_result ? 'yes' : 'no').padStart(7)} ${`${(c.transcript_bytes / 1024).toFixed(1)} KiB`.padStart(12)} ${(c.ms === null ? '-' : c.ms.toFixed(1)).padStart(9)}  ${c.ok ?? c.note}\n`);
    for (const x of summary.v2_over_v1 ?? []) process.stdout.write(`v2/v1 ${x.runtime} ${x.params} ${x.with_result ? 'with' : 'without'} result: ${x.ratio}\n`);
    process.stdout.write(`target: < ${TARGET_MS} ms without the result vector, in both runtimes: ${summary.within_target ? 'met' : 'NOT met'}\n`);
  }
  if (!summary.all_verified) process.exitCode = 1;
}

await main();
