/**
 * parseFederation: the whole federation file, read strictly in two passes: the schema pass
 * (schema.ts: the exact key set at every level, so a typo cannot silently do nothing, and each
 * field's type, range and default), then the rules across fields in code (curve points, threshold
 * vs. region count, unique ids/keys/endpoints, the fixed-point overflow budget, the policy's
 * feasibility and grant signatures). Comment keys and "$schema" never reach the result. The result is normalized (defaults filled in, hex
 * lower-cased) and deep-frozen, so every node that reads the same file gets the same digest.
 * @module
 */
import { Ctx } from './check.js';
import { FEDERATION_FILE_VERSION, type Federation } from './model.js';
import { checkPolicy } from './policy-section.js';
import { checkRegion, isLoopbackHost } from './regions.js';
import { checkRound, refuseRoundOverflow } from './round-limits.js';
import { readFederationFile } from './schema.js';

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
  const file = readFederationFile(ctx, json);
  const name = file.federation;
  const parsed = file.regions.map((r, i) => checkRegion(ctx, r, `regions[${i}]`));

  // Cross-region uniqueness: peers are identified by id and authenticated by key, and two regions
  // sharing a key or an endpoint would make one node able to speak for two.
  const seen = { id: new Map<string, number>(), key: new Map<string, number>(), ep: new Map<string, number>(), api: new Map<string, number>() };
  parsed.forEach((r, i) => {
    const dup = (map: Map<string, number>, k: string, field: string, what: string): void => {
      const j = map.get(k);
      if (j !== undefined) ctx.report(`regions[${i}].${field}`, `${what} as regions[${j}]; each region needs its own`);
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
    if (clash !== -1) ctx.report(`regions[${i}].api.port`, `${r.api.port} is also the peer port of regions[${clash}].endpoint on this machine; pick another port`);
    const j = seen.api.get(String(r.api.port));
    if (j !== undefined) ctx.report(`regions[${i}].api.port`, `${r.api.port} is also the API port of regions[${j}] on this machine; pick another port`);
    seen.api.set(String(r.api.port), i);
  });

  const n = parsed.length;
  const { threshold: t, allowInsecureThreshold } = file;
  if (t > n) ctx.report('threshold', `threshold ${t} is impossible with ${n} region${n === 1 ? '' : 's'}: lower threshold or add regions`);
  if (t === 1 && !allowInsecureThreshold) {
    ctx.report(
      'threshold',
      'threshold 1 gives no privacy: every single node could read every region\'s update. Use threshold >= 2 ' +
        '(add regions if needed), or add "allowInsecureThreshold": true for a test setup',
    );
  }
  const round = checkRound(ctx, file.round, n);
  // The field module's own guard, checkOverflowBudget({ scaleBits, maxAbs: clipL2 * maxWeight,
  // summands: maxTrainersPerRound * regions }) in src/field/fixed-point.ts, allows up to p/2 ~ 2^63
  // (plus 1/2 per summand for rounding); this stricter 2^62 rule implies it, so a file accepted
  // here never trips the encoder. At run time the node keeps every term of the bound: submit()
  // refuses weights above maxWeight and updates beyond maxTrainersPerRound, and the encoder
  // refuses any value above clipL2 x weight after clipping (assembly/codec.ts encodeF32).
  refuseRoundOverflow(ctx, round, n);
  const policy = checkPolicy(ctx, file.policy, name, parsed.map(({ id, jurisdiction }) => ({ id, jurisdiction })), t, round);
  ctx.done(); // every problem of the file at once

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
