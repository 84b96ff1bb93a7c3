/**
 * The federation file: who takes part (regions, endpoints, Ed25519 public keys), the Shamir
 * threshold, and the parameters every round runs with. Format and rules: docs/configuration.md.
 *
 * Parsing is strict, in this order: the exact key set at
 * every level (a typo must not silently do nothing), then each field's type and range, then the
 * cross-field rules (threshold vs. region count, unique ids/keys/endpoints, the fixed-point
 * overflow budget). The result is normalized (defaults filled in, hex lower-cased) and
 * deep-frozen, so every node that reads the same file gets the same {@link federationDigest}.
 *
 * This module is isomorphic (no top-level `node:*` import) so the browser verifier can parse a
 * federation file and recompute its digest; only {@link loadFederation} touches the disk.
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';
import { canonicalJson } from '../core/canonical-json.js';
import { FEDERATION_NAME_RE, FEDERATION_NAME_RULE, JURISDICTION_RE, JURISDICTION_RULE, MAX_PARTIES, REGION_ID_RE, REGION_ID_RULE } from '../core/ids.js';
import {
  DATA_CLASSIFICATIONS,
  defaultPolicy,
  GRANT_ID_RE,
  isDefaultPolicy,
  parseGrantTime,
  policyFeasibility,
  POLICY_DEFAULTS,
  SHARE_MATERIAL_ZEROIZE,
  verifyGrant,
  verifyGrantSignature,
  type DataClassification,
  type Grant,
  type GrantFlow,
  type Policy,
  type RegionPolicy,
} from '../policy/index.js';

/** The only federation file format version this build reads. */
export const FEDERATION_FILE_VERSION = 1;
/** Upper bound of `round.scaleBits` (fractional bits of the fixed-point encoding). */
export const MAX_SCALE_BITS = 40;
/**
 * The worst-case |sum| of one aggregated element must stay below 2^62: Goldilocks p is just
 * below 2^64, signed values live in (-p/2, p/2), and one more bit is kept as headroom for the
 * rounding of each encoded value (docs/field.md, "Fixed-point encoding and the overflow budget").
 */
export const OVERFLOW_BUDGET_LOG2 = 62;
/** `setTimeout` fires at once for delays above 2^31 - 1 ms (~24.8 days), so no timeout may exceed it. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Keys starting with this prefix are comments: ignored at every level and not part of the digest. */
export const COMMENT_KEY_PREFIX = '//';
/** Placeholder prefix `mpc-node init`/`keygen` write where a value must be filled in; refused with a hint. */
export const PLACEHOLDER_PREFIX = 'REPLACE-ME';
/** Domain-separation tag hashed in front of the canonical encoding (see {@link federationDigest}). */
export const FEDERATION_DIGEST_TAG = 'mpc-node/federation/v1\0';

export type ClipMode = 'clip' | 'reject';

/** The trainer-facing local API of one region's node. */
export interface RegionApi {
  /** Listen address; 127.0.0.1 by default. */
  readonly host: string;
  readonly port: number;
  /** Must be true to listen on a non-loopback host (trainers on other machines). */
  readonly allowRemoteTrainers: boolean;
}

export interface Region {
  /** Region id, {@link REGION_ID_RE}. */
  readonly id: string;
  /** Legal jurisdiction label, as used by the locality policy. */
  readonly jurisdiction: string;
  /** Peer endpoint, `ws://host:port` or `wss://host:port[/path]`. */
  readonly endpoint: string;
  /** Ed25519 public key, 64 lower-case hex characters (public: safe to print). */
  readonly publicKey: string;
  readonly api: RegionApi;
}

/** Parameters every round of this federation runs with. All fields are filled in after parsing. */
export interface RoundConfig {
  /** Fractional bits of the fixed-point encoding: v -> round(v * 2^scaleBits). */
  readonly scaleBits: number;
  /** L2 bound of one trainer's update. */
  readonly clipL2: number;
  /** 'clip' scales an update with a larger norm down to clipL2; 'reject' refuses it. */
  readonly clipMode: ClipMode;
  /** Fewer contributing regions than this: abort, nothing is revealed. */
  readonly minContributors: number;
  /** Largest update length (number of parameters) a round accepts. */
  readonly maxParams: number;
  /** Most trainer submissions one node sums into one round. */
  readonly maxTrainersPerRound: number;
  /** Largest weight of a single trainer submission. */
  readonly maxWeight: number;
  /** How long a node collects local submissions before it starts the round. */
  readonly collectMs: number;
  /** Deadline of each protocol phase. */
  readonly phaseTimeoutMs: number;
  /** Deadline of the whole round. */
  readonly roundTimeoutMs: number;
}

/** A parsed, validated, normalized and deep-frozen federation file. */
export interface Federation {
  /** Federation name. */
  readonly federation: string;
  readonly version: typeof FEDERATION_FILE_VERSION;
  /** Shamir threshold t: any t nodes reconstruct, any t-1 learn nothing. */
  readonly threshold: number;
  /** Must be true for threshold 1 (then every single node sees every region's vector). */
  readonly allowInsecureThreshold: boolean;
  readonly regions: readonly Region[];
  readonly round: RoundConfig;
  /** Locality policy (docs/policy.md); every field filled in, one entry per region. */
  readonly policy: Policy;
}

/** Defaults of the `round` object's omitted fields (minContributors: min(2, regions)). */
export const ROUND_DEFAULTS: Readonly<Omit<RoundConfig, 'minContributors'>> = Object.freeze({
  scaleBits: 16,
  clipL2: 100,
  clipMode: 'clip',
  maxParams: 100_000_000,
  maxTrainersPerRound: 1000,
  maxWeight: 1e6,
  collectMs: 1000,
  phaseTimeoutMs: 30_000,
  roundTimeoutMs: 300_000,
});

/** Default listen host of a node's trainer API. */
export const DEFAULT_API_HOST = '127.0.0.1';

// ---------------------------------------------------------------------------------------------
// Small validation helpers. Every failure is a ConfigError whose message starts with the JSON
// path ("regions[1].publicKey: ...") and says what to write instead.

type Json = Record<string, unknown>;

class Ctx {
  constructor(readonly source: string | undefined) {}
  fail(path: string, message: string): never {
    const where = this.source === undefined ? '' : `${this.source}: `;
    throw new ConfigError('CONFIG_INVALID', `${where}${path === '' ? '' : `${path}: `}${message}`);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v === 'object' ? 'an object' : typeof v;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** Edit distance counting an adjacent transposition as one edit ("regoin" -> "region": 1). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest of `known` to `key`, if it is close enough to be a plausible typo. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    // A truncated name ("allowRemote") is as likely a slip as a typo.
    if (key.length >= 4 && k.toLowerCase().startsWith(key.toLowerCase())) return k;
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** Checks `v` is a plain object whose keys are all in `known` (comment keys aside). */
function object(ctx: Ctx, v: unknown, path: string, known: readonly string[]): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    ctx.fail(path, `expected a JSON object, got ${describe(v)}`);
  }
  for (const key of Object.keys(v)) {
    if (key.startsWith(COMMENT_KEY_PREFIX) || known.includes(key)) continue;
    const near = suggest(key, known);
    ctx.fail(
      join(path, key),
      `unknown key ${JSON.stringify(key)}` +
        (near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`) +
        `; allowed here: ${known.join(', ')} (keys starting with "${COMMENT_KEY_PREFIX}" are comments)`,
    );
  }
  return v as Json;
}

function required(ctx: Ctx, o: Json, key: string, path: string, hint: string): unknown {
  if (!Object.hasOwn(o, key)) ctx.fail(join(path, key), `missing; ${hint}`);
  return o[key];
}

function string(ctx: Ctx, v: unknown, path: string, re: RegExp, hint: string): string {
  if (typeof v !== 'string') ctx.fail(path, `expected a string (${hint}), got ${describe(v)}`);
  if (!re.test(v)) ctx.fail(path, `${describe(v)} is not valid: ${hint}`);
  return v;
}

function boolean(ctx: Ctx, v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') ctx.fail(path, `expected true or false, got ${describe(v)}`);
  return v;
}

function integer(ctx: Ctx, v: unknown, path: string, min: number, max: number, hint = ''): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    ctx.fail(path, `expected an integer${hint}, got ${describe(v)}`);
  }
  if (v < min || v > max) ctx.fail(path, `${v} is out of range: expected an integer from ${min} to ${max}${hint}`);
  return v;
}

// ---------------------------------------------------------------------------------------------

const TOP_KEYS = ['federation', 'version', 'threshold', 'allowInsecureThreshold', 'regions', 'round', 'policy'] as const;
const REGION_KEYS = ['id', 'jurisdiction', 'endpoint', 'publicKey', 'api'] as const;
const API_KEYS = ['host', 'port', 'allowRemoteTrainers'] as const;
const ROUND_KEYS = [
  'scaleBits',
  'clipL2',
  'clipMode',
  'minContributors',
  'maxParams',
  'maxTrainersPerRound',
  'maxWeight',
  'collectMs',
  'phaseTimeoutMs',
  'roundTimeoutMs',
] as const;

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

/**
 * RFC 8032 §5.1.3: a public key's 32 bytes (hex) must decode to a curve point; a small-order
 * point would let anyone forge signatures that verify under it, so it is no key at all.
 */
function ed25519PointKind(hex: string): 'ok' | 'not-a-point' | 'small-order' {
  try {
    return ed25519.Point.fromBytes(hexToBytes(hex)).isSmallOrder() ? 'small-order' : 'ok';
  } catch {
    return 'not-a-point';
  }
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

function parseRegion(ctx: Ctx, v: unknown, path: string): Region & { endpointHost: string; endpointPort: number } {
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

function parseRound(ctx: Ctx, v: unknown, regionCount: number): RoundConfig {
  const path = 'round';
  const o = v === undefined ? {} : object(ctx, v, path, ROUND_KEYS);
  const get = <K extends keyof RoundConfig>(key: K, dflt: RoundConfig[K], check: (v: unknown, p: string) => RoundConfig[K]): RoundConfig[K] =>
    o[key] === undefined ? dflt : check(o[key], join(path, key));
  const positiveFinite = (v: unknown, p: string): number => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) ctx.fail(p, `expected a finite number > 0, got ${describe(v)}`);
    return v;
  };
  const ms = (v: unknown, p: string): number => integer(ctx, v, p, 1, MAX_TIMEOUT_MS, ' (milliseconds)');
  const round: RoundConfig = {
    scaleBits: get('scaleBits', ROUND_DEFAULTS.scaleBits, (v, p) => integer(ctx, v, p, 0, MAX_SCALE_BITS, ' (fractional bits of the fixed-point encoding)')),
    clipL2: get('clipL2', ROUND_DEFAULTS.clipL2, positiveFinite),
    clipMode: get('clipMode', ROUND_DEFAULTS.clipMode, (v, p) => {
      if (v !== 'clip' && v !== 'reject') ctx.fail(p, `expected "clip" (scale large updates down to clipL2) or "reject" (refuse them), got ${describe(v)}`);
      return v;
    }),
    minContributors: get('minContributors', Math.min(2, regionCount), (v, p) =>
      integer(ctx, v, p, 1, regionCount, ` (contributing regions; this federation has ${regionCount} regions)`),
    ),
    maxParams: get('maxParams', ROUND_DEFAULTS.maxParams, (v, p) => integer(ctx, v, p, 1, Number.MAX_SAFE_INTEGER)),
    maxTrainersPerRound: get('maxTrainersPerRound', ROUND_DEFAULTS.maxTrainersPerRound, (v, p) => integer(ctx, v, p, 1, Number.MAX_SAFE_INTEGER)),
    maxWeight: get('maxWeight', ROUND_DEFAULTS.maxWeight, positiveFinite),
    collectMs: get('collectMs', ROUND_DEFAULTS.collectMs, ms),
    phaseTimeoutMs: get('phaseTimeoutMs', ROUND_DEFAULTS.phaseTimeoutMs, ms),
    roundTimeoutMs: get('roundTimeoutMs', ROUND_DEFAULTS.roundTimeoutMs, ms),
  };
  if (round.phaseTimeoutMs > round.roundTimeoutMs) {
    ctx.fail(
      'round.phaseTimeoutMs',
      `${round.phaseTimeoutMs} is longer than round.roundTimeoutMs (${round.roundTimeoutMs}); a phase must fit in the round: lower phaseTimeoutMs or raise roundTimeoutMs`,
    );
  }
  if (round.collectMs >= round.roundTimeoutMs) {
    ctx.fail(
      'round.collectMs',
      `${round.collectMs} is not shorter than round.roundTimeoutMs (${round.roundTimeoutMs}); collecting would use up the round: lower collectMs or raise roundTimeoutMs`,
    );
  }
  return round;
}

// ---------------------------------------------------------------------------------------------
// The `policy` section (docs/policy.md). Types and the rules' semantics live in src/policy/;
// this is only the strict reader of the file format.

const POLICY_KEYS = ['regions', 'minTrainers', 'maxRoundsInFlight', 'retention', 'authority', 'grants'] as const;
const REGION_POLICY_KEYS = ['classification', 'shareTo'] as const;
const RETENTION_KEYS = ['transcriptDays', 'shareMaterial'] as const;
const GRANT_KEYS = ['federation', 'id', 'flow', 'notBefore', 'notAfter', 'signature'] as const;
const FLOW_KEYS = ['from', 'toJurisdiction', 'toRegion'] as const;
/** Upper bound of policy.maxRoundsInFlight: each round in flight holds vectors of up to maxParams elements. */
export const MAX_ROUNDS_IN_FLIGHT = 1024;
/** Upper bound of retention.transcriptDays (100 years). */
export const MAX_RETENTION_DAYS = 36_500;

function parseRegionPolicy(ctx: Ctx, v: unknown, path: string, regionId: string, jurisdictions: readonly string[]): RegionPolicy {
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    // One clear way: an allow list. Say so rather than "unknown key" for the obvious alternatives.
    for (const alt of ['denyShareTo', 'deny', 'allowShareTo', 'allow']) {
      if (Object.hasOwn(v, alt)) {
        ctx.fail(
          join(path, alt),
          `not supported: list the jurisdictions that may receive shares from ${regionId} in "shareTo" (an allow list; omit it to allow every federation member), ` +
            `e.g. "shareTo": [${jurisdictions.filter((j) => j !== 'US').slice(0, 2).map((j) => JSON.stringify(j)).join(', ')}]`,
        );
      }
    }
  }
  const o = object(ctx, v, path, REGION_POLICY_KEYS);
  let classification: DataClassification = POLICY_DEFAULTS.classification;
  if (o['classification'] !== undefined) {
    const c = o['classification'];
    if (typeof c !== 'string' || !(DATA_CLASSIFICATIONS as readonly string[]).includes(c)) {
      const near = typeof c === 'string' ? suggest(c, DATA_CLASSIFICATIONS) : undefined;
      ctx.fail(
        join(path, 'classification'),
        `expected one of ${DATA_CLASSIFICATIONS.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(c)}` + (near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`),
      );
    }
    classification = c as DataClassification;
  }
  let shareTo: string[] | null = null;
  if (o['shareTo'] !== undefined) {
    const p = join(path, 'shareTo');
    const list = o['shareTo'];
    if (!Array.isArray(list)) ctx.fail(p, `expected an array of jurisdiction labels, e.g. ["EU", "CH"], got ${describe(list)}`);
    shareTo = [];
    list.forEach((j, i) => {
      const jp = `${p}[${i}]`;
      if (typeof j !== 'string') ctx.fail(jp, `expected a jurisdiction label (a string), got ${describe(j)}`);
      if (!jurisdictions.includes(j)) {
        const near = suggest(j, jurisdictions);
        ctx.fail(
          jp,
          `${JSON.stringify(j)} is the jurisdiction of no region (this federation has ${jurisdictions.join(', ')})` +
            (near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`) +
            ' Jurisdictions are compared exactly, case included',
        );
      }
      if (shareTo!.includes(j)) ctx.fail(jp, `${JSON.stringify(j)} is listed twice`);
      shareTo!.push(j);
    });
  }
  return { classification, shareTo };
}

function parseFlow(ctx: Ctx, v: unknown, path: string, ids: readonly string[], jurisdictions: readonly string[]): GrantFlow {
  const o = object(ctx, v, path, FLOW_KEYS);
  const from = required(ctx, o, 'from', path, 'add "from": "<region id>", the dealing region');
  if (typeof from !== 'string' || !ids.includes(from)) {
    ctx.fail(join(path, 'from'), `${describe(from)} is not a region id of this federation (${ids.join(', ')})`);
  }
  const hasJ = o['toJurisdiction'] !== undefined;
  const hasR = o['toRegion'] !== undefined;
  if (hasJ === hasR) ctx.fail(path, 'give exactly one of "toJurisdiction" (every region of a jurisdiction) and "toRegion" (one region)');
  if (hasR) {
    const to = o['toRegion'];
    if (typeof to !== 'string' || !ids.includes(to)) ctx.fail(join(path, 'toRegion'), `${describe(to)} is not a region id of this federation (${ids.join(', ')})`);
    return { from, toRegion: to };
  }
  const to = o['toJurisdiction'];
  if (typeof to !== 'string' || !jurisdictions.includes(to)) {
    ctx.fail(join(path, 'toJurisdiction'), `${describe(to)} is the jurisdiction of no region (this federation has ${jurisdictions.join(', ')})`);
  }
  return { from, toJurisdiction: to };
}

function parseGrant(ctx: Ctx, v: unknown, path: string, federation: string, regions: readonly { id: string; jurisdiction: string }[], authority: string): Grant {
  const o = object(ctx, v, path, GRANT_KEYS);
  const ids = regions.map((r) => r.id);
  const jurisdictions = [...new Set(regions.map((r) => r.jurisdiction))];
  const fed = required(ctx, o, 'federation', path, `add "federation": ${JSON.stringify(federation)} (grants made by 'mpc-node policy grant' have it)`);
  if (fed !== federation) ctx.fail(join(path, 'federation'), `this grant is for federation ${describe(fed)}, not ${JSON.stringify(federation)}: make a grant for this federation`);
  const id = string(ctx, required(ctx, o, 'id', path, 'add "id": "<grant id>"'), join(path, 'id'), GRANT_ID_RE, 'a grant id is 1-64 letters, digits, ".", "_" or "-"');
  const flow = parseFlow(ctx, required(ctx, o, 'flow', path, 'add "flow": { "from": "<region>", "toJurisdiction": "<label>" }'), join(path, 'flow'), ids, jurisdictions);
  const time = (key: 'notBefore' | 'notAfter', example: string): string => {
    const t = required(ctx, o, key, path, `add "${key}": "${example}"`);
    if (parseGrantTime(t) === undefined) ctx.fail(join(path, key), `expected a UTC time written exactly as "${example}", got ${describe(t)}`);
    return t as string;
  };
  const notBefore = time('notBefore', '2026-01-01T00:00:00Z');
  const notAfter = time('notAfter', '2026-12-31T23:59:59Z');
  if (parseGrantTime(notBefore)! > parseGrantTime(notAfter)!) ctx.fail(join(path, 'notAfter'), `${notAfter} is before notBefore (${notBefore})`);
  const signature = required(ctx, o, 'signature', path, "the grant is unsigned: sign it with 'mpc-node policy grant --authority-key PATH ...' and paste its output");
  if (typeof signature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(signature)) {
    ctx.fail(join(path, 'signature'), `expected 128 hex characters (an Ed25519 signature from 'mpc-node policy grant'), got ${describe(signature)}`);
  }
  const grant: Grant = { federation, id, flow, notBefore, notAfter, signature: signature.toLowerCase() };
  const check = verifyGrantSignature({ federation, regions }, authority, grant);
  if (!check.ok) ctx.fail(join(path, 'signature'), `${check.reason}; sign the grant again with the key of policy.authority`);
  return grant;
}

function parseAuthority(ctx: Ctx, v: unknown, path: string): string {
  const from = "an Ed25519 public key from 'mpc-node policy authority-keygen'";
  if (typeof v !== 'string' || !/^[0-9a-fA-F]{64}$/.test(v)) ctx.fail(path, `expected 64 hex characters (${from}), got ${describe(v)}`);
  const hex = v.toLowerCase();
  const point = ed25519PointKind(hex);
  if (point === 'not-a-point') ctx.fail(path, `is not a valid Ed25519 public key (not a point on the curve); copy it again from the output of 'mpc-node policy authority-keygen'`);
  if (point === 'small-order') ctx.fail(path, 'is a small-order Ed25519 point, under which anyone could forge grants; run mpc-node policy authority-keygen again');
  return hex;
}

function parsePolicy(
  ctx: Ctx,
  v: unknown,
  federation: string,
  regions: readonly { id: string; jurisdiction: string }[],
  threshold: number,
  round: RoundConfig,
): Policy {
  const path = 'policy';
  const ids = regions.map((r) => r.id);
  const jurisdictions = [...new Set(regions.map((r) => r.jurisdiction))];
  const dflt = defaultPolicy(ids);
  if (v === undefined) return dflt;
  const o = object(ctx, v, path, POLICY_KEYS);

  const regionPolicies: Record<string, RegionPolicy> = { ...dflt.regions };
  if (o['regions'] !== undefined) {
    const rp = join(path, 'regions');
    const ro = o['regions'];
    if (typeof ro !== 'object' || ro === null || Array.isArray(ro)) {
      ctx.fail(rp, `expected an object keyed by region id, e.g. { "${ids[0]}": { "classification": "personal", "shareTo": ["${regions[0]!.jurisdiction}"] } }, got ${describe(ro)}`);
    }
    for (const [id, rv] of Object.entries(ro)) {
      if (id.startsWith(COMMENT_KEY_PREFIX)) continue;
      if (!ids.includes(id)) {
        const near = suggest(id, ids);
        ctx.fail(join(rp, id), `${JSON.stringify(id)} is not a region id of this federation (${ids.join(', ')})` + (near === undefined ? '' : `; did you mean ${JSON.stringify(near)}?`));
      }
      regionPolicies[id] = parseRegionPolicy(ctx, rv, join(rp, id), id, jurisdictions);
    }
  }

  const maxTrainers = round.maxTrainersPerRound * regions.length;
  const minTrainers =
    o['minTrainers'] === undefined
      ? POLICY_DEFAULTS.minTrainers
      : integer(ctx, o['minTrainers'], join(path, 'minTrainers'), 1, maxTrainers, ` (trainer submissions summed over the contributing regions; at most round.maxTrainersPerRound x regions = ${maxTrainers})`);
  const maxRoundsInFlight =
    o['maxRoundsInFlight'] === undefined
      ? POLICY_DEFAULTS.maxRoundsInFlight
      : integer(ctx, o['maxRoundsInFlight'], join(path, 'maxRoundsInFlight'), 1, MAX_ROUNDS_IN_FLIGHT, ' (rounds one node runs at the same time)');

  let transcriptDays: number | null = POLICY_DEFAULTS.transcriptDays;
  if (o['retention'] !== undefined) {
    const rp = join(path, 'retention');
    const r = object(ctx, o['retention'], rp, RETENTION_KEYS);
    if (r['transcriptDays'] !== undefined && r['transcriptDays'] !== null) {
      transcriptDays = integer(ctx, r['transcriptDays'], join(rp, 'transcriptDays'), 1, MAX_RETENTION_DAYS, ' (days a round transcript is kept; null or omitted keeps them)');
    }
    if (r['shareMaterial'] !== undefined && r['shareMaterial'] !== SHARE_MATERIAL_ZEROIZE) {
      ctx.fail(
        join(rp, 'shareMaterial'),
        `the only accepted value is "${SHARE_MATERIAL_ZEROIZE}" (got ${describe(r['shareMaterial'])}): shares are wiped from memory when each round ends and are never written to disk; ` +
          'there is no setting that keeps them (see docs/policy.md)',
      );
    }
  }

  const authority = o['authority'] === undefined || o['authority'] === null ? null : parseAuthority(ctx, o['authority'], join(path, 'authority'));
  const grants: Grant[] = [];
  if (o['grants'] !== undefined) {
    const gp = join(path, 'grants');
    const gl = o['grants'];
    if (!Array.isArray(gl)) ctx.fail(gp, `expected an array of signed grants (from 'mpc-node policy grant'), got ${describe(gl)}`);
    if (gl.length > 0 && authority === null) {
      ctx.fail(gp, `grants need a policy authority: add "authority": "<public key from 'mpc-node policy authority-keygen'>" to "policy", or remove the grants`);
    }
    gl.forEach((g, i) => {
      const grant = parseGrant(ctx, g, `${gp}[${i}]`, federation, regions, authority!);
      const j = grants.findIndex((x) => x.id === grant.id);
      if (j !== -1) ctx.fail(`${gp}[${i}].id`, `duplicate grant id ${JSON.stringify(grant.id)}, same as ${gp}[${j}]; each grant needs its own id`);
      grants.push(grant);
    });
  }

  const policy: Policy = { regions: regionPolicies, minTrainers, maxRoundsInFlight, retention: { transcriptDays, shareMaterial: SHARE_MATERIAL_ZEROIZE }, authority, grants };

  // The threshold and the flow rules interact: shares are only useful at holders every
  // contributor may deal to, and a round needs `threshold` of them (docs/policy.md).
  const subject = { federation, threshold, regions, round, policy };
  const feas = policyFeasibility(subject);
  for (const d of feas.cannotContribute) {
    if (grants.some((g) => g.flow.from === d)) continue; // may contribute while a grant is valid: a warning
    const to = feas.dealTo[d]!;
    ctx.fail(
      `policy.regions.${d}.shareTo`,
      `region ${d} may deal shares to only ${to.length} region(s) (${to.join(', ')}) but threshold is ${threshold}, so it could never contribute to a round. ` +
        `Fix: add jurisdictions to policy.regions.${d}.shareTo (other regions are in ${jurisdictions.filter((j) => !to.some((h) => regions.find((r) => r.id === h)?.jurisdiction === j)).join(', ')}), lower threshold, or add a signed grant for ${d}`,
    );
  }
  if (feas.maxContributors !== null && feas.maxContributors < round.minContributors && grants.length === 0) {
    ctx.fail(
      'round.minContributors',
      `${round.minContributors} contributing regions can never take part in one round under the policy: at most ${feas.maxContributors} ` +
        `(${feas.best?.contributors.join(', ') ?? 'none'}) may all deal to ${threshold} common holders. Fix: widen the shareTo lists in policy.regions, lower round.minContributors or threshold`,
    );
  }
  return policy;
}

/** What {@link overflowBudget} returns (not the field module's `OverflowBudget`, which is its input bounds). */
export interface OverflowHeadroom {
  /** log2 of clipL2 * 2^scaleBits * maxTrainersPerRound * regions * maxWeight. */
  readonly worstCaseLog2: number;
  /** OVERFLOW_BUDGET_LOG2 - worstCaseLog2: bits to spare (negative: the sum could wrap). */
  readonly headroomBits: number;
}

/**
 * Computes how close the worst-case aggregate of one element comes to the field's signed range.
 * Every element of a clipped update has |v| <= clipL2, is scaled by 2^scaleBits, multiplied by
 * at most maxWeight, and summed over at most maxTrainersPerRound trainers in each region.
 * Pure; floating point is exact enough here (relative error ~2^-50 on a bound with a 2^62 target).
 * @returns the worst case and the headroom, both in bits.
 * @example
 * overflowBudget({ ...round }, 3).headroomBits; // 7.9 with the defaults
 */
export function overflowBudget(round: Pick<RoundConfig, 'clipL2' | 'scaleBits' | 'maxTrainersPerRound' | 'maxWeight'>, regionCount: number): OverflowHeadroom {
  const worstCaseLog2 =
    Math.log2(round.clipL2) + round.scaleBits + Math.log2(round.maxTrainersPerRound) + Math.log2(regionCount) + Math.log2(round.maxWeight);
  return { worstCaseLog2, headroomBits: OVERFLOW_BUDGET_LOG2 - worstCaseLog2 };
}

/**
 * Refuses a round configuration whose worst-case aggregate could wrap around p/2 (docs/field.md),
 * with a message that names the knobs and by how much to turn them. The federation file's rule;
 * stricter than, and so implying, the field module's `checkOverflowBudget` (see parseFederation).
 * @throws {ConfigError} CONFIG_INVALID when the worst case reaches 2^62.
 */
function refuseRoundOverflow(round: RoundConfig, regionCount: number, source?: string): void {
  const { worstCaseLog2, headroomBits } = overflowBudget(round, regionCount);
  if (headroomBits > 0) return;
  const excess = -headroomBits; // bits over budget; the bound is strict, so an exact fit still needs one more
  const bits = Math.floor(excess) + 1;
  const factor = 2 ** excess;
  const fmt = (x: number): string => (x >= 1e5 || x < 1e-3 ? x.toExponential(2) : String(Number(x.toPrecision(4))));
  const scaleFix =
    bits <= round.scaleBits
      ? `lower scaleBits by ${bits} (to ${round.scaleBits - bits})`
      : `lowering scaleBits cannot fix it alone (it is ${round.scaleBits})`;
  new Ctx(source).fail(
    'round',
    `fixed-point overflow: worst-case |sum| = clipL2 (${fmt(round.clipL2)}) x 2^scaleBits (2^${round.scaleBits}) x maxTrainersPerRound (${round.maxTrainersPerRound}) ` +
      `x regions (${regionCount}) x maxWeight (${fmt(round.maxWeight)}) = 2^${worstCaseLog2.toFixed(2)}, which must stay below 2^${OVERFLOW_BUDGET_LOG2} ` +
      `or the aggregate can wrap around p/2. Fix: ${scaleFix}, or divide clipL2, maxWeight or maxTrainersPerRound (or their product) ` +
      `by more than ${fmt(factor)} (e.g. clipL2 < ${fmt(round.clipL2 / factor)}, maxWeight < ${fmt(round.maxWeight / factor)})`,
  );
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

/**
 * Validates a federation file's parsed JSON and returns it normalized and deep-frozen.
 * @param json - The result of `JSON.parse` (untrusted).
 * @param source - Where it came from (a path), prefixed to error messages.
 * @returns the federation, with every `round` default and `api.host` filled in and hex lower-cased.
 * @throws {ConfigError} CONFIG_INVALID naming the JSON path and the fix, e.g.
 *   `regions[1].publicKey: expected 64 hex characters (...), got 63`.
 * @example
 * const fed = parseFederation(JSON.parse(text), 'federation.json');
 */
export function parseFederation(json: unknown, source?: string): Federation {
  const ctx: Ctx = new Ctx(source);
  const o = object(ctx, json, '', TOP_KEYS);
  const name = string(
    ctx,
    required(ctx, o, 'federation', '', 'add "federation": "<name>", e.g. "acme-fl"'),
    'federation',
    FEDERATION_NAME_RE,
    `${FEDERATION_NAME_RULE}, e.g. "acme-fl"`,
  );
  const version = required(ctx, o, 'version', '', `add "version": ${FEDERATION_FILE_VERSION}`);
  if (version !== FEDERATION_FILE_VERSION) {
    ctx.fail('version', `unsupported federation file version ${describe(version)}: this mpc-node reads version ${FEDERATION_FILE_VERSION}`);
  }
  const regionsJson = required(ctx, o, 'regions', '', 'add "regions": [ ... ], one entry per region node');
  if (!Array.isArray(regionsJson)) ctx.fail('regions', `expected an array of regions, got ${describe(regionsJson)}`);
  if (regionsJson.length === 0) ctx.fail('regions', 'is empty: list every region node (see mpc-node init)');
  if (regionsJson.length > MAX_PARTIES) ctx.fail('regions', `has ${regionsJson.length} regions, at most ${MAX_PARTIES} are supported (share x-coordinates are one byte)`);
  const parsed = regionsJson.map((r, i) => parseRegion(ctx, r, `regions[${i}]`));

  // Cross-region uniqueness: peers are identified by id and authenticated by key, and two regions
  // sharing a key or an endpoint would make one node able to speak for two.
  const seen = { id: new Map<string, number>(), key: new Map<string, number>(), ep: new Map<string, number>(), api: new Map<string, number>() };
  parsed.forEach((r, i) => {
    const dup = (map: Map<string, number>, k: string, field: string, what: string): void => {
      const j = map.get(k);
      if (j !== undefined) ctx.fail(`regions[${i}].${field}`, `${what} as regions[${j}]; each region needs its own`);
      map.set(k, i);
    };
    dup(seen.id, r.id, 'id', `duplicate region id ${JSON.stringify(r.id)}: same`);
    dup(seen.key, r.publicKey, 'publicKey', `same public key`);
    dup(seen.ep, `${r.endpointHost.toLowerCase()}:${r.endpointPort}`, 'endpoint', `same host and port (${r.endpointHost}:${r.endpointPort})`);
  });
  // Nodes on one machine (all endpoints on loopback, as in a local demo) cannot share ports.
  parsed.forEach((r, i) => {
    if (!isLoopbackHost(r.endpointHost) || !isLoopbackHost(r.api.host)) return;
    const clash = parsed.findIndex((q) => isLoopbackHost(q.endpointHost) && q.endpointPort === r.api.port);
    if (clash !== -1) ctx.fail(`regions[${i}].api.port`, `${r.api.port} is also the peer port of regions[${clash}].endpoint on this machine; pick another port`);
    const j = seen.api.get(String(r.api.port));
    if (j !== undefined) ctx.fail(`regions[${i}].api.port`, `${r.api.port} is also the API port of regions[${j}] on this machine; pick another port`);
    seen.api.set(String(r.api.port), i);
  });

  const n = parsed.length;
  const allowInsecureThreshold = o['allowInsecureThreshold'] === undefined ? false : boolean(ctx, o['allowInsecureThreshold'], 'allowInsecureThreshold');
  const t = required(ctx, o, 'threshold', '', `add "threshold": <2..${n}>, how many nodes it takes to reconstruct`);
  if (typeof t !== 'number' || !Number.isInteger(t)) ctx.fail('threshold', `expected an integer from 2 to ${n}, got ${describe(t)}`);
  if (t > n) ctx.fail('threshold', `threshold ${t} is impossible with ${n} region${n === 1 ? '' : 's'}: lower threshold or add regions`);
  if (t < 1) ctx.fail('threshold', `threshold ${t} is impossible: it must be at least 1 (2 or more for privacy)`);
  if (t === 1 && !allowInsecureThreshold) {
    ctx.fail(
      'threshold',
      'threshold 1 gives no privacy: every single node could read every region\'s update. Use threshold >= 2 ' +
        '(add regions if needed), or add "allowInsecureThreshold": true for a test setup',
    );
  }
  const round = parseRound(ctx, o['round'], n);
  // The field module's own guard, checkOverflowBudget({ scaleBits, maxAbs: clipL2 * maxWeight,
  // summands: maxTrainersPerRound * regions }) in src/field/fixed-point.ts, allows up to p/2 ~ 2^63
  // (plus 1/2 per summand for rounding); this stricter 2^62 rule implies it, so a file accepted
  // here never trips the encoder. At run time the node keeps every term of the bound: submit()
  // refuses weights above maxWeight and updates beyond maxTrainersPerRound, and the encoder
  // refuses any value above clipL2 x weight after clipping (assembly/codec.ts encodeF32).
  refuseRoundOverflow(round, n, source);
  const policy = parsePolicy(ctx, o['policy'], name, parsed.map(({ id, jurisdiction }) => ({ id, jurisdiction })), t, round);

  const federation: Federation = {
    federation: name,
    version: FEDERATION_FILE_VERSION,
    threshold: t,
    allowInsecureThreshold,
    regions: parsed.map(({ id, jurisdiction, endpoint, publicKey, api }) => ({ id, jurisdiction, endpoint, publicKey, api: { ...api } })),
    round,
    policy,
  };
  return deepFreeze(federation);
}

/**
 * Reads and parses a federation file.
 * @throws {ConfigError} CONFIG_INVALID if the file is missing, not JSON, or invalid.
 * @example
 * const fed = await loadFederation('federation.json');
 */
export async function loadFederation(path: string): Promise<Federation> {
  // Dynamic import keeps this module loadable in browsers (the verifier parses federations too).
  const { readFile } = await import('node:fs/promises');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? "no such file (create one with 'mpc-node init', or pass --config PATH)" : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new ConfigError('CONFIG_INVALID', `${path}: cannot read federation file: ${why}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // SyntaxError messages name the position, and the file holds public data only.
    throw new ConfigError('CONFIG_INVALID', `${path}: not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseFederation(json, path);
}


/**
 * The federation digest every node and the auditor agree on:
 * `SHA-256( utf8("mpc-node/federation/v1\0") || utf8(canonicalJson(f)) )`, computed over the
 * *normalized* federation (defaults filled in, comment keys dropped, hex lower-cased), so
 * formatting, key order, comments and spelled-out defaults do not change it; any value does.
 * @returns 32 bytes.
 * @example
 * bytesToHex(federationDigest(fed));
 */
export function federationDigest(f: Federation): Uint8Array {
  // A default policy is left out, so files from before the policy section keep their digest;
  // any non-default policy value (including a spelled-out default next to one) enters it whole.
  const { policy, ...rest } = f;
  const body = isDefaultPolicy(policy, f.regions.map((r) => r.id)) ? rest : f;
  return sha256(utf8ToBytes(FEDERATION_DIGEST_TAG + canonicalJson(body)));
}

/** {@link federationDigest} as lower-case hex. */
export function federationDigestHex(f: Federation): string {
  return bytesToHex(federationDigest(f));
}

/**
 * Looks a region up by id.
 * @throws {ConfigError} CONFIG_INVALID listing the known ids if there is none.
 * @example
 * regionById(fed, 'eu').endpoint;
 */
export function regionById(f: Federation, id: string): Region {
  const r = f.regions.find((x) => x.id === id);
  if (r === undefined) {
    const ids = f.regions.map((x) => x.id);
    const near = suggest(id, ids);
    throw new ConfigError(
      'CONFIG_INVALID',
      `unknown region ${JSON.stringify(id)}: federation ${JSON.stringify(f.federation)} has ${ids.join(', ')}` +
        (near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`),
    );
  }
  return r;
}

/** A region's public key as 32 fresh bytes (the frozen Federation keeps it as hex). */
export function regionPublicKey(r: Region): Uint8Array {
  return hexToBytes(r.publicKey);
}

/** Grants expiring within this many days are reported by {@link federationWarnings} (with `now`). */
export const GRANT_EXPIRY_WARNING_DAYS = 14;

/**
 * Advice that is not an error: settings that are valid but weaken privacy or robustness.
 * @param now - Milliseconds since the epoch; when given, grants that are expired, not yet valid
 *   or expiring within {@link GRANT_EXPIRY_WARNING_DAYS} days are reported too. (Parsing has no
 *   clock, so an expired grant is not a parse error: it simply allows nothing.)
 * @returns human-readable warnings (empty if none).
 */
export function federationWarnings(f: Federation, now?: number): string[] {
  const w: string[] = [];
  const n = f.regions.length;
  if (f.threshold === 1) w.push('threshold is 1 (allowInsecureThreshold): every single node can read every region\'s update');
  if (f.round.minContributors < 2) {
    w.push(`round.minContributors is ${f.round.minContributors}: an aggregate of one region reveals that region's update`);
  }
  if (f.threshold === n && n > 1) w.push(`threshold equals the number of regions (${n}): one node offline stops every round`);
  for (const r of f.regions) {
    if (r.endpoint.startsWith('ws://') && !isLoopbackHost(new URL(r.endpoint).hostname)) {
      w.push(`regions ${r.id}: endpoint uses ws:// to a remote host; peer frames are encrypted anyway, but wss:// also hides metadata`);
    }
    if (r.api.allowRemoteTrainers) w.push(`regions ${r.id}: api listens on ${r.api.host} (allowRemoteTrainers); protect it with a firewall as well as the token`);
  }
  const { headroomBits } = overflowBudget(f.round, n);
  if (headroomBits < 1) w.push(`overflow headroom is only ${headroomBits.toFixed(2)} bits`);
  w.push(...policyWarnings(f, now));
  return w;
}

function policyWarnings(f: Federation, now: number | undefined): string[] {
  const w: string[] = [];
  const p = f.policy;
  for (const r of f.regions) {
    const rp = p.regions[r.id];
    if (rp?.classification === 'personal' && rp.shareTo === null && new Set(f.regions.map((x) => x.jurisdiction)).size > 1) {
      w.push(`policy.regions.${r.id}: classified "personal" but shares go to every jurisdiction; list the allowed ones in "shareTo"`);
    }
  }
  if (p.retention.transcriptDays === null && Object.values(p.regions).some((rp) => rp.classification === 'personal')) {
    w.push('policy.retention.transcriptDays is not set: transcripts (metadata of rounds over personal data) are kept forever; set a number of days and run mpc-node prune');
  }
  if (p.authority !== null && f.regions.some((r) => r.publicKey === p.authority)) {
    w.push('policy.authority is the key of a region node: that node\'s operator can grant exceptions alone; use a separate key (mpc-node policy authority-keygen)');
  }
  const feas = policyFeasibility(f);
  for (const d of feas.cannotContribute) {
    w.push(`region ${d} may deal to only ${feas.dealTo[d]!.join(', ')} under its shareTo list (threshold ${f.threshold}): it can contribute only while one of its grants is valid`);
  }
  if (feas.maxContributors !== null && feas.maxContributors < f.regions.length && feas.cannotContribute.length === 0) {
    w.push(
      `not every region can contribute to the same round: at most ${feas.maxContributors} of ${f.regions.length} (e.g. ${feas.best?.contributors.join(', ')} with holders ${feas.best?.holders.join(', ')}); ` +
        'the others are left out of a round they cannot share with',
    );
  }
  for (const g of p.grants) {
    const rp = p.regions[g.flow.from];
    if (rp?.shareTo === null) w.push(`policy.grants ${g.id}: region ${g.flow.from} has no shareTo list, so the grant changes nothing`);
    if (now === undefined) continue;
    const check = verifyGrant(f, g, now);
    if (!check.ok) w.push(`policy.grants ${g.id}: ${check.reason}; it allows nothing now`);
    else if (parseGrantTime(g.notAfter)! - now < GRANT_EXPIRY_WARNING_DAYS * 86_400_000) w.push(`policy.grants ${g.id}: expires at ${g.notAfter}`);
  }
  return w;
}
