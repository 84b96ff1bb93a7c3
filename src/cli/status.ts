/**
 * `mpc-node status`: asks a running node for `GET /v1/status` (trainer API, bearer token) and
 * prints peers connected, rounds in flight and counters; `--json` prints the node's answer as is.
 *
 * The token comes from `--token`, the `MPC_API_TOKEN` environment variable, or the node's data
 * directory (`<dataDir>/api-token`, as trainers on the node's machine read it). It is sent only
 * in the Authorization header and never printed.
 * @module
 */
import { loadFederation } from '../config/federation.js';
import { regionById } from '../federation/index.js';
import { defaultDataDir, readApiToken } from '../config/node-files.js';
import { ConfigError } from '../errors.js';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

/** Milliseconds to wait for the node's answer. */
export const STATUS_TIMEOUT_MS = 5000;

/** Base URL of a region's trainer API from the federation file (a wildcard listen host is dialled on loopback). */
export function apiUrlOf(host: string, port: number): string {
  const h = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/**
 * Renders a status answer for people. The shape is RegionNode.status(); unknown or missing
 * fields are skipped, so an older or newer node still prints what it has.
 */
export function formatStatus(s: Record<string, unknown>): string {
  const lines: string[] = [];
  const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v));
  if (s['region'] !== undefined) lines.push(`region          ${str(s['region'])}${s['federation'] !== undefined ? ` (federation ${str(s['federation'])})` : ''}`);
  const peers = Array.isArray(s['peersConnected']) ? (s['peersConnected'] as unknown[]).map(str) : null;
  if (typeof s['policyDigest'] === 'string') lines.push(`policy digest   ${s['policyDigest']} (must be equal on every node)`);
  if (peers !== null) lines.push(`peers connected ${peers.length}${peers.length > 0 ? `: ${peers.join(', ')}` : ''}`);
  const rounds = Array.isArray(s['roundsInFlight']) ? (s['roundsInFlight'] as Record<string, unknown>[]) : null;
  if (rounds !== null) {
    lines.push(`rounds in flight ${rounds.length}`);
    for (const r of rounds) lines.push(`  ${str(r['round'])}  phase ${str(r['phase'])}  trainers ${str(r['trainers'])}`);
  }
  const counters = Object.entries(s).filter(([k, v]) => typeof v === 'number' && !['region', 'federation'].includes(k));
  if (counters.length > 0) {
    lines.push('counters');
    const w = Math.max(...counters.map(([k]) => k.length));
    for (const [k, v] of counters) lines.push(`  ${k.padEnd(w)}  ${str(v)}`);
  }
  const bytes = s['bytes'] as { bytesSent?: Record<string, number>; bytesReceived?: Record<string, number> } | undefined;
  if (bytes !== undefined && typeof bytes === 'object' && bytes !== null) {
    const ps = [...new Set([...Object.keys(bytes.bytesSent ?? {}), ...Object.keys(bytes.bytesReceived ?? {})])].sort();
    if (ps.length > 0) {
      lines.push('bytes           sent / received');
      for (const p of ps) lines.push(`  ${p}  ${bytes.bytesSent?.[p] ?? 0} / ${bytes.bytesReceived?.[p] ?? 0}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Runs `mpc-node status`. @returns exit code (1 if the node cannot be reached or refuses). */
export async function runStatus({ opts }: Parsed<SpecOf<'status'>>, io: CliIo): Promise<number> {
  const nodeFlag = opts.node;
  const region = opts.region;
  if ((nodeFlag === undefined) === (region === undefined)) throw new UsageError("'status' needs exactly one of --region ID (with the federation file) and --node URL");
  let base: string;
  if (nodeFlag !== undefined) {
    let u: URL;
    try {
      u = new URL(nodeFlag);
    } catch {
      throw new UsageError(`--node ${JSON.stringify(nodeFlag)} is not a URL: write e.g. http://127.0.0.1:7201`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--node must be an http:// or https:// URL, got ${u.protocol}`);
    base = u.origin;
  } else {
    const fed = await loadFederation(opts.config);
    const api = regionById(fed, region!).api;
    base = apiUrlOf(api.host, api.port);
  }
  const tokenFlag = opts.token;
  const dataDir = opts['data-dir'];
  if (tokenFlag !== undefined && dataDir !== undefined) throw new UsageError('give either --token or --data-dir, not both');
  let token = tokenFlag ?? (dataDir === undefined ? io.env['MPC_API_TOKEN'] : undefined);
  if (token === undefined) {
    if (dataDir === undefined && region === undefined) throw new UsageError("'status --node URL' needs --token TOKEN, MPC_API_TOKEN or --data-dir DIR for the API token");
    token = await readApiToken(dataDir ?? defaultDataDir(region!));
  }

  let res: Response;
  try {
    res = await fetch(`${base}/v1/status`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(STATUS_TIMEOUT_MS) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${STATUS_TIMEOUT_MS} ms` : (cause?.code ?? (err as Error).message);
    throw new ConfigError('CONFIG_INVALID', `cannot reach the node at ${base}: ${why} (is it running? check the api host and port)`, { cause: err });
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ConfigError('CONFIG_INVALID', `${base}/v1/status answered ${res.status} with something that is not JSON: is this an mpc-node API port?`);
  }
  if (!res.ok) {
    const e = (body as { error?: { code?: string; message?: string } }).error;
    const hint = res.status === 401 ? ' (wrong token: use the api-token file of this node)' : '';
    throw new ConfigError('CONFIG_INVALID', `${base}/v1/status: ${res.status} ${e?.code ?? ''} ${e?.message ?? ''}`.trim() + hint);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ConfigError('CONFIG_INVALID', `${base}/v1/status: expected a JSON object`);
  io.stdout(opts.json ? `${JSON.stringify(body)}\n` : formatStatus(body as Record<string, unknown>));
  return 0;
}
