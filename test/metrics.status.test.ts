/**
 * `mpc-node status` against real node processes on 127.0.0.1 (run in-process through main()):
 * peers, rounds and counters as the node reports them, tokens from every source, errors.
 */
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateDetailed } from '../src/client/index.js';
import { main } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/io.js';
import { formatStatus } from '../src/cli/status.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type LocalFederation, type NodeProcess } from '../src/node/local-federation.js';

let fed: LocalFederation;
let dir: string;
const nodes: NodeProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpc-status-'));
  fed = await writeLocalFederation(dir, ['eu', 'us'], { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 10, collectMs: 500 } });
  for (const r of fed.regions) nodes.push(await startNodeProcess(fed, r.id));
  await waitConnected(fed);
  // one finished round, so that the counters have something to show
  await Promise.all(fed.regions.map((r, i) => aggregateDetailed({ node: r.api, token: r.token, round: 'status-1', update: Float32Array.of(i, 1), expect: 1 })));
}, 60_000);
afterAll(async () => {
  await Promise.all(nodes.map((n) => stopNode(n)));
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env };
  return { code: await main(argv, io), stdout, stderr };
}

describe('mpc-node status (real nodes)', () => {
  it('prints the region, policy digest, peers, rounds in flight and counters', async () => {
    const eu = fed.regions[0]!;
    const r = await run(['status', '--node', eu.api, '--token', eu.token]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('region          eu (federation local-demo)');
    expect(r.stdout).toMatch(/policy digest   [0-9a-f]{64} \(must be equal on every node\)/);
    expect(r.stdout).toContain('peers connected 1: us');
    expect(r.stdout).toContain('rounds in flight 0');
    expect(r.stdout).toMatch(/roundsDone +1/);
    expect(r.stdout).toMatch(/roundsAborted +0/);
    expect(r.stdout).not.toContain(eu.token);
  });
  it('prints the node\'s JSON unchanged with --json, with the same policy digest on every node', async () => {
    const answers = await Promise.all(fed.regions.map(async (x) => JSON.parse((await run(['status', '--node', x.api, '--token', x.token, '--json'])).stdout) as Record<string, unknown>));
    expect(answers.map((a) => a.region)).toEqual(['eu', 'us']);
    expect(answers[0]!.policyDigest).toBe(answers[1]!.policyDigest);
    expect(answers[0]!.roundsDone).toBe(1);
  });
  it('finds the node from the federation file and takes the token from the data directory or MPC_API_TOKEN', async () => {
    const us = fed.regions[1]!;
    const byRegion = await run(['status', '--region', 'us', '--config', fed.config, '--data-dir', us.dataDir]);
    expect(byRegion.code, byRegion.stderr).toBe(0);
    expect(byRegion.stdout).toContain('region          us');
    expect((await run(['status', '--node', us.api], { MPC_API_TOKEN: us.token })).code).toBe(0);
  });
  it('says when the token is wrong, without echoing it', async () => {
    const r = await run(['status', '--node', fed.regions[0]!.api, '--token', 'b'.repeat(64)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('401 API_UNAUTHORIZED');
    expect(r.stderr).toContain('wrong token');
    expect(r.stderr).not.toContain('b'.repeat(64));
  });
  it('says when the node cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const addr = closed.address();
    await new Promise<void>((r) => closed.close(() => r()));
    const r = await run(['status', '--node', `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 1}`, '--token', 'a'.repeat(64)]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the node at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(is it running\?/);
  });
  it('reports usage errors', async () => {
    expect((await run(['status'])).stderr).toContain('needs exactly one of --region ID (with the federation file) and --node URL');
    expect((await run(['status', '--node', fed.regions[0]!.api])).stderr).toContain('needs --token TOKEN, MPC_API_TOKEN or --data-dir DIR');
    expect((await run(['status', '--node', 'ftp://x'])).code).toBe(2);
  });
  it('formatStatus skips what it does not know', () => {
    expect(formatStatus({})).toBe('\n');
    expect(formatStatus({ peersConnected: [] })).toBe('peers connected 0\n');
  });
});
