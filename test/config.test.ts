/**
 * Federation file parsing/validation (src/federation/, read from disk by src/config/federation.ts) and node data files
 * (src/config/node-files.ts). Every rule has a negative test that checks the message names the
 * JSON path of the offending field; the fixture keys are Ed25519 public keys of the fixed seeds
 * 0x01.., 0x02.., 0x03.. (32 repeated bytes).
 */
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { canonicalJson } from '../src/core/canonical-json.js';
import {
  federationDigest,
  federationDigestHex,
  federationWarnings,
  overflowBudget,
  parseFederation,
  regionById,
  regionPublicKey,
  ROUND_DEFAULTS,
} from '../src/federation/index.js';
import { loadFederation } from '../src/config/federation.js';
import { ensureApiToken, readApiToken, resolveNodePaths } from '../src/config/node-files.js';

const key = (seed: number): string => bytesToHex(ed25519.getPublicKey(new Uint8Array(32).fill(seed)));
const KEYS = [key(1), key(2), key(3)] as const;

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A fresh, valid federation file (as parsed JSON) on every call. */
function base(): J {
  return {
    federation: 'acme-fl',
    version: 1,
    threshold: 2,
    regions: [
      { id: 'eu', jurisdiction: 'EU', endpoint: 'ws://127.0.0.1:7101', publicKey: KEYS[0], api: { host: '127.0.0.1', port: 7201 } },
      { id: 'us', jurisdiction: 'US', endpoint: 'ws://127.0.0.1:7102', publicKey: KEYS[1], api: { port: 7202 } },
      { id: 'apac', jurisdiction: 'APAC', endpoint: 'ws://127.0.0.1:7103', publicKey: KEYS[2], api: { host: '127.0.0.1', port: 7203 } },
    ],
  };
}

function mutated(f: (j: J) => void): J {
  const j = base();
  f(j);
  return j;
}

/** Expects parseFederation to throw ConfigError CONFIG_INVALID whose message matches every pattern. */
function rejects(f: (j: J) => void, ...patterns: (string | RegExp)[]): ConfigError {
  let caught: unknown;
  try {
    parseFederation(mutated(f));
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected parseFederation to throw').toBeInstanceOf(ConfigError);
  const err = caught as ConfigError;
  expect(err.code).toBe('CONFIG_INVALID');
  for (const p of patterns) {
    if (typeof p === 'string') expect(err.message).toContain(p);
    else expect(err.message).toMatch(p);
  }
  return err;
}

describe('parseFederation: valid files and defaults', () => {
  it('accepts the documented example and fills in every round default', () => {
    const f = parseFederation(base());
    expect(f.federation).toBe('acme-fl');
    expect(f.threshold).toBe(2);
    expect(f.allowInsecureThreshold).toBe(false);
    expect(f.regions.map((r) => r.id)).toEqual(['eu', 'us', 'apac']);
    expect(f.round).toEqual({ ...ROUND_DEFAULTS, minContributors: 2 });
    expect(f.round).toEqual({
      scaleBits: 16,
      clipL2: 100,
      clipMode: 'clip',
      minContributors: 2,
      maxParams: 100_000_000,
      maxTrainersPerRound: 1000,
      maxWeight: 1e6,
      collectMs: 1000,
      phaseTimeoutMs: 30_000,
      roundTimeoutMs: 300_000,
      protocol: 1,
    });
  });

  it('defaults api.host to 127.0.0.1 and allowRemoteTrainers to false', () => {
    const us = parseFederation(base()).regions[1]!;
    expect(us.api).toEqual({ host: '127.0.0.1', port: 7202, allowRemoteTrainers: false });
  });

  it('keeps round values that are given and defaults only the omitted ones', () => {
    const f = parseFederation(mutated((j) => (j.round = { scaleBits: 20, clipMode: 'reject', minContributors: 3 })));
    expect(f.round.scaleBits).toBe(20);
    expect(f.round.clipMode).toBe('reject');
    expect(f.round.minContributors).toBe(3);
    expect(f.round.clipL2).toBe(100);
  });

  it('is deep-frozen', () => {
    const f = parseFederation(base());
    expect(Object.isFrozen(f)).toBe(true);
    expect(Object.isFrozen(f.regions)).toBe(true);
    expect(Object.isFrozen(f.regions[0])).toBe(true);
    expect(Object.isFrozen(f.regions[0]!.api)).toBe(true);
    expect(Object.isFrozen(f.round)).toBe(true);
    expect(() => {
      (f.round as { clipL2: number }).clipL2 = 1e9;
    }).toThrow(TypeError);
  });

  it('does not keep references into the input object', () => {
    const j = base();
    const f = parseFederation(j);
    j.regions[0].api.port = 9999;
    expect(f.regions[0]!.api.port).toBe(7201);
    expect(Object.isFrozen(j.regions[0].api)).toBe(false);
  });

  it('ignores "//" comment keys at every level', () => {
    const f = parseFederation(
      mutated((j) => {
        j['//'] = 'top';
        j['// threshold'] = 'note';
        j.regions[0]['//'] = 'region';
        j.regions[0].api['//'] = 'api';
        j.round = { '//': 'round' };
      }),
    );
    expect(Object.keys(f)).not.toContain('//');
    expect(Object.keys(f.regions[0]!)).not.toContain('//');
  });

  it('lower-cases public keys and exposes them as bytes', () => {
    const f = parseFederation(mutated((j) => (j.regions[0].publicKey = KEYS[0].toUpperCase())));
    expect(f.regions[0]!.publicKey).toBe(KEYS[0]);
    expect(regionPublicKey(f.regions[0]!)).toEqual(ed25519.getPublicKey(new Uint8Array(32).fill(1)));
  });

  it('accepts wss:// endpoints with a path and IPv6 hosts', () => {
    const f = parseFederation(
      mutated((j) => {
        j.regions[0].endpoint = 'wss://mpc.eu.example.com:443/mpc';
        j.regions[1].endpoint = 'ws://[::1]:7102';
      }),
    );
    expect(f.regions[0]!.endpoint).toBe('wss://mpc.eu.example.com:443/mpc');
  });

  it('names the source file in messages', () => {
    expect(() => parseFederation(mutated((j) => (j.threshold = 9)), 'fed.json')).toThrow(/^fed\.json: threshold: /);
  });
});

describe('parseFederation: structure and unknown keys', () => {
  it('rejects a non-object file', () => {
    expect(() => parseFederation([])).toThrow(/expected a JSON object, got an array/);
    expect(() => parseFederation(null)).toThrow(/expected a JSON object, got null/);
  });
  it('rejects an unknown top-level key and suggests the right one', () => {
    rejects((j) => (j.treshold = 2), 'treshold: unknown key "treshold"', 'did you mean "threshold"?');
  });
  it('rejects an unknown key in a region', () => {
    rejects((j) => (j.regions[1].pubkey = KEYS[1]), 'regions[1].pubkey: unknown key', 'allowed here: id, jurisdiction, endpoint, publicKey, api');
  });
  it('rejects an unknown key in api', () => {
    rejects((j) => (j.regions[0].api.allowRemote = true), 'regions[0].api.allowRemote: unknown key', 'did you mean "allowRemoteTrainers"?');
  });
  it('rejects an unknown key in round', () => {
    rejects((j) => (j.round = { clipL1: 5 }), 'round.clipL1: unknown key', 'did you mean "clipL2"?');
  });
  it('rejects a round that is not an object', () => {
    rejects((j) => (j.round = 5), 'round: expected a JSON object, got 5');
  });
  it('requires federation, version, threshold, regions', () => {
    rejects((j) => delete j.federation, 'federation: missing');
    rejects((j) => delete j.version, 'version: missing', '"version": 1');
    rejects((j) => delete j.threshold, 'threshold: missing');
    rejects((j) => delete j.regions, 'regions: missing');
  });
  it('rejects a bad federation name', () => {
    rejects((j) => (j.federation = 'acme fl'), 'federation: "acme fl" is not valid');
    rejects((j) => (j.federation = 7), 'federation: expected a string');
  });
  it('rejects an unsupported version', () => {
    rejects((j) => (j.version = 2), 'version: unsupported federation file version 2: this mpc-node reads version 1');
  });
  it('rejects regions that are not a non-empty array', () => {
    rejects((j) => (j.regions = {}), 'regions: expected an array of regions');
    rejects((j) => (j.regions = []), 'regions: is empty');
    rejects((j) => (j.regions[2] = 'apac'), 'regions[2]: expected a JSON object');
  });
  it('requires every region field', () => {
    for (const k of ['id', 'jurisdiction', 'endpoint', 'publicKey', 'api']) {
      rejects((j) => delete j.regions[1][k], `regions[1].${k}: missing`);
    }
    rejects((j) => delete j.regions[1].api.port, 'regions[1].api.port: missing');
  });
});

describe('parseFederation: regions', () => {
  it('rejects region ids that do not match ^[a-z][a-z0-9-]{0,31}$', () => {
    for (const id of ['EU', '1eu', 'eu_west', '', 'a'.repeat(33), 'eu west']) {
      rejects((j) => (j.regions[0].id = id), 'regions[0].id: ', 'is not valid');
    }
    expect(() => parseFederation(mutated((j) => (j.regions[0].id = 'a'.repeat(32))))).not.toThrow();
  });
  it('rejects duplicate region ids', () => {
    rejects((j) => (j.regions[2].id = 'eu'), 'regions[2].id: duplicate region id "eu"', 'regions[0]');
  });
  it('rejects a bad jurisdiction', () => {
    rejects((j) => (j.regions[0].jurisdiction = ''), 'regions[0].jurisdiction: "" is not valid');
    rejects((j) => (j.regions[0].jurisdiction = 3), 'regions[0].jurisdiction: expected a string');
  });
  it('rejects endpoints that are not ws:// or wss://', () => {
    rejects((j) => (j.regions[1].endpoint = 'http://127.0.0.1:7102'), 'regions[1].endpoint: scheme "http" is not allowed', 'ws://host:port');
    rejects((j) => (j.regions[1].endpoint = '127.0.0.1:7102'), 'regions[1].endpoint:');
    rejects((j) => (j.regions[1].endpoint = 'not a url'), 'regions[1].endpoint: "not a url" is not a URL');
    rejects((j) => (j.regions[1].endpoint = 7102), 'regions[1].endpoint: expected ws://host:port');
  });
  it('rejects endpoints without an explicit port (even the scheme default)', () => {
    rejects((j) => (j.regions[1].endpoint = 'ws://127.0.0.1'), 'regions[1].endpoint: "ws://127.0.0.1" has no port', 'ws://127.0.0.1:7101');
    rejects((j) => (j.regions[1].endpoint = 'wss://mpc.example.com/path'), 'regions[1].endpoint: ', 'has no port');
    expect(() => parseFederation(mutated((j) => (j.regions[1].endpoint = 'wss://mpc.example.com:443')))).not.toThrow();
  });
  it('rejects endpoints with credentials, query or fragment', () => {
    rejects((j) => (j.regions[1].endpoint = 'ws://u:p@127.0.0.1:7102'), 'regions[1].endpoint: must not contain user:password@');
    rejects((j) => (j.regions[1].endpoint = 'ws://127.0.0.1:7102/?a=1'), 'regions[1].endpoint: must not contain a ?query');
  });
  it('rejects the endpoint placeholder that keygen prints', () => {
    rejects((j) => (j.regions[1].endpoint = "REPLACE-ME: wss://<this node's host>:<port>"), 'regions[1].endpoint: still a placeholder');
  });
  it('rejects duplicate endpoints', () => {
    rejects((j) => (j.regions[2].endpoint = 'ws://127.0.0.1:7101'), 'regions[2].endpoint: same host and port', 'regions[0]');
  });
  it('rejects a public key of the wrong length, naming the count', () => {
    const err = rejects((j) => (j.regions[1].publicKey = KEYS[1].slice(1)));
    expect(err.message).toBe("regions[1].publicKey: expected 64 hex characters (an Ed25519 public key from 'mpc-node keygen --region us'), got 63");
  });
  it('rejects a public key with non-hex characters, naming the position', () => {
    rejects((j) => (j.regions[1].publicKey = `${KEYS[1].slice(0, 10)}g${KEYS[1].slice(11)}`), 'regions[1].publicKey: ', 'found "g" at position 10');
    rejects((j) => (j.regions[1].publicKey = 12), 'regions[1].publicKey: expected 64 hex characters');
  });
  it('rejects a public key that is not an Ed25519 point', () => {
    rejects((j) => (j.regions[0].publicKey = '02' + '00'.repeat(31)), 'regions[0].publicKey: is not a valid Ed25519 public key');
  });
  it('rejects a small-order public key', () => {
    rejects((j) => (j.regions[0].publicKey = '01' + '00'.repeat(31)), 'regions[0].publicKey: is a small-order Ed25519 point');
  });
  it('rejects the init placeholder with a keygen instruction', () => {
    rejects((j) => (j.regions[2].publicKey = "REPLACE-ME: run 'mpc-node keygen --region apac'"), 'regions[2].publicKey: still the placeholder', "run 'mpc-node keygen --region apac'");
  });
  it('rejects duplicate public keys (also across case)', () => {
    rejects((j) => (j.regions[2].publicKey = KEYS[0].toUpperCase()), 'regions[2].publicKey: same public key as regions[0]');
  });
  it('rejects api ports outside 1..65535', () => {
    rejects((j) => (j.regions[0].api.port = 0), 'regions[0].api.port: 0 is out of range');
    rejects((j) => (j.regions[0].api.port = 65536), 'regions[0].api.port: 65536 is out of range');
    rejects((j) => (j.regions[0].api.port = '7201'), 'regions[0].api.port: expected an integer');
  });
  it('requires allowRemoteTrainers for a non-loopback api host', () => {
    rejects((j) => (j.regions[0].api.host = '0.0.0.0'), 'regions[0].api.host: "0.0.0.0" is not a loopback address', '"allowRemoteTrainers": true');
    const f = parseFederation(mutated((j) => (j.regions[0].api = { host: '0.0.0.0', port: 7201, allowRemoteTrainers: true })));
    expect(f.regions[0]!.api.allowRemoteTrainers).toBe(true);
    expect(federationWarnings(f).join('\n')).toContain('allowRemoteTrainers');
    expect(() => parseFederation(mutated((j) => (j.regions[0].api.host = 'localhost')))).not.toThrow();
    expect(() => parseFederation(mutated((j) => (j.regions[0].api.host = '::1')))).not.toThrow();
  });
  it('rejects a non-boolean allowRemoteTrainers', () => {
    rejects((j) => (j.regions[0].api.allowRemoteTrainers = 'yes'), 'regions[0].api.allowRemoteTrainers: expected true or false');
  });
  it('rejects api ports that clash with other nodes on the same machine', () => {
    rejects((j) => (j.regions[1].api.port = 7201), 'regions[1].api.port: 7201 is also the API port of regions[0]');
    rejects((j) => (j.regions[1].api.port = 7103), 'regions[1].api.port: 7103 is also the peer port of regions[2].endpoint');
  });
});

describe('parseFederation: threshold', () => {
  it('rejects a threshold above the number of regions', () => {
    rejects((j) => (j.threshold = 4), 'threshold: threshold 4 is impossible with 3 regions: lower threshold or add regions');
  });
  it('rejects a threshold below 1 or not an integer', () => {
    rejects((j) => (j.threshold = 0), 'threshold: threshold 0 is impossible');
    rejects((j) => (j.threshold = 1.5), 'threshold: expected an integer from 2 to 3, got 1.5');
    rejects((j) => (j.threshold = '2'), 'threshold: expected an integer');
  });
  it('rejects threshold 1 unless allowInsecureThreshold is set', () => {
    rejects((j) => (j.threshold = 1), 'threshold: threshold 1 gives no privacy', '"allowInsecureThreshold": true');
    const f = parseFederation(mutated((j) => ((j.threshold = 1), (j.allowInsecureThreshold = true))));
    expect(f.threshold).toBe(1);
    expect(federationWarnings(f).join('\n')).toMatch(/threshold is 1/);
  });
  it('rejects a non-boolean allowInsecureThreshold', () => {
    rejects((j) => (j.allowInsecureThreshold = 1), 'allowInsecureThreshold: expected true or false');
  });
  it('warns, without failing, when threshold equals the number of regions', () => {
    expect(federationWarnings(parseFederation(mutated((j) => (j.threshold = 3))))).toEqual([
      'threshold equals the number of regions (3): one node offline stops every round',
    ]);
    expect(federationWarnings(parseFederation(base()))).toEqual([]);
  });
});

describe('parseFederation: round', () => {
  const round = (r: J) => (j: J) => (j.round = r);
  it('requires minContributors between 1 and the number of regions', () => {
    rejects(round({ minContributors: 0 }), 'round.minContributors: 0 is out of range', 'this federation has 3 regions');
    rejects(round({ minContributors: 4 }), 'round.minContributors: 4 is out of range');
    expect(federationWarnings(parseFederation(mutated(round({ minContributors: 1 })))).join()).toMatch(/minContributors is 1/);
  });
  it('defaults minContributors to min(2, regions)', () => {
    const f = parseFederation(mutated((j) => ((j.regions = j.regions.slice(0, 1)), (j.threshold = 1), (j.allowInsecureThreshold = true))));
    expect(f.round.minContributors).toBe(1);
  });
  it('requires scaleBits to be an integer 0..40', () => {
    rejects(round({ scaleBits: 41 }), 'round.scaleBits: 41 is out of range', 'from 0 to 40');
    rejects(round({ scaleBits: -1 }), 'round.scaleBits: -1 is out of range');
    rejects(round({ scaleBits: 8.5 }), 'round.scaleBits: expected an integer');
    expect(parseFederation(mutated(round({ scaleBits: 0 }))).round.scaleBits).toBe(0);
  });
  it('requires clipL2 to be finite and > 0', () => {
    for (const v of [0, -1, Infinity, NaN, '100', null]) rejects(round({ clipL2: v }), 'round.clipL2: expected a finite number > 0');
    expect(parseFederation(mutated(round({ clipL2: 0.5 }))).round.clipL2).toBe(0.5);
  });
  it('requires clipMode clip or reject', () => {
    rejects(round({ clipMode: 'clamp' }), 'round.clipMode: expected "clip"', '"reject"', 'got "clamp"');
  });
  it('requires positive integer sizes', () => {
    rejects(round({ maxParams: 0 }), 'round.maxParams: 0 is out of range');
    rejects(round({ maxTrainersPerRound: 2.5 }), 'round.maxTrainersPerRound: expected an integer');
    rejects(round({ maxWeight: 0 }), 'round.maxWeight: expected a finite number > 0');
  });
  it('requires positive integer timeouts that setTimeout can honour', () => {
    for (const k of ['collectMs', 'phaseTimeoutMs', 'roundTimeoutMs']) {
      rejects(round({ [k]: 0 }), `round.${k}: 0 is out of range`, '(milliseconds)');
      rejects(round({ [k]: 10.5 }), `round.${k}: expected an integer`);
    }
    rejects(round({ roundTimeoutMs: 2 ** 31 }), 'round.roundTimeoutMs: 2147483648 is out of range', 'to 2147483647');
  });
  it('requires the phase timeout to fit in the round timeout', () => {
    rejects(round({ phaseTimeoutMs: 400_000 }), 'round.phaseTimeoutMs: 400000 is longer than round.roundTimeoutMs (300000)');
  });
  it('requires collectMs to be shorter than the round timeout', () => {
    rejects(round({ collectMs: 300_000 }), 'round.collectMs: 300000 is not shorter than round.roundTimeoutMs');
  });
});

describe('parseFederation: fixed-point overflow budget', () => {
  const round = (r: J) => (j: J) => ((j.regions = j.regions.slice(0, 2)), (j.round = r));
  it('has 7.87 bits of headroom with the defaults and 3 regions', () => {
    const b = overflowBudget(parseFederation(base()).round, 3);
    expect(b.headroomBits).toBeCloseTo(62 - Math.log2(100 * 2 ** 16 * 1000 * 3 * 1e6), 10);
  });
  it('accepts a worst case just below 2^62', () => {
    // 1 * 2^40 * 2^10 * 2 regions * 2047 < 2^62
    expect(() => parseFederation(mutated(round({ clipL2: 1, scaleBits: 40, maxTrainersPerRound: 1024, maxWeight: 2047 })))).not.toThrow();
  });
  it('rejects a worst case of exactly 2^62 (the bound is strict)', () => {
    rejects(round({ clipL2: 1, scaleBits: 40, maxTrainersPerRound: 1024, maxWeight: 2048 }), 'round: fixed-point overflow', '= 2^62.00', 'lower scaleBits by 1 (to 39)');
  });
  it('names every knob and by how much to turn it', () => {
    // 100 * 2^30 * 1000 * 2 * 1e6 ~ 2^67.5: 5.5 bits over.
    const err = rejects(round({ scaleBits: 30 }), 'round: fixed-point overflow');
    expect(err.message).toMatch(/clipL2 \(100\) x 2\^scaleBits \(2\^30\) x maxTrainersPerRound \(1000\) x regions \(2\) x maxWeight \(1\.00e\+6\) = 2\^67\.5/);
    expect(err.message).toContain('lower scaleBits by 6 (to 24)');
    const m = /divide clipL2, maxWeight or maxTrainersPerRound \(or their product\) by more than ([0-9.]+)/.exec(err.message);
    expect(m).not.toBeNull();
    const factor = Number(m![1]);
    expect(factor).toBeCloseTo(2 ** (Math.log2(100 * 2 ** 30 * 1000 * 2 * 1e6) - 62), 2);
    // Following the advice fixes it; stopping just short of it does not.
    expect(() => parseFederation(mutated(round({ scaleBits: 24 })))).not.toThrow();
    expect(() => parseFederation(mutated(round({ scaleBits: 25 })))).toThrow(ConfigError);
    expect(() => parseFederation(mutated(round({ scaleBits: 30, maxWeight: 1e6 / (factor * 1.01) })))).not.toThrow();
    expect(() => parseFederation(mutated(round({ scaleBits: 30, maxWeight: 1e6 / (factor * 0.99) })))).toThrow(ConfigError);
  });
  it('says when lowering scaleBits alone cannot fix it', () => {
    rejects(round({ scaleBits: 2, clipL2: 1e15 }), 'lowering scaleBits cannot fix it alone (it is 2)');
  });
});

describe('federationDigest', () => {
  const digest = (j: J): string => federationDigestHex(parseFederation(j));

  it('is 32 bytes, and SHA-256 of the tag and the canonical JSON (pinned)', () => {
    const f = parseFederation(base());
    expect(federationDigest(f)).toHaveLength(32);
    expect(canonicalJson({ b: [1, 'x'], a: { d: true, c: null } })).toBe('{"a":{"c":null,"d":true},"b":[1,"x"]}');
    expect(federationDigestHex(f)).toBe(DIGEST_OF_BASE);
  });

  it('matches the example and digest in docs/configuration.md', async () => {
    const md = await readFile(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(md);
    expect(example).not.toBeNull();
    const f = parseFederation(JSON.parse(example![1]!));
    expect(federationDigestHex(f)).toBe(DIGEST_OF_BASE);
    expect(md).toContain(DIGEST_OF_BASE);
  });

  it('is stable under formatting, key order, comments, case of hex and spelled-out defaults', () => {
    const d0 = digest(base());
    const reordered = JSON.parse(JSON.stringify(base(), Object.keys(base()).reverse().concat(['id', 'jurisdiction', 'endpoint', 'publicKey', 'api', 'host', 'port']).reverse()));
    expect(digest(reordered)).toBe(d0);
    expect(digest(JSON.parse(JSON.stringify(base(), null, 4)))).toBe(d0);
    expect(digest(mutated((j) => ((j['//'] = 'comment'), (j.regions[0]['//'] = 'c'))))).toBe(d0);
    expect(digest(mutated((j) => (j.regions[1].publicKey = KEYS[1].toUpperCase())))).toBe(d0);
    expect(digest(mutated((j) => (j.round = { ...ROUND_DEFAULTS, minContributors: 2 })))).toBe(d0);
    expect(digest(mutated((j) => ((j.regions[1].api.host = '127.0.0.1'), (j.allowInsecureThreshold = false))))).toBe(d0);
  });

  it('changes when any value changes', () => {
    const changes: ((j: J) => void)[] = [
      (j) => (j.federation = 'acme-fl2'),
      (j) => (j.threshold = 3),
      (j) => (j.regions = [j.regions[1], j.regions[0], j.regions[2]]),
      (j) => (j.regions[0].id = 'eu2'),
      (j) => (j.regions[0].jurisdiction = 'DE'),
      (j) => (j.regions[0].endpoint = 'ws://127.0.0.1:7104'),
      (j) => (j.regions[0].publicKey = key(4)),
      (j) => (j.regions[0].api.port = 7204),
      (j) => ((j.regions[0].api.host = '10.0.0.1'), (j.regions[0].api.allowRemoteTrainers = true)),
      (j) => (j.regions = j.regions.slice(0, 2)),
      (j) => (j.allowInsecureThreshold = true),
      ...Object.entries({
        scaleBits: 17,
        clipL2: 99,
        clipMode: 'reject',
        minContributors: 3,
        maxParams: 5,
        maxTrainersPerRound: 999,
        maxWeight: 1,
        collectMs: 1001,
        phaseTimeoutMs: 30001,
        roundTimeoutMs: 300001,
      }).map(([k, v]) => (j: J) => (j.round = { [k]: v })),
    ];
    const digests = new Set([digest(base()), ...changes.map((c) => digest(mutated(c)))]);
    expect(digests.size).toBe(changes.length + 1);
  });
});

describe('regionById', () => {
  const f = parseFederation(base());
  it('finds a region', () => {
    expect(regionById(f, 'us').endpoint).toBe('ws://127.0.0.1:7102');
  });
  it('names the known regions when the id is unknown', () => {
    expect(() => regionById(f, 'ue')).toThrow(ConfigError);
    expect(() => regionById(f, 'ue')).toThrow('unknown region "ue": federation "acme-fl" has eu, us, apac (did you mean "eu"?)');
    expect(() => regionById(f, 'moon')).toThrow(/has eu, us, apac$/);
  });
});

describe('loadFederation and node files', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpc-config-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('loads a file', async () => {
    const p = join(dir, 'fed.json');
    await writeFile(p, JSON.stringify(base()));
    expect(federationDigestHex(await loadFederation(p))).toBe(DIGEST_OF_BASE);
  });
  it('reports a missing file with a hint', async () => {
    await expect(loadFederation(join(dir, 'missing.json'))).rejects.toThrow(/missing\.json: cannot read federation file: no such file \(create one with 'mpc-node init'/);
  });
  it('reports invalid JSON with the file name', async () => {
    const p = join(dir, 'bad.json');
    await writeFile(p, '{ "federation": "x", }');
    await expect(loadFederation(p)).rejects.toThrow(/bad\.json: not valid JSON/);
  });
  it('prefixes validation errors with the path', async () => {
    const p = join(dir, 'invalid.json');
    await writeFile(p, JSON.stringify(mutated((j) => (j.threshold = 7))));
    await expect(loadFederation(p)).rejects.toThrow(`${p}: threshold: threshold 7 is impossible with 3 regions`);
  });

  it('lays out the data directory', () => {
    const p = resolveNodePaths('/srv/mpc/eu');
    expect(p).toEqual({
      dataDir: '/srv/mpc/eu',
      identity: '/srv/mpc/eu/identity.json',
      apiToken: '/srv/mpc/eu/api-token',
      credentials: '/srv/mpc/eu/credentials.json',
      trainerIdKey: '/srv/mpc/eu/trainer-id-key',
      transcripts: '/srv/mpc/eu/transcripts',
    });
  });
  it('creates a 0600 API token of 64 hex characters once, then reuses it', async () => {
    const dataDir = join(dir, 'node-eu');
    const t1 = await ensureApiToken(dataDir);
    expect(t1).toMatch(/^[0-9a-f]{64}$/);
    const paths = resolveNodePaths(dataDir);
    expect((await stat(paths.apiToken)).mode & 0o777).toBe(0o600);
    expect((await stat(paths.dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(paths.transcripts)).isDirectory()).toBe(true);
    expect(await readFile(paths.apiToken, 'utf8')).toBe(`${t1}\n`);
    expect(await ensureApiToken(dataDir)).toBe(t1);
    expect(await readApiToken(dataDir)).toBe(t1);
  });
  it('makes a different token per node', async () => {
    expect(await ensureApiToken(join(dir, 'node-a'))).not.toBe(await ensureApiToken(join(dir, 'node-b')));
  });
  it('refuses a token file readable by other users', async () => {
    const dataDir = join(dir, 'node-open');
    await ensureApiToken(dataDir);
    await chmod(resolveNodePaths(dataDir).apiToken, 0o644);
    await expect(ensureApiToken(dataDir)).rejects.toThrow(/permissions 644, readable by other users; run: chmod 600/);
  });
  it('refuses a malformed token file without printing its contents', async () => {
    const dataDir = join(dir, 'node-bad');
    await ensureApiToken(dataDir);
    await writeFile(resolveNodePaths(dataDir).apiToken, 'sekrit-value\n', { mode: 0o600 });
    const err: unknown = await ensureApiToken(dataDir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/is malformed/);
    expect((err as ConfigError).message).not.toContain('sekrit');
  });
});

describe('parseFederation: policy section (details in test/policy.test.ts)', () => {
  it('fills in the default policy, which leaves the digest unchanged', () => {
    const f = parseFederation(base());
    expect(f.policy.minTrainers).toBe(1);
    expect(f.policy.regions['us']).toEqual({ classification: 'unclassified', shareTo: null });
    expect(Object.isFrozen(f.policy)).toBe(true);
    expect(federationDigestHex(parseFederation(mutated((j) => (j.policy = {}))))).toBe(DIGEST_OF_BASE);
    expect(federationDigestHex(parseFederation(mutated((j) => (j.policy = { '//': 'none yet', retention: { shareMaterial: 'zeroize' } }))))).toBe(DIGEST_OF_BASE);
  });
  it('changes the digest when a policy value changes', () => {
    expect(federationDigestHex(parseFederation(mutated((j) => (j.policy = { minTrainers: 3 }))))).not.toBe(DIGEST_OF_BASE);
    expect(federationDigestHex(parseFederation(mutated((j) => (j.policy = { regions: { eu: { shareTo: ['US'] } } }))))).not.toBe(DIGEST_OF_BASE);
  });
  it('rejects unknown policy keys, naming the path and the nearest key', () => {
    rejects((j) => (j.policy = { retension: {} }), 'policy.retension: unknown key', 'did you mean "retention"?');
    rejects((j) => (j.policy = 1), 'policy: expected a JSON object, got 1');
  });
  it('names the field and the fix for a flow rule that breaks the threshold', () => {
    rejects((j) => (j.policy = { regions: { us: { shareTo: [] } } }), 'policy.regions.us.shareTo: region us may deal shares to only 1 region(s) (us) but threshold is 2', 'lower threshold');
  });
  it('names the source file in policy messages', () => {
    expect(() => parseFederation(mutated((j) => (j.policy = { minTrainers: 0 })), 'fed.json')).toThrow(/^fed\.json: policy\.minTrainers: /);
  });
});

/**
 * federationDigestHex(parseFederation(base())). Pinned so an accidental change of the canonical
 * encoding, the tag or a default shows up here; regenerate only on a deliberate format change.
 */
const DIGEST_OF_BASE = 'ffe63e9090bf34e2a05a6711156f41eed11fd8dcef93ed5945b97861e1ec273a';
