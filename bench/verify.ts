/**
 * Verifier benchmark: how long `verifyRound` (src/verifier) takes on a real 5-region round
 * (t = 3, every region's transcript), in Node and in Chromium (the auditor page's runtime).
 *
 *   npm run bench:verify                 readable table
 *   npm run bench:verify -- --json       one JSON object per case, then {"summary":...}
 *   options: --params 1000,100000,1000000 (vector lengths), --reps N (timed runs, default 7),
 *            --protocol 1|2 (the round's protocol version, default 1; each case names it)
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

const PROTOCOL: 1 | 2 = arg('protocol') === '2' ? 2 : 1;

async function makeRound(params: number) {
  const K = await loadKernels();
  const federation = {
    federation: 'bench-verify', version: 1, threshold: 3,
    regions: REGIONS.map((id, i) => ({
      id, jurisdiction: id.toUpperCase(), endpoint: `ws://127.0.0.1:${7100 + i}`,
      publicKey: bytesToHex(ed25519.getPublicKey(localSecretKey(id))), api: { host: '127.0.0.1', port: 7200 + i },
    })),
    round: { minContributors: 2, clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, maxParams: Math.max(params, 1000), clipMode: 'reject', ...(PROTOCOL === 2 ? { protocol: 2 } : {}) },
  };
  const fed = parseFederation(federation);
  const rp = roundParamsFor(fed, `bench-${params}`, params);
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
  const rounds = new Map<number, Awaited<ReturnType<typeof makeRound>>>();
  for (const p of sizes) rounds.set(p, await makeRound(p));
  const bytesOf = (p: number) => rounds.get(p)!.transcripts.reduce((s, t) => s + t.length, 0);

  for (const p of sizes) {
    for (const withResult of [false, true]) {
      const r = await timeNode(rounds.get(p)!, withResult, reps);
      cases.push({ runtime: 'node', protocol: PROTOCOL, regions: REGIONS.length, params: p, with_result: withResult, transcript_bytes: bytesOf(p), ms: r.ms, ok: r.ok, target_ms: withResult ? null : TARGET_MS });
    }
  }

  if (!existsSync(CHROMIUM)) {
    for (const p of sizes) for (const withResult of [false, true]) cases.push({ runtime: 'chromium', protocol: PROTOCOL, regions: REGIONS.length, params: p, with_result: withResult, transcript_bytes: bytesOf(p), ms: null, ok: null, target_ms: withResult ? null : TARGET_MS, note: `${CHROMIUM} missing: sudo apt-get install -y chromium` });
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
        const round = rounds.get(p)!;
        for (const withResult of [false, true]) {
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
          cases.push({ runtime: 'chromium', protocol: PROTOCOL, regions: REGIONS.length, params: p, with_result: withResult, transcript_bytes: bytesOf(p), ms: r.ms, ok: r.ok, target_ms: withResult ? null : TARGET_MS });
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
  };
  if (json) {
    for (const c of cases) process.stdout.write(JSON.stringify(c) + '\n');
    process.stdout.write(JSON.stringify({ summary }) + '\n');
  } else {
    process.stdout.write(`verifyRound on a ${REGIONS.length}-region round of protocol version ${PROTOCOL} (t = 3, all ${REGIONS.length} transcripts), median of ${reps} runs after 2 warm-ups\n`);
    process.stdout.write(`${'runtime'.padEnd(9)} ${'params'.padStart(9)} ${'result'.padStart(7)} ${'transcripts'.padStart(12)} ${'ms'.padStart(9)}  ok\n`);
    for (const c of cases) process.stdout.write(`${c.runtime.padEnd(9)} ${String(c.params).padStart(9)} ${(c.with_result ? 'yes' : 'no').padStart(7)} ${`${(c.transcript_bytes / 1024).toFixed(1)} KiB`.padStart(12)} ${(c.ms === null ? '-' : c.ms.toFixed(1)).padStart(9)}  ${c.ok ?? c.note}\n`);
    process.stdout.write(`target: < ${TARGET_MS} ms without the result vector, in both runtimes: ${summary.within_target ? 'met' : 'NOT met'}\n`);
  }
  if (!summary.all_verified) process.exitCode = 1;
}

await main();
