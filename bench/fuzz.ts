/**
 * Fuzz soak: many inputs through every fuzz target (bench/fuzz-targets.ts, bench/fuzz-http.ts).
 *
 *   npm run bench:fuzz                          defaults below (>= 1e5 inputs in all)
 *   npm run bench:fuzz -- --wire 100000 --handshake 20000 --channel 20000 --roundtrip 20000 --http 5000 --seed 7
 *
 * Pure targets run in this process; the HTTP target writes raw requests to a real node process
 * of a fresh three-region local federation (16 at a time, 1 s reply timeout) and checks, at the
 * end, that the node is still alive and that a legitimate round across the three regions gives
 * the right mean. Prints one line per target (inputs tried, findings, seconds) and a summary;
 * exits 1 when anything was found (the first findings of each target are printed).
 * @module
 */
import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { checkReply, httpCaseArb, requestBytes, sendRaw } from './fuzz-http.js';
import { channelTarget, handshakeTarget, wireRoundTripTarget, wireTarget, type FuzzTarget } from './fuzz-targets.js';

const args = process.argv.slice(2);
const opt = (k: string, d: number): number => {
  const i = args.indexOf(`--${k}`);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const seed = opt('seed', 20261203);

interface Line {
  target: string;
  inputs: number;
  findings: number;
  seconds: number;
  first: string[];
}

function runPure<T>(t: FuzzTarget<T>, n: number): Line {
  const t0 = performance.now();
  const first = new Set<string>();
  let findings = 0;
  // sampled in batches so memory stays flat and every input is checked (no stop at the first finding)
  for (let done = 0, batch = 0; done < n; batch++) {
    const k = Math.min(5000, n - done);
    for (const x of fc.sample(t.arb, { numRuns: k, seed: seed + batch })) {
      try {
        t.check(x);
      } catch (e) {
        findings++;
        if (first.size < 5) first.add(`${(e as Error).name}: ${(e as Error).message}`.slice(0, 300));
      }
    }
    done += k;
  }
  return { target: t.name, inputs: n, findings, seconds: (performance.now() - t0) / 1000, first: [...first] };
}

async function runHttp(n: number): Promise<Line> {
  const t0 = performance.now();
  const dir = await mkdtemp(join(tmpdir(), 'mpc-fuzz-soak-'));
  const procs: NodeProcess[] = [];
  const first = new Set<string>();
  let findings = 0;
  const note = (m: string): void => {
    findings++;
    if (first.size < 5) first.add(m.slice(0, 300));
  };
  try {
    const fed = await writeLocalFederation(dir, ['eu', 'us', 'apac'], { threshold: 2, round: { collectMs: 200, phaseTimeoutMs: 2000, roundTimeoutMs: 4000, maxParams: 4096 } });
    procs.push(...(await Promise.all(fed.regions.map((r) => startNodeProcess(fed, r.id)))));
    await waitConnected(fed);
    const eu = fed.regions.find((r) => r.id === 'eu')!;
    for (let done = 0, batch = 0; done < n; batch++) {
      const cases = fc.sample(httpCaseArb, { numRuns: Math.min(16, n - done), seed: seed + batch });
      await Promise.all(
        cases.map(async (c) => {
          try {
            checkReply(c, await sendRaw(eu.apiPort, requestBytes(c, eu.token), 1000), [eu.token, dir]);
          } catch (e) {
            note((e as Error).message);
          }
        }),
      );
      done += cases.length;
    }
    const euProc = procs.find((p) => p.region === 'eu')!;
    if (euProc.child.exitCode !== null) note(`the node exited with ${euProc.child.exitCode}`);
    else {
      await waitConnected(fed);
      const us = fed.regions.map((_, i) => Float32Array.from({ length: 64 }, (_, k) => (i + 1) * 0.01 * Math.cos(k)));
      const res = await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'after-soak', update: us[i]!, weight: 1, expect: 1 })));
      const wrong = res.some((r) => r.vector.some((v, k) => Math.abs(v - 0.02 * Math.cos(k)) > 1e-4));
      if (wrong) note('the round after the soak gave a wrong mean');
    }
  } catch (e) {
    note(`the soak itself failed: ${(e as Error).message}`);
  } finally {
    await Promise.all(procs.map((p) => stopNode(p)));
    await rm(dir, { recursive: true, force: true });
  }
  return { target: 'trainer API (raw HTTP to a live node)', inputs: n, findings, seconds: (performance.now() - t0) / 1000, first: [...first] };
}

const lines: Line[] = [
  runPure(wireTarget, opt('wire', 100_000)),
  runPure(wireRoundTripTarget, opt('roundtrip', 20_000)),
  runPure(handshakeTarget, opt('handshake', 20_000)),
  runPure(channelTarget, opt('channel', 20_000)),
  await runHttp(opt('http', 5_000)),
];
for (const l of lines) {
  console.log(`${l.target.padEnd(44)} inputs ${String(l.inputs).padStart(7)}  findings ${String(l.findings).padStart(4)}  ${l.seconds.toFixed(1)} s`);
  for (const f of l.first) console.log(`    ${f}`);
}
const total = lines.reduce((s, l) => s + l.inputs, 0);
const found = lines.reduce((s, l) => s + l.findings, 0);
console.log(`summary: ${total} inputs, ${found} findings, seed ${seed}`);
process.exitCode = found ? 1 : 0;
