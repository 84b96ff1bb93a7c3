/**
 * A node that cannot serve exits non-zero, and one live node holds a data directory: real node
 * processes, a real kill -9, real listeners in the way. Needs the built CLI (npm test builds it).
 */
import { createServer, type Server } from 'node:net';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startNodeProcess, waitConnected } from '../src/node/local-federation.js';
import { LOCK_FILE } from '../src/config/data-dir-lock.js';
import { useFederations } from './support/federation.js';

const blockers: Server[] = [];
const fx = useFederations('mpc-node-startup-', async () => {
  await Promise.all(blockers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function block(port: number): Promise<void> {
  const s = createServer();
  blockers.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve());
  });
}

const federation = () => fx.federation(['apac', 'eu', 'us'], { threshold: 2 });

describe('node start-up', () => {
  it('refuses a second node on a data directory a live node holds, and the first keeps its links', async () => {
    const fed = await federation();
    await fx.start(fed);
    await waitConnected(fed);
    const eu = fed.regions[1]!;
    const lock = join(eu.dataDir, LOCK_FILE);
    expect(existsSync(lock)).toBe(true);
    // another peer port, so only the lock can stop it
    const second = startNodeProcess(fed, 'eu', {}, [], ['--peer-listen', '127.0.0.1:0']);
    await expect(second).rejects.toThrow(/exited with 1 before listening: mpc-node: data directory .* is in use by another node \(pid \d+/);
    const first = fx.procs.find((p) => p.region === 'eu')!;
    await new Promise((r) => setTimeout(r, 300));
    expect(first.logs.filter((l) => l.event === 'link-replaced' || l.event === 'peer-replaced')).toEqual([]);
    expect((await fetch(`${eu.api}/healthz`)).status).toBe(200);
    // kill -9 leaves the lock behind: it is stale, and the next start takes it over
    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(lock)).toBe(true);
    fx.procs.splice(fx.procs.indexOf(first), 1);
    await fx.start(fed, ['eu']);
    await waitConnected(fed);
    // a clean stop releases it
    const again = fx.procs.find((p) => p.region === 'eu')!;
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
    expect(existsSync(lock)).toBe(false);
  }, 60_000);

  it('exits non-zero, naming the address, when the trainer API port is taken', async () => {
    const fed = await federation();
    const eu = fed.regions[1]!;
    await block(eu.apiPort);
    await expect(startNodeProcess(fed, 'eu')).rejects.toThrow(new RegExp(`exited with 1 before listening: mpc-node: cannot listen for the trainer API on 127\\.0\\.0\\.1:${eu.apiPort}: the address is in use`));
    // and leaves its data directory free
    expect(existsSync(join(eu.dataDir, LOCK_FILE))).toBe(false);
  }, 60_000);

  it('exits non-zero, naming the address, when the peer port is taken', async () => {
    const fed = await federation();
    const eu = fed.regions[1]!;
    await block(eu.peerPort);
    await expect(startNodeProcess(fed, 'eu')).rejects.toThrow(new RegExp(`exited with 1 before listening: mpc-node: cannot listen for peers on 127\\.0\\.0\\.1:${eu.peerPort}: the address is in use`));
  }, 60_000);
});
