/**
 * Memory benchmark: the resident memory of real node processes after rounds of many distinct
 * sizes and a burst of header-only uploads (headers announcing a large body, then the socket
 * closed or left hanging until the body timeout).
 *
 *   npm run bench:memory                 readable table
 *   npm run bench:memory -- --json       one JSON object
 *   options: --budget SIZE (passed as `mpc-node start --memory-budget`, default 256MiB),
 *            --no-budget (start the nodes without the flag: their default budget, or a build
 *            that has none), --sizes N (distinct round sizes, default 30), --max-params N
 *            (largest round, default 5e5), --headers N (header-only uploads, default 100),
 *            --header-params N (values each of them announces, default 1.5e6)
 *
 * Three node processes (t = 2). Each round: one trainer per region, `expect: 1`. The sizes run
 * from 10k to --max-params in a mixed order. The header-only uploads all go to one node (eu),
 * for 40 round ids, half closed right after their headers, half left hanging (body timeout
 * 500 ms). Figures per node: VmRSS (/proc/PID/status) at start, after the rounds, and after the
 * uploads have settled (2 s after the last reply), VmHWM (the peak), and from GET /v1/status
 * the WASM memory and the bytes reserved against the budget, where the build reports them.
 * @module
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type LocalRegion, type NodeProcess } from '../src/node/local-federation.js';
import { argValue } from './support.js';

const MiB = 1024 * 1024;
const IDS = ['apac', 'eu', 'us'];


async function procMiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Math.round((Number(m![1]) / 1024) * 10) / 10;
}

async function memoryStatus(r: LocalRegion): Promise<{ budget: number; reserved: number; wasm: number } | null> {
  const s = (await (await fetch(`${r.api}/v1/status`, { headers: { authorization: `Bearer ${r.token}` } })).json()) as { memory?: { budget: number; reserved: number; wasm: number } };
  return s.memory ?? null;
}

/** Headers of an upload announcing `bytes` of body, then nothing; resolves with the reply's status code (0: none). */
function headersOnly(r: LocalRegion, round: string, bytes: number, hangUp: boolean): Promise<number> {
  const u = new URL(r.api);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('error', () => resolve(0));
    s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(Buffer.concat(parts).toString('latin1'))?.[1] ?? 0)));
    s.write(`POST /v1/aggregate?round=${round}&weight=1&reduce=sum HTTP/1.1\r\nhost: ${u.host}\r\nauthorization: Bearer ${r.token}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${bytes}\r\n\r\n`);
    if (hangUp) s.end();
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const budget = argv.includes('--no-budget') ? null : (argValue(argv, 'budget') ?? '256MiB');
  const nSizes = Number(argValue(argv, 'sizes') ?? 30);
  const maxParams = Number(argValue(argv, 'max-params') ?? 5e5);
  const nHeaders = Number(argValue(argv, 'headers') ?? 100);
  const headerParams = Number(argValue(argv, 'header-params') ?? 1.5e6);
  const dir = await mkdtemp(join(tmpdir(), 'mpc-bench-memory-'));
  const procs: NodeProcess[] = [];
  try {
    const fed = await writeLocalFederation(dir, IDS, { threshold: 2, round: { clipL2: 1e4, maxWeight: 10, collectMs: 2000, phaseTimeoutMs: 5000, roundTimeoutMs: 60_000, maxParams: Math.max(maxParams, headerParams) } });
    const flags = ['--body-timeout-ms', '500', ...(budget ? ['--memory-budget', budget] : [])];
    procs.push(...(await Promise.all(IDS.map((id) => startNodeProcess(fed, id, {}, [], flags)))));
    await waitConnected(fed);
    const pid = (id: string): number => procs.find((p) => p.region === id)!.child.pid!;
    const snap = async (): Promise<Record<string, number>> => Object.fromEntries(await Promise.all(IDS.map(async (id) => [id, await procMiB(pid(id), 'VmRSS')] as const)));
    const rssStart = await snap();

    const step = Math.max(1, Math.floor((maxParams - 10_000) / Math.max(1, nSizes - 1)));
    const sizes = Array.from({ length: nSizes }, (_, i) => 10_000 + ((i * 17) % nSizes) * step);
    const t0 = Date.now();
    for (const [i, n] of sizes.entries()) {
      await Promise.all(fed.regions.map((r, k) => aggregateDetailed({ node: r.api, token: r.token, round: `size-${i}`, update: Float32Array.from({ length: n }, (_, j) => ((j % 7) + k) / 8), reduce: 'sum', expect: 1 })));
    }
    const roundsS = (Date.now() - t0) / 1000;
    const rssRounds = await snap();
    const statusRounds = Object.fromEntries(await Promise.all(fed.regions.map(async (r) => [r.id, await memoryStatus(r)] as const)));

    const eu = fed.regions.find((r) => r.id === 'eu')!;
    const codes = await Promise.all(Array.from({ length: nHeaders }, (_, i) => headersOnly(eu, `hdr-${i % 40}`, 4 * headerParams, i % 2 === 0)));
    await new Promise((res) => setTimeout(res, 2000));
    const rssHeaders = await snap();
    const hwm = Object.fromEntries(await Promise.all(IDS.map(async (id) => [id, await procMiB(pid(id), 'VmHWM')] as const)));
    const statusHeaders = Object.fromEntries(await Promise.all(fed.regions.map(async (r) => [r.id, await memoryStatus(r)] as const)));
    const byCode: Record<string, number> = {};
    for (const c of codes) byCode[c] = (byCode[c] ?? 0) + 1;

    const out = {
      budget, sizes: nSizes, max_params: maxParams, headers: nHeaders, header_params: headerParams, rounds_seconds: roundsS,
      rss_mib: { start: rssStart, after_rounds: rssRounds, after_headers: rssHeaders, peak: hwm },
      status_memory_after_rounds: statusRounds, status_memory_after_headers: statusHeaders, header_replies: byCode,
    };
    if (json) {
      console.log(JSON.stringify(out));
      return;
    }
    const mib = (b: number | undefined): string => (b === undefined ? '-' : (b / MiB).toFixed(1));
    console.log(`budget ${budget ?? '(none given)'}; ${nSizes} rounds of distinct sizes 10k..${maxParams} in ${roundsS.toFixed(1)} s; ${nHeaders} header-only uploads of ${headerParams} values at eu: replies ${JSON.stringify(byCode)}`);
    console.log('node | RSS start MiB | after rounds | after uploads | peak (VmHWM) | WASM after rounds MiB | WASM after uploads | reserved after uploads | budget MiB');
    for (const id of IDS) {
      const a = statusRounds[id];
      const b = statusHeaders[id];
      console.log(`${id} | ${rssStart[id]} | ${rssRounds[id]} | ${rssHeaders[id]} | ${hwm[id]} | ${mib(a?.wasm)} | ${mib(b?.wasm)} | ${mib(b?.reserved)} | ${mib(b?.budget)}`);
    }
  } finally {
    await Promise.all(procs.map((p) => stopNode(p)));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
