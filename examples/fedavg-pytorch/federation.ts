/**
 * A federation of real node processes for the Python examples and tests: writes a local
 * federation into a fresh temp folder, starts one `mpc-node` process per region, waits until
 * they are connected, prints one JSON line `{"dir","config","regions":[{"id","api","tokenFile","pid"}]}`
 * and keeps them running until its stdin closes (the Python side exits) or SIGTERM/SIGINT, then
 * stops them and removes the folder (secret keys, API tokens).
 *
 *   npm run build && node dist/examples/fedavg-pytorch/federation.js [--regions eu,us,apac] [--threshold 2] [--round JSON]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type NodeProcess } from '../../src/node/local-federation.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const ids = arg('--regions', 'eu,us,apac').split(',');
const threshold = Number(arg('--threshold', '2'));
const round = JSON.parse(arg('--round', '{}')) as Record<string, unknown>;
const dir = await mkdtemp(join(tmpdir(), 'mpc-node-fedavg-'));
const nodes: NodeProcess[] = [];
let stopping: Promise<void> | undefined;
const stop = (): Promise<void> =>
  (stopping ??= (async () => {
    await Promise.all(nodes.map((n) => stopNode(n)));
    await rm(dir, { recursive: true, force: true });
  })());
process.once('SIGTERM', () => void stop().then(() => process.exit(0)));
process.once('SIGINT', () => void stop().then(() => process.exit(0)));
try {
  const fed = await writeLocalFederation(dir, ids, { threshold, round });
  nodes.push(...(await Promise.all(fed.regions.map((r) => startNodeProcess(fed, r.id)))));
  await waitConnected(fed);
  const regions = fed.regions.map((r, i) => ({ id: r.id, api: r.api, tokenFile: join(r.dataDir, 'api-token'), pid: nodes[i]!.child.pid }));
  process.stdout.write(JSON.stringify({ dir, config: fed.config, regions }) + '\n');
} catch (e) {
  process.stderr.write(`federation.ts: ${(e as Error).message}\n`);
  await stop();
  process.exit(1);
}
process.stdin.resume();
process.stdin.once('end', () => void stop().then(() => process.exit(0)));
process.stdin.once('close', () => void stop().then(() => process.exit(0)));
