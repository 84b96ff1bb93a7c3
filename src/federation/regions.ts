/**
 * The reader of one `regions[i]` entry: id, jurisdiction, peer endpoint, public key and the
 * trainer API address, each checked with a fix in its message.
 * @module
 */
import { JURISDICTION_RE, JURISDICTION_RULE, REGION_ID_RE, REGION_ID_RULE } from '../core/ids.js';
import { boolean, Ctx, describe, ed25519PointKind, integer, join, object, required, string } from './check.js';
import { DEFAULT_API_HOST, PLACEHOLDER_PREFIX, type Region, type RegionApi } from './model.js';

const REGION_KEYS = ['id', 'jurisdiction', 'endpoint', 'publicKey', 'api'] as const;
const API_KEYS = ['host', 'port', 'allowRemoteTrainers'] as const;

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function parseEndpoint(ctx: Ctx, v: unknown, path: string): { text: string; host: string; port: number } {
  const hint = 'expected ws://host:port or wss://host:port, e.g. "wss://mpc.eu.example.com:7101"';
  if (typeof v !== 'string') ctx.fail(path, `${hint}, got ${describe(v)}`);
  if (v.startsWith(PLACEHOLDER_PREFIX)) ctx.fail(path, `still a placeholder: write this node's peer address; ${hint}`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    ctx.fail(path, `${describe(v)} is not a URL; ${hint}`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    ctx.fail(path, `scheme ${JSON.stringify(url.protocol.slice(0, -1))} is not allowed; ${hint}`);
  }
  if (url.username !== '' || url.password !== '') ctx.fail(path, 'must not contain user:password@; peers authenticate with their keys');
  if (url.search !== '' || url.hash !== '') ctx.fail(path, 'must not contain a ?query or #fragment');
  // URL drops the default port (80/443) from .port, so look for an explicit ":port" in the text.
  const authority = v.slice(url.protocol.length + 2).split('/')[0] ?? '';
  const m = /:(\d+)$/.exec(authority);
  if (m === null) ctx.fail(path, `${describe(v)} has no port; write it explicitly, e.g. "${url.protocol}//${url.hostname}:7101"`);
  const port = Number(m[1]);
  if (port < 1 || port > 65535) ctx.fail(path, `port ${port} is out of range 1..65535`);
  return { text: v, host: url.hostname, port };
}

function parsePublicKey(ctx: Ctx, v: unknown, path: string, regionId: string): string {
  const from = `an Ed25519 public key from 'mpc-node keygen --region ${regionId}'`;
  if (typeof v !== 'string') ctx.fail(path, `expected 64 hex characters (${from}), got ${describe(v)}`);
  if (v.startsWith(PLACEHOLDER_PREFIX)) {
    ctx.fail(
      path,
      `still the placeholder from 'mpc-node init': run 'mpc-node keygen --region ${regionId}' on the ${regionId} node and paste the publicKey it prints here`,
    );
  }
  if (v.length !== 64) ctx.fail(path, `expected 64 hex characters (${from}), got ${v.length}`);
  const bad = /[^0-9a-fA-F]/.exec(v);
  if (bad !== null) ctx.fail(path, `expected 64 hex characters (${from}), found ${JSON.stringify(bad[0])} at position ${bad.index}`);
  const hex = v.toLowerCase();
  const point = ed25519PointKind(hex);
  if (point === 'not-a-point') ctx.fail(path, `is not a valid Ed25519 public key (not a point on the curve); copy it again from the output of 'mpc-node keygen --region ${regionId}'`);
  if (point === 'small-order') ctx.fail(path, 'is a small-order Ed25519 point, which no honest key generator produces; run mpc-node keygen again');
  return hex;
}

function parseApi(ctx: Ctx, v: unknown, path: string): RegionApi {
  const o = object(ctx, v, path, API_KEYS);
  const host =
    o['host'] === undefined
      ? DEFAULT_API_HOST
      : string(ctx, o['host'], join(path, 'host'), /^[A-Za-z0-9.:[\]-]{1,253}$/, 'a host name or IP address, e.g. "127.0.0.1"');
  const port = integer(ctx, required(ctx, o, 'port', path, 'add "port": <1..65535>, the trainer API port of this node'), join(path, 'port'), 1, 65535);
  const allowRemoteTrainers = o['allowRemoteTrainers'] === undefined ? false : boolean(ctx, o['allowRemoteTrainers'], join(path, 'allowRemoteTrainers'));
  if (!isLoopbackHost(host) && !allowRemoteTrainers) {
    ctx.fail(
      join(path, 'host'),
      `${JSON.stringify(host)} is not a loopback address, so trainers on other machines could reach the API; ` +
        'use "127.0.0.1", or add "allowRemoteTrainers": true to this "api" object if that is intended',
    );
  }
  return { host, port, allowRemoteTrainers };
}

export function parseRegion(ctx: Ctx, v: unknown, path: string): Region & { endpointHost: string; endpointPort: number } {
  const o = object(ctx, v, path, REGION_KEYS);
  const id = string(
    ctx,
    required(ctx, o, 'id', path, 'add "id": "<region id>", e.g. "eu"'),
    join(path, 'id'),
    REGION_ID_RE,
    REGION_ID_RULE,
  );
  const jurisdiction = string(
    ctx,
    required(ctx, o, 'jurisdiction', path, 'add "jurisdiction": "<label>", e.g. "EU"'),
    join(path, 'jurisdiction'),
    JURISDICTION_RE,
    JURISDICTION_RULE,
  );
  const ep = parseEndpoint(ctx, required(ctx, o, 'endpoint', path, 'add "endpoint": "wss://host:port"'), join(path, 'endpoint'));
  const publicKey = parsePublicKey(
    ctx,
    required(ctx, o, 'publicKey', path, `add "publicKey": the hex key printed by 'mpc-node keygen --region ${id}'`),
    join(path, 'publicKey'),
    id,
  );
  const api = parseApi(ctx, required(ctx, o, 'api', path, 'add "api": { "host": "127.0.0.1", "port": <port> }'), join(path, 'api'));
  return { id, jurisdiction, endpoint: ep.text, publicKey, api, endpointHost: ep.host, endpointPort: ep.port };
}
