/**
 * A whole federation on this machine, for the demo, the multi-process tests and the round
 * benchmark: writes keys, tokens and a federation file into a folder, starts one real node
 * process per region on loopback, and stops them.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureApiToken, ensureNodeDirs } from '../config/node-files.js';
import { generateIdentity, publicKeyHex, saveIdentity } from '../transport/identity.js';

export interface LocalRegion {
  id: string;
  dataDir: string;
  api: string;
  token: string;
  peerPort: number;
  apiPort: number;
}

export interface LocalFederation {
  dir: string;
  config: string;
  regions: LocalRegion[];
}

/** A free TCP port on 127.0.0.1 (asked from the OS; released before the node binds it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Writes identities, API tokens and a federation file for `ids` under `dir`. Each region's
 * jurisdiction is its id in upper case; `policy` becomes the file's policy section as given.
 */
export async function writeLocalFederation(dir: string, ids: string[], opts: { threshold: number; round?: Record<string, unknown>; policy?: Record<string, unknown> }): Promise<LocalFederation> {
  const regions: LocalRegion[] = [];
  const entries: Record<string, unknown>[] = [];
  // the OS may hand a just-released port out again: keep every port of this federation distinct
  const used = new Set<number>();
  const port = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!used.has(p)) {
        used.add(p);
        return p;
      }
    }
  };
  for (const id of ids) {
    const dataDir = join(dir, id);
    await ensureNodeDirs(dataDir);
    const identity = generateIdentity(id);
    await saveIdentity(join(dataDir, 'identity.json'), identity);
    const token = await ensureApiToken(dataDir);
    const peerPort = await port();
    const apiPort = await port();
    regions.push({ id, dataDir, api: `http://127.0.0.1:${apiPort}`, token, peerPort, apiPort });
    entries.push({ id, jurisdiction: id.toUpperCase(), endpoint: `ws://127.0.0.1:${peerPort}`, publicKey: publicKeyHex(identity), api: { host: '127.0.0.1', port: apiPort } });
  }
  const config = join(dir, 'federation.json');
  const fed = { federation: 'local-demo', version: 1, threshold: opts.threshold, regions: entries, round: { minContributors: Math.min(2, ids.length), ...(opts.round ?? {}) }, ...(opts.policy ? { policy: opts.policy } : {}) };
  await writeFile(config, JSON.stringify(fed, null, 2) + '\n');
  return { dir, config, regions };
}

/** The CLI entry, from src/node (tests run TS) or dist/src/node (installed). */
export function cliPath(): string {
  const here = fileURLToPath(import.meta.url);
  return here.endsWith('.ts') ? fileURLToPath(new URL('../../dist/src/cli/mpc-node.js', import.meta.url)) : fileURLToPath(new URL('../cli/mpc-node.js', import.meta.url));
}

export interface NodeProcess {
  region: string;
  child: ChildProcess;
  /** Every JSON log line the node printed so far. */
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
}

/**
 * Starts one node process and resolves once it listens.
 * @param args - More CLI flags for `mpc-node start`, e.g. `['--peer-listen', '127.0.0.1:7101']`.
 */
export function startNodeProcess(fed: LocalFederation, region: string, extraEnv: Record<string, string> = {}, execArgv: string[] = [], args: string[] = []): Promise<NodeProcess> {
  const r = fed.regions.find((x) => x.id === region)!;
  const child = spawn(process.execPath, [...execArgv, cliPath(), '--region', region, '--config', fed.config, '--data-dir', r.dataDir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...extraEnv },
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const e = JSON.parse(line) as Record<string, unknown>;
          logs.push(e);
          if (e.event === 'listening' && e.api !== undefined) resolve({ region, child, logs, exited }); // the node's, not its peer listener's
        } catch {
          /* not a log line */
        }
      }
    });
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    void exited.then((code) => reject(new Error(`node ${region} exited with ${code} before listening: ${stderr.trim().slice(0, 2000)}`)));
  });
}

/** Waits until every node reports links to all of its peers. */
export async function waitConnected(fed: LocalFederation, timeoutMs = 15_000, only?: string[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const live = only ? fed.regions.filter((r) => only.includes(r.id)) : fed.regions;
  for (;;) {
    const ok = await Promise.all(
      live.map(async (r) => {
        try {
          const res = await fetch(`${r.api}/healthz`);
          const body = (await res.json()) as { peersConnected: string[] };
          return live.every((o) => o.id === r.id || body.peersConnected.includes(o.id));
        } catch {
          return false;
        }
      }),
    );
    if (ok.every(Boolean)) return;
    if (Date.now() > deadline) throw new Error('nodes did not connect to each other in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function stopNode(p: NodeProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill(signal);
  const t = setTimeout(() => p.child.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}
