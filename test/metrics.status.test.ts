/**
 * `mpc-node status` against a stand-in for a node's trainer API on 127.0.0.1 (the answer has
 * the shape of RegionNode.status()), run in-process through main().
 */
import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import type { CliIo } from '../src/cli/io.js';
import { formatStatus } from '../src/cli/status.js';

const TOKEN = 'a'.repeat(64);
const STATUS = {
  region: 'eu',
  federation: 'acme-fl',
  peersConnected: ['apac', 'us'],
  roundsInFlight: [{ round: 'r-17', phase: 'deal', trainers: 3 }],
  roundsDone: 12,
  roundsAborted: 1,
  refusedMessages: 0,
  refusedConnections: 2,
  bytes: { bytesSent: { us: 1000, apac: 900 }, bytesReceived: { us: 800, apac: 700 }, refused: 2 },
};

let server: Server;
let url: string;
let dir: string;
const seenAuth: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    seenAuth.push(req.headers.authorization ?? '');
    if (req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'API_UNAUTHORIZED', message: 'missing or wrong bearer token' } }));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(STATUS));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  dir = await mkdtemp(join(tmpdir(), 'mpc-status-'));
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env };
  return { code: await main(argv, io), stdout, stderr };
}

describe('mpc-node status', () => {
  it('prints peers, rounds in flight and counters', async () => {
    const r = await run(['status', '--node', url, '--token', TOKEN]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('region          eu (federation acme-fl)');
    expect(r.stdout).toContain('peers connected 2: apac, us');
    expect(r.stdout).toContain('rounds in flight 1');
    expect(r.stdout).toContain('  r-17  phase deal  trainers 3');
    expect(r.stdout).toMatch(/roundsDone +12/);
    expect(r.stdout).toMatch(/refusedConnections +2/);
    expect(r.stdout).toContain('  us  1000 / 800');
    expect(r.stdout).not.toContain(TOKEN);
  });
  it('prints the JSON unchanged with --json', async () => {
    const r = await run(['status', '--node', url, '--token', TOKEN, '--json']);
    expect(JSON.parse(r.stdout)).toEqual(STATUS);
  });
  it('takes the token from MPC_API_TOKEN or the data directory', async () => {
    expect((await run(['status', '--node', url], { MPC_API_TOKEN: TOKEN })).code).toBe(0);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFile(join(dir, 'api-token'), `${TOKEN}\n`, { mode: 0o600 });
    const r = await run(['status', '--node', url, '--data-dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(seenAuth.at(-1)).toBe(`Bearer ${TOKEN}`);
  });
  it('says when the token is wrong, without echoing it', async () => {
    const r = await run(['status', '--node', url, '--token', 'b'.repeat(64)]);
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
    const r = await run(['status', '--node', `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 1}`, '--token', TOKEN]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot reach the node at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED \(is it running\?/);
  });
  it('reports usage errors', async () => {
    expect((await run(['status'])).stderr).toContain("needs exactly one of --region ID (with the federation file) and --node URL");
    expect((await run(['status', '--node', url])).stderr).toContain('needs --token TOKEN, MPC_API_TOKEN or --data-dir DIR');
    expect((await run(['status', '--node', 'ftp://x'])).code).toBe(2);
  });
  it('formatStatus skips what it does not know', () => {
    expect(formatStatus({})).toBe('\n');
    expect(formatStatus({ peersConnected: [] })).toBe('peers connected 0\n');
  });
});
