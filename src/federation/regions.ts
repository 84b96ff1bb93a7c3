/**
 * The rules of one `regions[i]` entry that are more than its shape (schema.ts): what a peer
 * endpoint may be, the public key being a point on the curve, and a non-loopback trainer API
 * needing allowRemoteTrainers; each refusal names the fix.
 * @module
 */
import { Ctx, describe, ed25519PointKind, join } from './check.js';
import { PLACEHOLDER_PREFIX, type Region } from './model.js';
import type { FederationFile } from './schema.js';

/** True for 127.0.0.0/8, ::1 and `localhost`: addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

const ENDPOINT_HINT = 'expected ws://host:port or wss://host:port, e.g. "wss://mpc.eu.example.com:7101"';

/** The explicit ":port" of an endpoint's text (URL drops the default 80/443 from .port). */
function explicitPort(v: string, url: URL): string | undefined {
  const authority = v.slice(url.protocol.length + 2).split('/')[0] ?? '';
  return /:(\d+)$/.exec(authority)?.[1];
}

/** The endpoint rule (the schema's refinement): undefined if `v` is a valid peer endpoint, else what is wrong and how to fix it. */
export function endpointProblem(v: string): string | undefined {
  if (v.startsWith(PLACEHOLDER_PREFIX)) return `still a placeholder: write this node's peer address; ${ENDPOINT_HINT}`;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return `${describe(v)} is not a URL; ${ENDPOINT_HINT}`;
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') return `scheme ${JSON.stringify(url.protocol.slice(0, -1))} is not allowed; ${ENDPOINT_HINT}`;
  if (url.username !== '' || url.password !== '') return 'must not contain user:password@; peers authenticate with their keys';
  if (url.search !== '' || url.hash !== '') return 'must not contain a ?query or #fragment';
  const port = explicitPort(v, url);
  if (port === undefined) return `${describe(v)} has no port; write it explicitly, e.g. "${url.protocol}//${url.hostname}:7101"`;
  if (Number(port) < 1 || Number(port) > 65535) return `port ${Number(port)} is out of range 1..65535`;
  return undefined;
}

/** Host and port of an endpoint that passed {@link endpointProblem}. */
function endpointAddress(v: string): { host: string; port: number } {
  const url = new URL(v);
  return { host: url.hostname, port: Number(explicitPort(v, url)) };
}

function checkPublicKey(ctx: Ctx, v: string, path: string, regionId: string): string {
  const hex = v.toLowerCase();
  const point = ed25519PointKind(hex);
  if (point === 'not-a-point') ctx.report(path, `is not a valid Ed25519 public key (not a point on the curve); copy it again from the output of 'mpc-node keygen --region ${regionId}'`);
  if (point === 'small-order') ctx.report(path, 'is a small-order Ed25519 point, which no honest key generator produces; run mpc-node keygen again');
  return hex;
}

/** One region after the schema pass, checked and normalized (hex lower-cased), with its endpoint's address. */
export function checkRegion(ctx: Ctx, r: FederationFile['regions'][number], path: string): Region & { endpointHost: string; endpointPort: number } {
  const publicKey = checkPublicKey(ctx, r.publicKey, join(path, 'publicKey'), r.id);
  const { host, port, allowRemoteTrainers } = r.api;
  if (!isLoopbackHost(host) && !allowRemoteTrainers) {
    ctx.report(
      join(path, 'api.host'),
      `${JSON.stringify(host)} is not a loopback address, so trainers on other machines could reach the API; ` +
        'use "127.0.0.1", or add "allowRemoteTrainers": true to this "api" object if that is intended',
    );
  }
  const ep = endpointAddress(r.endpoint);
  return { id: r.id, jurisdiction: r.jurisdiction, endpoint: r.endpoint, publicKey, api: { host, port, allowRemoteTrainers }, endpointHost: ep.host, endpointPort: ep.port };
}
