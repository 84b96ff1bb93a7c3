/**
 * Scaffolding of the multi-process tests: local federations in fresh temp dirs and the node
 * processes started on them, all torn down after every test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { startNodeProcess, stopNode, writeLocalFederation, type LocalFederation, type NodeProcess } from '../../src/node/local-federation.js';

export type FederationOptions = Parameters<typeof writeLocalFederation>[2];

export interface Federations {
  /** Every node process started in the current test (started ones are pushed here). */
  readonly procs: NodeProcess[];
  /** A local federation in a fresh temp dir named `<prefix>XXXXXX`, removed after the test. */
  federation(ids: string[], opts: FederationOptions): Promise<LocalFederation>;
  /** Starts the nodes of `ids` (default: every region) in parallel; env per region id. */
  start(fed: LocalFederation, ids?: string[], envOf?: (id: string) => Record<string, string>): Promise<void>;
  /** Stops every node process started so far and forgets it. */
  stopAll(): Promise<void>;
}

/**
 * Registers an afterEach that stops every tracked node process, then runs `cleanup` (if given),
 * then removes every temp dir.
 */
export function useFederations(prefix: string, cleanup?: () => Promise<void>): Federations {
  const procs: NodeProcess[] = [];
  const dirs: string[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(procs.splice(0).map((p) => stopNode(p)));
  };

  afterEach(async () => {
    await stopAll();
    if (cleanup) await cleanup();
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  return {
    procs,
    async federation(ids, opts) {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(dir);
      return writeLocalFederation(dir, ids, opts);
    },
    async start(fed, ids = fed.regions.map((r) => r.id), envOf = () => ({})) {
      const started = await Promise.all(ids.map((id) => startNodeProcess(fed, id, envOf(id))));
      procs.push(...started);
    },
    stopAll,
  };
}
