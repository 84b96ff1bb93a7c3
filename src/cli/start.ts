/**
 * `mpc-node --region ID [--config PATH] [--data-dir DIR] [--key PATH] [--peer-listen HOST:PORT]
 * [--tls-cert PATH --tls-key PATH [--tls-client-ca PATH]] [--memory-budget SIZE]`:
 * runs a region's node until SIGINT/SIGTERM. Prints one JSON line per event on stdout (no secrets).
 * @module
 */
import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { pruneTranscripts } from './prune.js';
import { createLogger } from '../node/logger.js';
import { loadFederation } from '../config/federation.js';
import { regionById } from '../federation/index.js';
import { defaultDataDir, ensureApiToken, ensureNodeDirs, ensureTrainerIdKey } from '../config/node-files.js';
import { CredentialStore } from '../node/credentials.js';
import { loadKernels } from '../field/node.js';
import { RegionNode } from '../node/region-node.js';
import { enableGcPacing } from '../node/gc-pacer.js';
import { TrainerApi } from '../node/trainer-api.js';
import { ServerTls, type TlsPaths } from '../node/tls.js';
import { loadIdentity } from '../transport/identity.js';
import { type Parsed, UsageError } from './args.js';
import { lockDataDir } from '../config/data-dir-lock.js';
import { ConfigError, MpcError } from '../errors.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

/** Runs a node until SIGINT/SIGTERM (the hook of `mpc-node start`, see ./main.ts). @returns exit code. */
export async function run({ opts }: Parsed<SpecOf<'start'>>, _io: CliIo): Promise<number> {
  const region = opts.region;
  // before any round: I/O buffers are collected by bytes moved (src/node/gc-pacer.ts)
  const gcPaced = enableGcPacing();
  const listenFlag = opts['peer-listen'];
  const peerListen = listenFlag === undefined ? undefined : parseHostPort(listenFlag);
  const bodyTimeoutMs = opts['body-timeout-ms'] === undefined ? undefined : positiveInt(opts['body-timeout-ms'], '--body-timeout-ms');
  const memoryBudgetBytes = opts['memory-budget'] === undefined ? undefined : parseSize(opts['memory-budget'], '--memory-budget');
  const tlsPaths = tlsFlags(opts['tls-cert'], opts['tls-key'], opts['tls-client-ca']);
  const configPath = opts.config;
  const federation = await loadFederation(configPath);
  const federationFile = await readFile(configPath, 'utf8'); // served as is at GET /federation
  const me = regionById(federation, region);
  const paths = await ensureNodeDirs(opts['data-dir'] ?? defaultDataDir(region));
  // one live node per data directory (its identity and transcripts): refused before anything starts
  const unlock = await lockDataDir(paths.dataDir);
  try {
    return await serve(opts, { federation, federationFile, me, paths, peerListen, bodyTimeoutMs, memoryBudgetBytes, tlsPaths, gcPaced });
  } finally {
    await unlock();
  }
}

interface Prepared {
  federation: Awaited<ReturnType<typeof loadFederation>>;
  federationFile: string;
  me: ReturnType<typeof regionById>;
  paths: Awaited<ReturnType<typeof ensureNodeDirs>>;
  peerListen: { host: string; port: number } | undefined;
  bodyTimeoutMs: number | undefined;
  memoryBudgetBytes: number | undefined;
  tlsPaths: TlsPaths | undefined;
  gcPaced: boolean;
}

/** Runs the node of a locked data directory until SIGINT/SIGTERM. */
async function serve(opts: Parsed<SpecOf<'start'>>['opts'], { federation, federationFile, me, paths, peerListen, bodyTimeoutMs, memoryBudgetBytes, tlsPaths, gcPaced }: Prepared): Promise<number> {
  const region = opts.region;
  const identity = await loadIdentity(opts.key ?? paths.identity);
  const token = await ensureApiToken(paths.dataDir);
  const level = process.env.MPC_LOG_LEVEL as Parameters<typeof createLogger>[0]['level'];
  const logger = createLogger({ region, ...(level ? { level } : {}) });
  const log = logger.eventSink;
  const tls = tlsPaths ? await ServerTls.load(tlsPaths, log) : undefined;
  // without it the node works, with more memory and CPU per round (bench/RESULTS.md "Round")
  if (!gcPaced) log({ event: 'gc-pacing-unavailable', reason: 'this runtime refused --expose-gc at run time' });
  // MPC_TEST_DUMP_DECRYPTED=FILE: the leak test's view of every decrypted peer message (hex lines
  // "from <hex>"). A test hook only: it writes received share chunks to disk.
  const dump = process.env.MPC_TEST_DUMP_DECRYPTED;
  const onDecrypted = dump ? (from: string, pt: Uint8Array) => appendFileSync(dump, `${from} ${Buffer.from(pt.buffer, pt.byteOffset, pt.byteLength).toString('hex')}\n`) : undefined;
  // MPC_TEST_FAULT=exit-after-deal: the multi-process tests' "node dies right after dealing"
  const fault = process.env.MPC_TEST_FAULT;
  // MPC_TEST_FAULT=corrupt-share:<region> / corrupt-aggregate: a cheating dealer / holder (version 2)
  const testFaults =
    fault === 'exit-after-deal' ? { afterDeal: () => void setTimeout(() => process.exit(0), 300) } // let the sockets flush
    : fault?.startsWith('corrupt-share:') ? { corruptShareTo: fault.slice('corrupt-share:'.length) }
    : fault === 'corrupt-aggregate' ? { corruptAggregate: true }
    : undefined;
  const node = new RegionNode({
    federation, identity, kernels: await loadKernels(), log, violation: logger.violation, transcriptsDir: paths.transcripts,
    ...(peerListen ? { peerListen } : {}), ...(memoryBudgetBytes !== undefined ? { memoryBudgetBytes } : {}),
    ...(testFaults ? { testFaults } : {}), ...(onDecrypted ? { onDecrypted } : {}),
  });
  // named credentials (reread on change) and the api-token, the node's shared operator credential
  const credentials = new CredentialStore({ path: paths.credentials, sharedToken: token, trainerIdKey: await ensureTrainerIdKey(paths.dataDir), log });
  const api = new TrainerApi({ node, credentials, log, host: me.api.host, port: me.api.port, transcriptsDir: paths.transcripts, federationFile, ...(bodyTimeoutMs !== undefined ? { bodyTimeoutMs } : {}), ...(tls ? { tls } : {}) });
  // a node that cannot serve exits non-zero: nothing keeps running half started
  let peerPort: number;
  let port: number;
  try {
    ({ peerPort } = await node.start());
    ({ port } = await api.start().catch((e: NodeJS.ErrnoException) => {
      throw e instanceof MpcError ? e : listenError(e, 'trainer API', `${me.api.host}:${me.api.port}`, 'regions[].api.port in the federation file');
    }));
  } catch (e) {
    await api.close();
    await node.close();
    throw e;
  }
  // retention: prune transcripts past policy.retention.transcriptDays at start and then periodically
  const days = federation.policy.retention.transcriptDays;
  let pruneTimer: NodeJS.Timeout | undefined;
  if (days !== null) {
    const everyMs = Number(process.env.MPC_PRUNE_INTERVAL_MS ?? 3_600_000);
    const prune = async (): Promise<void> => {
      try {
        const res = await pruneTranscripts(paths.transcripts, days, Date.now(), { dryRun: false });
        for (const f of res.removed) log({ event: 'transcript-pruned', file: f.file, endedAt: f.endedAt, ageDays: f.ageDays, retentionDays: days });
      } catch (e) {
        log({ event: 'prune-failed', reason: (e as Error).message });
      }
    };
    void prune();
    pruneTimer = setInterval(() => void prune(), Math.max(1000, everyMs));
    pruneTimer.unref();
  }
  log({ event: 'listening', peer: `${me.endpoint} (port ${peerPort})`, ...(peerListen ? { peerListen: `${peerListen.host}:${peerPort}` } : {}), api: `${tls ? 'https' : 'http'}://${me.api.host}:${port}`, ...(tls ? { tls: { certificate: tls.certificate, clientCertificates: tls.mutual } } : {}), tokenFile: paths.apiToken, dataDir: paths.dataDir });
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log({ event: 'stopping', signal: sig });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  if (pruneTimer) clearInterval(pruneTimer);
  await api.close();
  await node.close();
  log({ event: 'stopped' });
  return 0;
}

/**
 * `HOST:PORT` of --peer-listen: a hostname or IPv4 address, or an IPv6 address in brackets
 * (`[::1]:7101`); port 0..65535 (0: any free port, reported in the `listening` event).
 * @throws {UsageError} naming the flag and the expected form.
 */
export function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--peer-listen expects HOST:PORT (e.g. 127.0.0.1:7101 or [::1]:7101, port 0..65535), got ${JSON.stringify(s)}`);
  return { host: m[1] ?? m[2]!, port };
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 };

/**
 * A size flag's value in bytes: a number and an optional unit, B, KB/MB/GB (powers of 1000) or
 * KiB/MiB/GiB (powers of 1024), e.g. `2GiB`, `512MiB`, `1.5GB`; at least 1 MiB.
 * @throws {UsageError} naming the flag and the expected form.
 */
export function parseSize(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?b|b)?$/i.exec(s.trim());
  const bytes = m ? Math.floor(Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()]!) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1024 ** 2) throw new UsageError(`${flag} expects a size of at least 1MiB such as 2GiB, 512MiB or 1.5GB, got ${JSON.stringify(s.slice(0, 32))}`);
  return bytes;
}

/** The TLS files of the flags: none, or a certificate and its key (and maybe a client CA). @throws {UsageError} for half a set. */
function tlsFlags(cert: string | undefined, key: string | undefined, clientCa: string | undefined): TlsPaths | undefined {
  if (cert === undefined && key === undefined) {
    if (clientCa !== undefined) throw new UsageError('--tls-client-ca needs --tls-cert PATH and --tls-key PATH too (client certificates are asked for over HTTPS only)');
    return undefined;
  }
  if (cert === undefined) throw new UsageError('--tls-key needs --tls-cert PATH (the certificate of that key)');
  if (key === undefined) throw new UsageError('--tls-cert needs --tls-key PATH (the private key of that certificate)');
  return { cert, key, ...(clientCa !== undefined ? { clientCa } : {}) };
}

/** A flag's value as a whole number of at least 1. @throws {UsageError} otherwise. */
function positiveInt(s: string, flag: string): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} expects a whole number of at least 1, got ${JSON.stringify(s.slice(0, 32))}`);
  return n;
}

/** A listener that could not bind, as a config error that names the address and what to change. */
function listenError(e: NodeJS.ErrnoException, what: string, addr: string, knob: string): ConfigError {
  if (e.code === 'EADDRINUSE') return new ConfigError('CONFIG_ADDRESS_IN_USE', `cannot listen for the ${what} on ${addr}: the address is in use by another process (another node?); stop it or change ${knob}`);
  return new ConfigError('CONFIG_INVALID', `cannot listen for the ${what} on ${addr}: ${e.code ?? e.message}`);
}
