/**
 * A federation of real node processes for the Python examples and tests: writes a local
 * federation into a fresh temp folder, starts one `mpc-node` process per region, waits until
 * they are connected, prints one JSON line `{"dir","config","regions":[{"id","api","tokenFile","pid"}]}`
 * and keeps them running until its stdin closes (the Python side exits) or SIGTERM/SIGINT, then
 * stops them and removes the folder (secret keys, API tokens). `--node-args` gives regions more
 * `mpc-node start` flags, e.g. `{"eu":["--tls-cert","c.pem","--tls-key","c.key"]}`: such a
 * region's `api` is then `https://`, and the links are checked from the plain-HTTP regions (at
 * least one), each of which must see every other region.
 *
 *   npm run build && node dist/examples/fedavg-pytorch/federation.js [--regions eu,us,apac] [--threshold 2] [--round JSON] [--node-args JSON]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNodeProcess, stopNode, writeLocalFederation, type LocalFederation, type NodeProcess } from '../../src/node/local-federation.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const ids = arg('--regions', 'eu,us,apac').split(',');
const threshold = Number(arg('--threshold', '2'));
const round = JSON.parse(arg('--round', '{}')) as Record<string, unknown>;
const nodeArgs = JSON.parse(arg('--node-args', '{}')) as Record<string, string[]>;
const tls = (id: string): boolean => (nodeArgs[id] ?? []).includes('--tls-cert');
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
  nodes.push(...(await Promise.all(fed.regions.map((r) => startNodeProcess(fed, r.id, {}, [], nodeArgs[r.id] ?? [])))));
  await linked(fed);
  const regions = fed.regions.map((r, i) => ({ id: r.id, api: tls(r.id) ? `https://127.0.0.1:${r.apiPort}` : r.api, tokenFile: join(r.dataDir, 'api-token'), pid: nodes[i]!.child.pid }));
  process.stdout.write(JSON.stringify({ dir, config: fed.config, regions }) + '\n');
} catch (e) {
  process.stderr.write(`federation.ts: ${(e as Error).message}\n`);
  await stop();
  process.exit(1);
}
/** Waits until every plain-HTTP region's node has links to all other regions. */
async function linked(fed: LocalFederation): Promise<void> {
  const plain = fed.regions.filter((r) => !tls(r.id));
  if (plain.length === 0) throw new Error('--node-args: at least one region must serve plain HTTP on loopback');
  for (const deadline = Date.now() + 15_000; ; ) {
    const ok = await Promise.all(
      plain.map(async (r) => {
        const body = (await (await fetch(`${r.api}/healthz`)).json().catch(() => ({}))) as { peersConnected?: string[] };
        return fed.regions.every((o) => o.id === r.id || (body.peersConnected ?? []).includes(o.id));
      }),
    ).catch(() => [false]);
    if (ok.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error('nodes did not connect to each other in time');
    await new Promise((done) => setTimeout(done, 100));
  }
}

process.stdin.resume();
process.stdin.once('end', () => void stop().then(() => process.exit(0)));
process.stdin.once('close', () => void stop().then(() => process.exit(0)));
