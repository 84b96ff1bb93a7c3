/**
 * The shape of the federation file, defined once: every key at every level, its type, range,
 * enum and default, strict objects (no unknown keys but "//" comments) and the message each
 * failure gets. parseFederation runs it first (the schema pass), then the cross-field rules in
 * code; `npm run build:schema` generates schema/federation.schema.json from it. Messages that
 * name values from elsewhere in the file (the region count, a region's id) are in
 * schema-messages.ts. Written with zod/mini, the tree-shakable API, to keep the auditor page small.
 * @module
 */
import * as z from 'zod/mini';
import { FEDERATION_NAME_RE, FEDERATION_NAME_RULE, JURISDICTION_RE, JURISDICTION_RULE, MAX_PARTIES, REGION_ID_RE, REGION_ID_RULE } from '../core/ids.js';
import { MAX_DELTA, PRIVACY_MECHANISMS, PRIVACY_UNITS } from '../dp/policy.js';
import { DATA_CLASSIFICATIONS, GRANT_ID_RE, GRANT_TIME_RE, parseGrantTime, POLICY_DEFAULTS, SHARE_MATERIAL_ZEROIZE } from '../policy/index.js';
import { Ctx, describe, failOnIssues, outOfRange, suggest } from './check.js';
import {
  COMMENT_KEY_PREFIX,
  DEFAULT_API_HOST,
  FEDERATION_FILE_VERSION,
  MAX_RETENTION_DAYS,
  MAX_ROUNDS_IN_FLIGHT,
  MAX_SCALE_BITS,
  MAX_TIMEOUT_MS,
  ROUND_DEFAULTS,
} from './model.js';
import { endpointProblem } from './regions.js';
import { contextMessage, hasContextMessage } from './schema-messages.js';

type Issue = z.core.$ZodRawIssue;
type Message = (iss: Issue) => string | undefined;

/** `missing; <hint>` for an absent required key, else `other`. */
const orMissing = (missing: string | undefined, other: Message): Message => (iss) => (iss.input === undefined && missing !== undefined ? `missing; ${missing}` : other(iss));

/** A strict object: unknown keys fail with a did-you-mean and the list of allowed keys. */
function strict<S extends z.core.$ZodLooseShape>(shape: S, missing?: string): z.ZodMiniObject<S, z.core.$strict> {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (iss) => {
      if (iss.code !== 'unrecognized_keys') return orMissing(missing, (i) => `expected a JSON object, got ${describe(i.input)}`)(iss);
      const key = iss.keys[0]!;
      const near = suggest(key, known);
      if (hasContextMessage(iss)) return undefined;
      return (
        `unknown key ${JSON.stringify(key)}` +
        (near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`) +
        `; allowed here: ${known.join(', ')} (keys starting with "${COMMENT_KEY_PREFIX}" are comments)`
      );
    },
  });
}

/** A string matching `re`; `hint` says what a valid one is. */
function text(re: RegExp, hint: string, missing?: string): z.ZodMiniString {
  return z.string({ error: orMissing(missing, (iss) => `expected a string (${hint}), got ${describe(iss.input)}`) }).check(
    z.regex(re, { error: (iss) => `${describe(iss.input)} is not valid: ${hint}` }),
  );
}

/** An integer from `min` to `max`; `hint` (" (milliseconds)") is appended to both messages. */
function int(min: number, max: number, hint = '', missing?: string): z.ZodMiniNumber<number> {
  const range: Message = (iss) => outOfRange(iss.input, min, max, hint);
  const type: Message = (iss) => (Number.isInteger(iss.input) ? range(iss) : `expected an integer${hint}, got ${describe(iss.input)}`);
  return z.int({ error: orMissing(missing, type) }).check(z.minimum(min, { error: range }), z.maximum(max, { error: range }));
}

/** A finite number > 0. */
function positive(): z.ZodMiniNumber<number> {
  const error: Message = (iss) => `expected a finite number > 0, got ${describe(iss.input)}`;
  return z.number({ error }).check(z.positive({ error }));
}

const boolean = (): z.ZodMiniBoolean<boolean> => z.boolean({ error: (iss) => `expected true or false, got ${describe(iss.input)}` });
const HEX64_RE = /^[0-9a-fA-F]{64}$/;
const HEX128_RE = /^[0-9a-fA-F]{128}$/;

const endpointHint = 'expected ws://host:port or wss://host:port, e.g. "wss://mpc.eu.example.com:7101"';
/** A peer endpoint; endpointProblem (regions.ts) is the rule, the pattern only helps editors. */
const endpoint = z
  .string({ error: orMissing('add "endpoint": "wss://host:port"', (iss) => `${endpointHint}, got ${describe(iss.input)}`) })
  .check(z.refine((v) => endpointProblem(v) === undefined, { error: (iss) => endpointProblem(iss.input as string) }))
  .register(z.globalRegistry, { pattern: '^wss?://[^\\s/?#@]+:[0-9]{1,5}(/[^\\s?#]*)?$', description: 'ws://host:port or wss://host:port[/path], with an explicit port' });

const api = strict(
  {
    host: z._default(text(/^[A-Za-z0-9.:[\]-]{1,253}$/, 'a host name or IP address, e.g. "127.0.0.1"'), DEFAULT_API_HOST),
    port: int(1, 65535, '', 'add "port": <1..65535>, the trainer API port of this node'),
    allowRemoteTrainers: z._default(boolean(), false),
  },
  'add "api": { "host": "127.0.0.1", "port": <port> }',
);

const region = strict({
  id: text(REGION_ID_RE, REGION_ID_RULE, 'add "id": "<region id>", e.g. "eu"'),
  jurisdiction: text(JURISDICTION_RE, JURISDICTION_RULE, 'add "jurisdiction": "<label>", e.g. "EU"'),
  endpoint,
  // every message names the region's id: schema-messages.ts
  publicKey: z.string().check(z.regex(HEX64_RE)).register(z.globalRegistry, { description: "Ed25519 public key (hex) from 'mpc-node keygen --region <id>'" }),
  api,
});

const ms = (): z.ZodMiniNumber<number> => int(1, MAX_TIMEOUT_MS, ' (milliseconds)');
const round = strict({
  scaleBits: z._default(int(0, MAX_SCALE_BITS, ' (fractional bits of the fixed-point encoding)'), ROUND_DEFAULTS.scaleBits),
  clipL2: z._default(positive(), ROUND_DEFAULTS.clipL2),
  clipMode: z._default(
    z.enum(['clip', 'reject'], { error: (iss) => `expected "clip" (scale large updates down to clipL2) or "reject" (refuse them), got ${describe(iss.input)}` }),
    ROUND_DEFAULTS.clipMode,
  ),
  // default min(2, regions) and upper bound the region count: round-limits.ts; messages: schema-messages.ts
  minContributors: z.optional(z.int().check(z.minimum(1))),
  maxParams: z._default(int(1, Number.MAX_SAFE_INTEGER), ROUND_DEFAULTS.maxParams),
  maxTrainersPerRound: z._default(int(1, Number.MAX_SAFE_INTEGER), ROUND_DEFAULTS.maxTrainersPerRound),
  maxWeight: z._default(positive(), ROUND_DEFAULTS.maxWeight),
  collectMs: z._default(ms(), ROUND_DEFAULTS.collectMs),
  phaseTimeoutMs: z._default(ms(), ROUND_DEFAULTS.phaseTimeoutMs),
  roundTimeoutMs: z._default(ms(), ROUND_DEFAULTS.roundTimeoutMs),
  protocol: z._default(
    z.union([z.literal(1), z.literal(2)], { error: (iss) => `expected 1 or 2 (the round protocol's version; 2 sends about half the bytes), got ${describe(iss.input)}` }),
    ROUND_DEFAULTS.protocol,
  ),
});

const classification = z.enum(DATA_CLASSIFICATIONS, {
  error: (iss) => {
    const near = typeof iss.input === 'string' ? suggest(iss.input, DATA_CLASSIFICATIONS) : undefined;
    return `expected one of ${DATA_CLASSIFICATIONS.map((x) => JSON.stringify(x)).join(', ')}, got ${describe(iss.input)}` + (near === undefined ? '' : ` (did you mean ${JSON.stringify(near)}?)`);
  },
});
const regionPolicy = strict({
  classification: z._default(classification, POLICY_DEFAULTS.classification),
  // which labels exist and that none repeats: policy-section.ts
  shareTo: z.optional(
    z.array(z.string({ error: (iss) => `expected a jurisdiction label (a string), got ${describe(iss.input)}` }), {
      error: (iss) => `expected an array of jurisdiction labels, e.g. ["EU", "CH"], got ${describe(iss.input)}`,
    }),
  ),
});

const flow = strict(
  {
    // not a string: schema-messages.ts lists the ids and labels; that they exist: policy-section.ts
    from: z.string({ error: orMissing('add "from": "<region id>", the dealing region', () => undefined) }),
    toJurisdiction: z.optional(z.string()),
    toRegion: z.optional(z.string()),
  },
  'add "flow": { "from": "<region>", "toJurisdiction": "<label>" }',
)
  .check(
    z.refine((f) => (f.toJurisdiction === undefined) !== (f.toRegion === undefined), {
      error: 'give exactly one of "toJurisdiction" (every region of a jurisdiction) and "toRegion" (one region)',
    }),
  )
  .register(z.globalRegistry, { oneOf: [{ required: ['toJurisdiction'] }, { required: ['toRegion'] }] });

function grantTime(key: 'notBefore' | 'notAfter', example: string): z.ZodMiniString {
  const error = orMissing(`add "${key}": "${example}"`, (iss) => `expected a UTC time written exactly as "${example}", got ${describe(iss.input)}`);
  return z.string({ error }).check(z.regex(GRANT_TIME_RE, { error, abort: true }), z.refine((t) => parseGrantTime(t) !== undefined, { error }));
}
const grant = strict({
  // its messages name the federation: schema-messages.ts; that it is this one: policy-section.ts
  federation: z.string(),
  id: text(GRANT_ID_RE, 'a grant id is 1-64 letters, digits, ".", "_" or "-"', 'add "id": "<grant id>"'),
  flow,
  notBefore: grantTime('notBefore', '2026-01-01T00:00:00Z'),
  notAfter: grantTime('notAfter', '2026-12-31T23:59:59Z'),
  signature: z
    .string({
      error: orMissing(
        "the grant is unsigned: sign it with 'mpc-node policy grant --authority-key PATH ...' and paste its output",
        (iss) => `expected 128 hex characters (an Ed25519 signature from 'mpc-node policy grant'), got ${describe(iss.input)}`,
      ),
    })
    .check(z.regex(HEX128_RE, { error: (iss) => `expected 128 hex characters (an Ed25519 signature from 'mpc-node policy grant'), got ${describe(iss.input)}` })),
});

/** A number in (0, max]. */
function fraction(max: number, hint: string): z.ZodMiniNumber<number> {
  const error: Message = (iss) => `expected a number > 0 and <= ${max}${hint}, got ${describe(iss.input)}`;
  return z.number({ error: orMissing(`add a number > 0 and <= ${max}${hint}`, error) }).check(z.positive({ error }), z.maximum(max, { error }));
}
const oneOf = <T extends readonly [string, ...string[]]>(values: T, hint: string): z.ZodMiniEnum<{ [K in T[number]]: K }> =>
  z.enum(values, { error: (iss) => `expected ${values.map((v) => JSON.stringify(v)).join(' or ')} (${hint}), got ${describe(iss.input)}` });
// the rules across fields (the target against the budget, the noise against the field): federation/privacy-section.ts
const privacy = strict(
  {
    mechanism: z._default(oneOf(PRIVACY_MECHANISMS, 'the noise each region adds; docs/privacy.md'), 'skellam'),
    unit: z._default(oneOf(PRIVACY_UNITS, "one trainer's update, clipped to round.clipL2, weight at most round.maxWeight"), 'trainer-update'),
    delta: fraction(MAX_DELTA, ' (the delta of every epsilon, per round and for the budget; e.g. 1e-6)'),
    epsilonPerRound: z.optional(positive()),
    noiseMultiplier: z.optional(positive()),
    budget: strict(
      {
        epsilon: z.number({ error: orMissing('add "epsilon": <the most epsilon the run may spend>', (iss) => `expected a finite number > 0, got ${describe(iss.input)}`) }).check(
          z.positive({ error: (iss) => `expected a finite number > 0, got ${describe(iss.input)}` }),
        ),
        run: z._default(text(/^[A-Za-z0-9._:-]{0,128}$/, 'a round-id prefix: 0-128 characters of A-Z a-z 0-9 . _ : -'), ''),
      },
      'add "budget": { "epsilon": <most epsilon over the run>, "run": "<round-id prefix>" }',
    ),
  },
)
  .check(
    z.refine((p) => (p.epsilonPerRound === undefined) !== (p.noiseMultiplier === undefined), {
      error: 'give exactly one of "epsilonPerRound" (the noise is calibrated to it) and "noiseMultiplier" (noise sd over the L2 sensitivity)',
    }),
  )
  .register(z.globalRegistry, { oneOf: [{ required: ['epsilonPerRound'] }, { required: ['noiseMultiplier'] }] });

const authorityError: Message = (iss) => `expected 64 hex characters (an Ed25519 public key from 'mpc-node policy authority-keygen'), got ${describe(iss.input)}`;
const policy = strict({
  // keys are region ids of this federation (policy-section.ts); the type message names one: schema-messages.ts
  regions: z.optional(z.record(z.string(), regionPolicy)),
  // upper bound maxTrainersPerRound x regions: policy-section.ts; messages: schema-messages.ts
  minTrainers: z._default(z.int().check(z.minimum(1)), POLICY_DEFAULTS.minTrainers),
  maxRoundsInFlight: z._default(int(1, MAX_ROUNDS_IN_FLIGHT, ' (rounds one node runs at the same time)'), POLICY_DEFAULTS.maxRoundsInFlight),
  retention: z.prefault(
    strict({
      transcriptDays: z._default(z.nullable(int(1, MAX_RETENTION_DAYS, ' (days a round transcript is kept; null or omitted keeps them)')), POLICY_DEFAULTS.transcriptDays),
      shareMaterial: z._default(
        z.literal(SHARE_MATERIAL_ZEROIZE, {
          error: (iss) =>
            `the only accepted value is "${SHARE_MATERIAL_ZEROIZE}" (got ${describe(iss.input)}): shares are wiped from memory when each round ends and are never written to disk; ` +
            'there is no setting that keeps them (see docs/policy.md)',
        }),
        SHARE_MATERIAL_ZEROIZE,
      ),
    }),
    {},
  ),
  // a point on the curve, not of small order: policy-section.ts
  authority: z._default(z.nullable(z.string({ error: authorityError }).check(z.regex(HEX64_RE, { error: authorityError }))), null),
  grants: z._default(z.array(grant, { error: (iss) => `expected an array of signed grants (from 'mpc-node policy grant'), got ${describe(iss.input)}` }), []),
  privacy: z.optional(privacy),
});

/** The federation file's shape. Its output is the file without comments, with every default filled in. */
export const federationFileSchema = strict({
  $schema: z.optional(z.string({ error: (iss) => `expected a string (the URL or path of federation.schema.json, for editors), got ${describe(iss.input)}` })),
  federation: text(FEDERATION_NAME_RE, `${FEDERATION_NAME_RULE}, e.g. "acme-fl"`, 'add "federation": "<name>", e.g. "acme-fl"'),
  version: z.literal(FEDERATION_FILE_VERSION, {
    error: orMissing(`add "version": ${FEDERATION_FILE_VERSION}`, (iss) => `unsupported federation file version ${describe(iss.input)}: this mpc-node reads version ${FEDERATION_FILE_VERSION}`),
  }),
  regions: z
    .array(region, { error: orMissing('add "regions": [ ... ], one entry per region node', (iss) => `expected an array of regions, got ${describe(iss.input)}`) })
    .check(
      z.minLength(1, { error: 'is empty: list every region node (see mpc-node init)' }),
      z.maxLength(MAX_PARTIES, { error: (iss) => `has ${(iss.input as unknown[]).length} regions, at most ${MAX_PARTIES} are supported (share x-coordinates are one byte)` }),
    ),
  allowInsecureThreshold: z._default(boolean(), false),
  // upper bound the region count, and 1 only with allowInsecureThreshold: parse.ts; type message: schema-messages.ts
  threshold: z.int().check(z.minimum(1, { error: (iss) => `threshold ${describe(iss.input)} is impossible: it must be at least 1 (2 or more for privacy)` })),
  round: z.prefault(round, {}),
  policy: z.optional(policy),
});

/** A federation file after the schema pass. */
export type FederationFile = z.output<typeof federationFileSchema>;
export type GrantFile = z.output<typeof grant>;
export type RegionPolicyFile = z.output<typeof regionPolicy>;
export type PrivacyFile = z.output<typeof privacy>;

/** A deep copy of `v` without comment keys ("//..."), which are ignored at every level. */
export function withoutComments(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutComments);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith(COMMENT_KEY_PREFIX)).map(([k, x]) => [k, withoutComments(x)]));
}

/**
 * The schema pass: the file's shape, or a ConfigError naming every offending JSON path.
 * @throws {ConfigError} CONFIG_INVALID, e.g. `treshold: unknown key "treshold" (did you mean "threshold"?); ...`.
 */
export function readFederationFile(ctx: Ctx, json: unknown): FederationFile {
  const r = federationFileSchema.safeParse(withoutComments(json), { error: contextMessage(json) });
  if (!r.success) failOnIssues(ctx, r.error.issues);
  return r.data;
}
