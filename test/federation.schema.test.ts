/**
 * The federation file's JSON Schema (schema/federation.schema.json), generated from the zod
 * schema of src/federation/schema.ts: the committed file is a fresh generation, the documented
 * example and `mpc-node init` templates fit it, and parseFederation and the JSON Schema agree on
 * the shape of valid and invalid files (the rules across fields are parseFederation's alone).
 * The JSON Schema is read by a tiny walker of the keywords the generator emits, not a validator
 * dependency.
 */
import { readFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, it } from 'vitest';
import { federationTemplate } from '../src/cli/init.js';
import { ConfigError } from '../src/errors.js';
import { federationDigestHex, parseFederation } from '../src/federation/index.js';
import { federationJsonSchema, federationJsonSchemaText } from '../src/federation/json-schema.js';

type S = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SCHEMA_URL = new URL('../schema/federation.schema.json', import.meta.url);
const key = (seed: number): string => bytesToHex(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));

function base(): S {
  return {
    federation: 'acme-fl',
    version: 1,
    threshold: 2,
    regions: [
      { id: 'eu', jurisdiction: 'EU', endpoint: 'ws://127.0.0.1:7101', publicKey: key(1), api: { host: '127.0.0.1', port: 7201 } },
      { id: 'us', jurisdiction: 'US', endpoint: 'ws://127.0.0.1:7102', publicKey: key(2), api: { port: 7202 } },
      { id: 'apac', jurisdiction: 'APAC', endpoint: 'ws://127.0.0.1:7103', publicKey: key(3), api: { host: '127.0.0.1', port: 7203 } },
    ],
  };
}
const mutated = (f: (j: S) => void): S => {
  const j = base();
  f(j);
  return j;
};

const typeOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v === 'number' ? (Number.isInteger(v) ? 'integer' : 'number') : typeof v;
const join = (path: string, k: string | number): string => (typeof k === 'number' ? `${path}[${k}]` : path === '' ? k : `${path}.${k}`);

/**
 * The JSON paths where `v` breaks `schema` (empty: it fits). `structure` checks only types,
 * required keys and allowed keys, not patterns, ranges or values (templates hold placeholders).
 */
function violations(schema: S, v: unknown, path = '', structure = false): string[] {
  const out: string[] = [];
  if (schema['anyOf'] !== undefined) {
    const fits = (schema['anyOf'] as S[]).map((s) => violations(s, v, path, structure));
    return fits.some((f) => f.length === 0) ? [] : fits[0]!;
  }
  const t = schema['type'] as string | undefined;
  if (t !== undefined && typeOf(v) !== t && !(t === 'number' && typeOf(v) === 'integer')) return [path];
  if (!structure) {
    if ('const' in schema && v !== schema['const']) out.push(path);
    if (schema['enum'] !== undefined && !(schema['enum'] as unknown[]).includes(v)) out.push(path);
    if (typeof v === 'string' && schema['pattern'] !== undefined && !new RegExp(schema['pattern'] as string, 'u').test(v)) out.push(path);
    if (typeof v === 'number') {
      if (schema['minimum'] !== undefined && v < schema['minimum']) out.push(path);
      if (schema['maximum'] !== undefined && v > schema['maximum']) out.push(path);
      if (schema['exclusiveMinimum'] !== undefined && v <= schema['exclusiveMinimum']) out.push(path);
    }
    if (Array.isArray(v) && ((schema['minItems'] ?? 0) > v.length || (schema['maxItems'] ?? Infinity) < v.length)) out.push(path);
  }
  if (Array.isArray(v) && schema['items'] !== undefined) v.forEach((x, i) => out.push(...violations(schema['items'] as S, x, join(path, i), structure)));
  if (t === 'object' && typeOf(v) === 'object') {
    const o = v as S;
    const props = (schema['properties'] ?? {}) as S;
    for (const k of (schema['required'] ?? []) as string[]) if (!(k in o)) out.push(join(path, k));
    for (const [k, x] of Object.entries(o)) {
      if (k in props) out.push(...violations(props[k] as S, x, join(path, k), structure));
      else if (Object.keys((schema['patternProperties'] ?? {}) as S).some((p) => new RegExp(p, 'u').test(k))) continue;
      else if (schema['additionalProperties'] === false) out.push(join(path, k));
      else if (typeof schema['additionalProperties'] === 'object') out.push(...violations(schema['additionalProperties'] as S, x, join(path, k), structure));
    }
    if (schema['oneOf'] !== undefined && (schema['oneOf'] as S[]).filter((s) => violations(s, v, path, structure).length === 0).length !== 1) out.push(path);
  }
  return out;
}

/** The JSON path parseFederation's error names, or null when it accepts the file. */
function parserPath(j: unknown): string | null {
  try {
    parseFederation(j);
    return null;
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    const m = /^([^ ]*?): /.exec((e as ConfigError).message);
    return m === null ? '' : m[1]!;
  }
}

describe('schema/federation.schema.json', () => {
  it('is what npm run build:schema generates from src/federation/schema.ts', async () => {
    expect(await readFile(SCHEMA_URL, 'utf8')).toBe(federationJsonSchemaText());
  });

  it('is shipped in the package and exported as mpc-node/federation.schema.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as S;
    expect(pkg['files']).toContain('schema/');
    expect(pkg['exports']['./federation.schema.json']).toBe('./schema/federation.schema.json');
    expect(pkg['scripts']['build']).toContain('npm run build:schema');
  });

  it('is strict at every level: no other keys than the listed ones, comments aside', () => {
    const strictObjects: string[] = [];
    const walk = (s: unknown, path: string): void => {
      if (typeof s !== 'object' || s === null) return;
      const o = s as S;
      if (o['type'] === 'object') {
        strictObjects.push(path);
        expect(o['patternProperties'], path).toEqual({ '^//': {} });
        expect(o['additionalProperties'] === false || typeof o['additionalProperties'] === 'object', path).toBe(true);
      }
      for (const [k, x] of Object.entries(o)) walk(x, `${path}/${k}`);
    };
    walk(federationJsonSchema(), '');
    expect(strictObjects.length).toBeGreaterThanOrEqual(9); // top, region, api, round, policy, regions map, region policy, retention, grant, flow
  });

  it('fits the documented example in docs/configuration.md', async () => {
    const md = await readFile(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    const example = JSON.parse(/```json\n([\s\S]*?)```/.exec(md)![1]!) as unknown;
    expect(violations(federationJsonSchema(), example)).toEqual([]);
    expect(md).toContain('schema/federation.schema.json');
    expect(md).toContain('mpc-node/federation.schema.json');
  });

  it('fits the templates of mpc-node init, whose only misfits are the placeholder keys', () => {
    for (const regions of [['eu', 'us', 'apac'], ['a', 'b'], ['eu']]) {
      const t = federationTemplate('acme-fl', regions);
      expect(violations(federationJsonSchema(), t, '', true)).toEqual([]);
      expect(violations(federationJsonSchema(), t)).toEqual(regions.map((_, i) => `regions[${i}].publicKey`));
    }
  });
});

describe('parseFederation and the JSON Schema agree', () => {
  const schema = federationJsonSchema();
  const valid: [string, (j: S) => void][] = [
    ['the base file', () => {}],
    ['comments at every level', (j) => ((j['//'] = 'c'), (j.regions[0]['// x'] = 1), (j.regions[0].api['//'] = []), (j.round = { '//': {} }), (j.policy = { regions: { '//': 'x' } }))],
    ['every round field', (j) => (j.round = { scaleBits: 20, clipL2: 0.5, clipMode: 'reject', minContributors: 3, maxParams: 10, maxTrainersPerRound: 5, maxWeight: 2.5, collectMs: 10, phaseTimeoutMs: 20, roundTimeoutMs: 30 })],
    ['a policy', (j) => (j.policy = { regions: { eu: { classification: 'personal', shareTo: ['EU', 'US'] } }, minTrainers: 2, maxRoundsInFlight: 8, retention: { transcriptDays: null, shareMaterial: 'zeroize' }, authority: null, grants: [] })],
    ['a "$schema" key', (j) => (j['$schema'] = './node_modules/mpc-node/schema/federation.schema.json')],
  ];
  it.each(valid)('both accept %s', (_, f) => {
    const j = mutated(f);
    expect(violations(schema, j)).toEqual([]);
    expect(parserPath(j)).toBeNull();
  });

  const invalid: [string, (j: S) => void][] = [
    ['threshold', (j) => (j.threshold = '2')],
    ['threshold', (j) => (j.threshold = 0)],
    ['treshold', (j) => (j.treshold = 2)],
    ['version', (j) => (j.version = 2)],
    ['regions', (j) => (j.regions = [])],
    ['regions[1].id', (j) => (j.regions[1].id = 'US')],
    ['regions[2].endpoint', (j) => (j.regions[2].endpoint = 'http://127.0.0.1:7103')],
    ['regions[2].endpoint', (j) => (j.regions[2].endpoint = 'wss://mpc.example.com/path')],
    ['regions[0].publicKey', (j) => (j.regions[0].publicKey = 'abc')],
    ['regions[0].api.port', (j) => (j.regions[0].api.port = 65536)],
    ['regions[0].api.hots', (j) => (j.regions[0].api.hots = '127.0.0.1')],
    ['regions[1].api', (j) => delete j.regions[1].api],
    ['round.scaleBits', (j) => (j.round = { scaleBits: 41 })],
    ['round.clipL2', (j) => (j.round = { clipL2: 0 })],
    ['round.clipMode', (j) => (j.round = { clipMode: 'clamp' })],
    ['round.minContributors', (j) => (j.round = { minContributors: 0 })],
    ['policy.retention.shareMaterial', (j) => (j.policy = { retention: { shareMaterial: 'keep' } })],
    ['policy.regions.eu.classification', (j) => (j.policy = { regions: { eu: { classification: 'secret' } } })],
    ['policy.authority', (j) => (j.policy = { authority: 'abc' })],
    ['$schema', (j) => (j['$schema'] = 1)],
  ];
  it.each(invalid)('both reject a bad %s, at that path', (path, f) => {
    const j = mutated(f);
    expect(violations(schema, j)).toContain(path);
    expect(parserPath(j)).toBe(path);
  });

  const crossField: [string, (j: S) => void][] = [
    ['threshold', (j) => (j.threshold = 4)],
    ['regions[2].id', (j) => (j.regions[2].id = 'eu')],
    ['regions[1].endpoint', (j) => (j.regions[1].endpoint = 'ws://127.0.0.1:7101')],
    ['regions[0].publicKey', (j) => (j.regions[0].publicKey = '01' + '00'.repeat(31))],
    ['round.minContributors', (j) => (j.round = { minContributors: 4 })],
    ['round', (j) => (j.round = { scaleBits: 40 })],
    ['policy.regions.ue', (j) => (j.policy = { regions: { ue: {} } })],
  ];
  it.each(crossField)('only parseFederation rejects %s, a rule across fields', (path, f) => {
    const j = mutated(f);
    expect(violations(schema, j)).toEqual([]);
    expect(parserPath(j)).toBe(path);
  });
});

describe('the "$schema" key and the schema pass messages', () => {
  it('accepts "$schema" for editors and keeps it out of the parsed federation and its digest', () => {
    const plain = parseFederation(base());
    const f = parseFederation(mutated((j) => (j['$schema'] = 'https://example.com/federation.schema.json')));
    expect(Object.keys(f)).not.toContain('$schema');
    expect(federationDigestHex(f)).toBe(federationDigestHex(plain));
    expect(() => parseFederation(mutated((j) => (j['$schema'] = 1)))).toThrow(/^\$schema: expected a string/);
  });

  it('lists "$schema" among the allowed top-level keys', () => {
    expect(() => parseFederation(mutated((j) => (j.threshhold = 2)))).toThrow(
      /^threshhold: unknown key "threshhold" \(did you mean "threshold"\?\); allowed here: \$schema, federation, version, regions, allowInsecureThreshold, threshold, round, policy/,
    );
  });

  it('names the region ids and jurisdictions for a grant flow that is not strings', () => {
    const withFlow = (flow: unknown) => mutated((j) => (j.policy = { authority: key(9), grants: [{ federation: 'acme-fl', id: 'g', flow, notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-12-31T23:59:59Z', signature: 'ab'.repeat(64) }] }));
    expect(() => parseFederation(withFlow({ from: 5, toRegion: 'us' }))).toThrow('policy.grants[0].flow.from: 5 is not a region id of this federation (eu, us, apac)');
    expect(() => parseFederation(withFlow({ from: 'eu', toRegion: true }))).toThrow('policy.grants[0].flow.toRegion: true is not a region id of this federation (eu, us, apac)');
    expect(() => parseFederation(withFlow({ from: 'eu', toJurisdiction: 1 }))).toThrow('policy.grants[0].flow.toJurisdiction: 1 is the jurisdiction of no region (this federation has EU, US, APAC)');
    expect(() => parseFederation(withFlow({ from: 'eu', toJurisdiction: 'US', toRegion: 'us' }))).toThrow('policy.grants[0].flow: give exactly one of "toJurisdiction"');
  });

  it('words every failure itself: no library fallback message reaches the user', () => {
    const bad: unknown[] = [true, 'x', 1.5, -1, null, [], {}, [1], { a: 1 }, 2 ** 60, 'REPLACE-ME'];
    const fields: ((j: S, v: unknown) => void)[] = [
      (j, v) => (j.federation = v),
      (j, v) => (j.version = v),
      (j, v) => (j.threshold = v),
      (j, v) => (j.allowInsecureThreshold = v),
      (j, v) => (j.regions = v),
      (j, v) => (j.regions[0] = v),
      (j, v) => (j.regions[0].endpoint = v),
      (j, v) => (j.regions[0].publicKey = v),
      (j, v) => (j.regions[0].api = v),
      (j, v) => (j.regions[0].api.host = v),
      (j, v) => (j.round = { minContributors: v }),
      (j, v) => (j.round = { maxParams: v }),
      (j, v) => (j.round = { clipL2: v }),
      (j, v) => (j.policy = v),
      (j, v) => (j.policy = { regions: v }),
      (j, v) => (j.policy = { regions: { eu: v } }),
      (j, v) => (j.policy = { regions: { eu: { shareTo: v } } }),
      (j, v) => (j.policy = { minTrainers: v }),
      (j, v) => (j.policy = { retention: { transcriptDays: v } }),
      (j, v) => (j.policy = { authority: v }),
      (j, v) => (j.policy = { grants: v }),
      (j, v) => (j.policy = { privacy: v }),
      (j, v) => (j.policy = { privacy: { delta: v, epsilonPerRound: v, budget: v } }),
      (j, v) => (j.policy = { privacy: { delta: 1e-6, noiseMultiplier: v, mechanism: v, unit: v, budget: { epsilon: v, run: v } } }),
      (j, v) => (j.policy = { authority: key(9), grants: [v] }),
      (j, v) => (j.policy = { authority: key(9), grants: [{ federation: 'acme-fl', id: 'g', flow: v, notBefore: v, notAfter: v, signature: v }] }),
    ];
    for (const set of fields) {
      for (const v of bad) {
        try {
          parseFederation(mutated((j) => set(j, v)));
        } catch (e) {
          const msg = (e as Error).message;
          expect(msg).not.toMatch(/Invalid input|^: /);
          // one problem: "path: ..."; several: "N problems:" and one indented "path: ..." line each
          const lines = /^\d+ problems:\n/.test(msg) ? msg.split('\n').slice(1).map((l) => l.replace(/^ {2}/, '')) : [msg];
          for (const l of lines) expect(l).toMatch(/^[$\w[\].]*: /);
        }
      }
    }
  });
});

describe('every problem of a file at once', () => {
  const problems = (j: S): string[] => {
    try {
      parseFederation(j, 'f.json');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const m = (e as Error).message;
      const head = /^f\.json: (\d+) problems:\n/.exec(m);
      if (!head) return [m.replace(/^f\.json: /, '')];
      const lines = m.split('\n').slice(1).map((l) => l.replace(/^ {2}/, ''));
      expect(lines).toHaveLength(Number(head[1]));
      return lines;
    }
    throw new Error('accepted');
  };

  it('schema problems in several places: each named', () => {
    const got = problems(mutated((j) => {
      j.threshold = 'two';
      j.regions[1].endpoint = 'http://x';
      j.round = { clipL2: -1 };
    }));
    expect(got.map((l) => l.split(':')[0]).sort()).toEqual(['regions[1].endpoint', 'round.clipL2', 'threshold']);
  });

  it('rules across fields: a duplicate id and key, a remote API without allowRemoteTrainers and an impossible threshold, together', () => {
    const got = problems(mutated((j) => {
      j.threshold = 4;
      j.regions[2].id = 'eu';
      j.regions[2].publicKey = key(1);
      j.regions[1].api = { host: '10.0.0.5', port: 7202 };
    }));
    expect(got.map((l) => l.split(':')[0])).toEqual(['regions[1].api.host', 'regions[2].id', 'regions[2].publicKey', 'threshold']);
  });

  it('one problem keeps the one-line form', () => {
    expect(problems(mutated((j) => (j.threshold = 4)))).toEqual(['threshold: threshold 4 is impossible with 3 regions: lower threshold or add regions']);
  });
});
