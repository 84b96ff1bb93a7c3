/**
 * Bounded memory per node, against real node processes started with `--memory-budget 64MiB`:
 * 30 rounds of distinct sizes (whose vectors together are more than twice the budget) and 100
 * header-only uploads (headers announcing a large body, then the socket closed or left hanging)
 * leave every node's WASM memory within the budget and nothing reserved; the uploads that do not
 * fit are refused at once with RESOURCE_MEMORY_BUDGET (503), counted in /metrics; legitimate
 * rounds afterwards succeed. Needs the built CLI (npm test builds it first).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, waitConnected, type LocalFederation, type LocalRegion } from '../src/node/local-federation.js';
import { roundMemoryBytes } from '../src/protocol/memory/budget.js';
import { useFederations } from './support/federation.js';
import { metric } from './support/leaks.js';
import { rawExchange } from './support/raw-http.js';

const fx = useFederations('mpc-node-memory-');
const IDS = ['apac', 'eu', 'us'];
const BUDGET = 64 * 1024 * 1024;

interface Status { roundsInFlight: unknown[]; uploadsPending: unknown[]; memory: { budget: number; reserved: number; wasm: number; wasmInUse: number } }

async function status(r: LocalRegion): Promise<Status> {
  return (await (await fetch(`${r.api}/v1/status`, { headers: { authorization: `Bearer ${r.token}` } })).json()) as Status;
}

/** The process's resident set (VmRSS of /proc/PID/status), bytes. */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** Headers of an upload announcing `bytes` of body, then nothing: the socket is closed (`hangUp`) or left open. Resolves with the reply's status line. */
function headersOnly(r: LocalRegion, round: string, bytes: number, hangUp: boolean): Promise<string> {
  const u = new URL(r.api);
  const head = `POST /v1/aggregate?round=${round}&weight=1&reduce=sum HTTP/1.1\r\nhost: ${u.host}\r\nauthorization: Bearer ${r.token}\r\ncontent-type: application/octet-stream\r\ncontent-length: ${bytes}\r\n\r\n`;
  return rawExchange(r.api, head, { keepOpen: !hangUp }).then((reply) => reply.split('\r\n')[0]!);
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const update = (n: number, k: number): Float32Array => Float32Array.from({ length: n }, (_, i) => ((i % 7) + k) / 8);

async function round(fed: LocalFederation, id: string, n: number): Promise<void> {
  const res = await Promise.all(fed.regions.map((r, k) => aggregateDetailed({ node: r.api, token: r.token, round: id, update: update(n, k), reduce: 'sum', expect: 1 })));
  for (const r of res) {
    expect(r.contributors).toEqual(IDS);
    expect(r.vector.length).toBe(n);
    expect(r.vector[1]).toBeCloseTo((3 * 1 + 0 + 1 + 2) / 8, 4); // element 1: sum over k of (1 + k) / 8
  }
}

describe('bounded memory per node (--memory-budget)', () => {
  it('30 rounds of distinct sizes and 100 header-only uploads stay within the budget; legitimate rounds still succeed', async () => {
    const fed = await fx.federation(IDS, { threshold: 2, round: { maxParams: 2_000_000, clipL2: 1e9, maxWeight: 10, collectMs: 2000, phaseTimeoutMs: 10_000, roundTimeoutMs: 60_000 } });
    const procs = await Promise.all(IDS.map((id) => startNodeProcess(fed, id, {}, [], ['--memory-budget', '64MiB', '--body-timeout-ms', '500'])));
    fx.procs.push(...procs);
    await waitConnected(fed);
    const pid = (id: string) => procs.find((p) => p.region === id)!.child.pid!;
    const rssAtStart = new Map(IDS.map((id) => [id, rss(pid(id))]));

    // 30 distinct sizes, 10k .. ~390k parameters, in a mixed order: their round memory adds up to
    // more than twice the budget (the old exact-size free lists kept all of it)
    const sizes = Array.from({ length: 30 }, (_, i) => 10_000 + ((i * 17) % 30) * 13_001);
    expect(new Set(sizes).size).toBe(30);
    expect(sizes.reduce((n, p) => n + roundMemoryBytes(p, 3), 0)).toBeGreaterThan(2 * BUDGET);
    for (const [i, n] of sizes.entries()) await round(fed, `size-${i}`, n);
    const largest = Math.max(...sizes);
    for (const r of fed.regions) {
      const s = await status(r);
      expect(s.memory.budget).toBe(BUDGET);
      // reused across sizes: linear memory is about one round's worth, not the sum of all
      expect(s.memory.wasm).toBeLessThanOrEqual(roundMemoryBytes(largest, 3) + 4 * 1024 * 1024);
    }

    // 100 header-only uploads at eu, each announcing 1.5M values (a round of ~24 MiB): closed at
    // once or left hanging until the body timeout; those beyond the budget are refused at once
    const eu = fed.regions.find((r) => r.id === 'eu')!;
    const wasmBefore = (await status(eu)).memory.wasm;
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => headersOnly(eu, `hdr-${i % 40}`, 4 * 1_500_000, i % 2 === 0)));
    const statuses = replies.map((l) => Number(/^HTTP\/1\.1 (\d{3})/.exec(l)?.[1] ?? 0));
    for (const s of statuses) expect([400, 408, 503]).toContain(s);
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    const m = await (await fetch(`${eu.api}/metrics`, { headers: { authorization: `Bearer ${eu.token}` } })).text();
    expect(metric(m, 'mpc_node_memory_budget_refusals_total', { source: 'trainer' })).toBe(statuses.filter((s) => s === 503).length);
    // none of them opened a round or left memory reserved
    await until('eu holds no pending upload', async () => (await status(eu)).uploadsPending.length === 0);
    const after = await status(eu);
    expect([after.roundsInFlight, after.memory.reserved, after.memory.wasmInUse]).toEqual([[], 0, 0]);
    expect(after.memory.wasm).toBe(wasmBefore); // a body that never came allocated nothing
    for (const i of [0, 1, 39]) expect((await fetch(`${eu.api}/transcripts/hdr-${i}`)).status).toBe(404);

    // legitimate rounds afterwards succeed, the largest the budget allows among them
    await round(fed, 'after-1', 1_500_000);
    await round(fed, 'after-2', 333_333);
    for (const r of fed.regions) {
      const s = await status(r);
      expect(s.memory.wasm).toBeLessThanOrEqual(BUDGET);
      expect(s.memory.reserved).toBe(0);
      // the process as a whole: what it had at start plus at most the budget
      expect(rss(pid(r.id))).toBeLessThanOrEqual(rssAtStart.get(r.id)! + BUDGET + 64 * 1024 * 1024);
    }
  }, 180_000);
});
