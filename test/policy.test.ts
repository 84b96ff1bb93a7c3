/**
 * The locality policy: the `policy` section of the federation file (src/federation/policy-section.ts)
 * and the pure rules over it (src/policy/*.ts, through src/policy/index.ts). Spec: docs/policy.md.
 *
 * Fixture keys: region keys are Ed25519 public keys of the seeds 0x01.., 0x02.., 0x03.. (32
 * repeated bytes), the policy authority's seed is 0x0a.. and an impostor's 0x0b.. .
 */
import { readFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { describe, expect, it, vi } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { canonicalJson } from '../src/core/canonical-json.js';
import * as crypto from '../src/core/crypto.js';
import { federationDigestHex, federationWarnings, parseFederation, type Federation } from '../src/federation/index.js';
import {
  allowedHolders,
  checkMinContributors,
  checkMinTrainers,
  checkRoundsInFlight,
  defaultPolicy,
  formatGrantTime,
  grantSigningBytes,
  parseGrantTime,
  policyDigest,
  policyFeasibility,
  retentionCutoff,
  roundHolders,
  signGrant,
  verifiedGrant,
  verifyGrant,
  verifyGrantSignature,
  type Grant,
  type UnsignedGrant,
} from '../src/policy/index.js';
import { key, seed, threeRegions, withPolicy, type J } from './support/federation-file.js';

// the real Ed25519 verification, counted: a parsed federation's grants are verified once
vi.mock('../src/core/crypto.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/core/crypto.js')>();
  return { ...real, ed25519Verify: vi.fn(real.ed25519Verify) };
});
const verifyCalls = (): number => vi.mocked(crypto.ed25519Verify).mock.calls.length;

const AUTH_SK = seed(0x0a);
const AUTH_PK = key(0x0a);
const IMPOSTOR_SK = seed(0x0b);

/** Three regions in three jurisdictions, threshold 2 (test/support/federation-file.ts). */
const base = threeRegions;
const DIGEST_OF_BASE = 'ffe63e9090bf34e2a05a6711156f41eed11fd8dcef93ed5945b97861e1ec273a';

function rejects(json: J, ...patterns: (string | RegExp)[]): string {
  let caught: unknown;
  try {
    parseFederation(json);
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected parseFederation to throw').toBeInstanceOf(ConfigError);
  const msg = (caught as ConfigError).message;
  for (const p of patterns) {
    if (typeof p === 'string') expect(msg).toContain(p);
    else expect(msg).toMatch(p);
  }
  return msg;
}

const T2026 = Date.parse('2026-06-15T12:00:00Z');
function grant(over: Partial<UnsignedGrant> = {}, sk = AUTH_SK): Grant {
  return signGrant(sk, {
    federation: 'acme-fl',
    id: 'eu-to-US-2026',
    flow: { from: 'eu', toJurisdiction: 'US' },
    notBefore: '2026-01-01T00:00:00Z',
    notAfter: '2026-12-31T23:59:59Z',
    ...over,
  });
}

/** eu may share only within EU and with APAC; an authority is set. */
function euRestricted(extra: J = {}): Federation {
  return parseFederation(withPolicy({ regions: { eu: { classification: 'personal', shareTo: ['APAC'] } }, authority: AUTH_PK, ...extra }));
}

describe('policy section: defaults and digests', () => {
  it('fills in the default policy when the section is absent', () => {
    const f = parseFederation(base());
    expect(f.policy).toEqual(defaultPolicy(['eu', 'us', 'apac']));
    expect(f.policy).toEqual({
      regions: { eu: { classification: 'unclassified', shareTo: null }, us: { classification: 'unclassified', shareTo: null }, apac: { classification: 'unclassified', shareTo: null } },
      minTrainers: 1,
      maxRoundsInFlight: 4,
      retention: { transcriptDays: null, shareMaterial: 'zeroize' },
      authority: null,
      grants: [],
    });
    expect(Object.isFrozen(f.policy.regions['eu'])).toBe(true);
  });

  it('leaves a default policy out of the federation digest (files without a policy keep their digest)', () => {
    expect(federationDigestHex(parseFederation(base()))).toBe(DIGEST_OF_BASE);
    expect(federationDigestHex(parseFederation(withPolicy({})))).toBe(DIGEST_OF_BASE);
    const spelledOut = { regions: { eu: { classification: 'unclassified' } }, minTrainers: 1, maxRoundsInFlight: 4, retention: { transcriptDays: null, shareMaterial: 'zeroize' }, grants: [] };
    expect(federationDigestHex(parseFederation(withPolicy(spelledOut)))).toBe(DIGEST_OF_BASE);
  });

  it('puts any non-default policy value into both digests', () => {
    const variants: J[] = [
      { regions: { eu: { classification: 'personal' } } },
      { regions: { eu: { shareTo: ['US', 'APAC'] } } },
      { minTrainers: 2 },
      { maxRoundsInFlight: 5 },
      { retention: { transcriptDays: 30 } },
      { authority: AUTH_PK },
      { authority: AUTH_PK, grants: [grant()] },
    ];
    const fed = new Set([DIGEST_OF_BASE, ...variants.map((p) => federationDigestHex(parseFederation(withPolicy(p))))]);
    expect(fed.size).toBe(variants.length + 1);
    const pol = new Set([policyDigest(parseFederation(base())), ...variants.map((p) => policyDigest(parseFederation(withPolicy(p))))]);
    expect(pol.size).toBe(variants.length + 1);
  });

  it('policyDigest of a default policy equals the pre-policy formula SHA-256(tag || canonicalJson(round)), round.protocol 1 left out', () => {
    const f = parseFederation(base());
    const { protocol, ...round } = f.round;
    expect(protocol).toBe(1);
    const old = bytesToHex(sha256(utf8ToBytes(`mpc-node/policy/v1\0${canonicalJson(round)}`)));
    expect(policyDigest(f)).toBe(old);
    expect(policyDigest(f)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('policyDigest covers the round config and the policy, and nothing else', () => {
    const d = policyDigest(euRestricted());
    const f = euRestricted();
    expect(policyDigest({ ...f, federation: 'other' })).toBe(d); // names and endpoints are the federation digest's job
    const otherClip = { ...f, round: { ...f.round, clipL2: 1 } };
    expect(policyDigest(otherClip)).not.toBe(d);
    const { protocol: _v1, ...round } = f.round;
    const body = { ...round, policy: f.policy };
    expect(d).toBe(bytesToHex(sha256(utf8ToBytes(`mpc-node/policy/v1\0${canonicalJson(body)}`))));
    // protocol 2 enters the digest; 1 (the default) does not
    expect(policyDigest({ ...f, round: { ...f.round, protocol: 2 } as typeof f.round })).not.toBe(d);
  });
});

describe('policy section: strict parsing', () => {
  it('rejects unknown keys at every level, naming the path', () => {
    rejects(withPolicy({ minTrainer: 2 }), 'policy.minTrainer: unknown key', 'did you mean "minTrainers"?');
    rejects(withPolicy({ regions: { eu: { clasification: 'personal' } } }), 'policy.regions.eu.clasification: unknown key', 'did you mean "classification"?');
    rejects(withPolicy({ retention: { days: 3 } }), 'policy.retention.days: unknown key');
    rejects(withPolicy({ authority: AUTH_PK, grants: [{ ...grant(), extra: 1 }] }), 'policy.grants[0].extra: unknown key');
  });
  it('explains that deny lists are not the way', () => {
    rejects(withPolicy({ regions: { eu: { denyShareTo: ['US'] } } }), 'policy.regions.eu.denyShareTo: not supported', '"shareTo" (an allow list');
  });
  it('rejects policies of regions that do not exist', () => {
    rejects(withPolicy({ regions: { ue: {} } }), 'policy.regions.ue: "ue" is not a region id', 'did you mean "eu"?');
    rejects(withPolicy({ regions: [] }), 'policy.regions: expected an object keyed by region id');
  });
  it('accepts only the known classifications', () => {
    rejects(withPolicy({ regions: { eu: { classification: 'secret' } } }), 'policy.regions.eu.classification: expected one of "unclassified", "public", "internal", "confidential", "personal"');
    rejects(withPolicy({ regions: { eu: { classification: 'persnal' } } }), 'did you mean "personal"?');
  });
  it('checks shareTo against the federation\'s jurisdictions', () => {
    rejects(withPolicy({ regions: { eu: { shareTo: 'US' } } }), 'policy.regions.eu.shareTo: expected an array of jurisdiction labels');
    rejects(withPolicy({ regions: { eu: { shareTo: ['Us'] } } }), 'policy.regions.eu.shareTo[0]: "Us" is the jurisdiction of no region (this federation has EU, US, APAC)', 'did you mean "US"?');
    rejects(withPolicy({ regions: { eu: { shareTo: ['US', 'US'] } } }), 'policy.regions.eu.shareTo[1]: "US" is listed twice');
  });
  it('checks minTrainers and maxRoundsInFlight', () => {
    rejects(withPolicy({ minTrainers: 0 }), 'policy.minTrainers: 0 is out of range');
    rejects(withPolicy({ minTrainers: 3001 }), 'policy.minTrainers: 3001 is out of range', 'maxTrainersPerRound x regions = 3000');
    rejects(withPolicy({ maxRoundsInFlight: 0 }), 'policy.maxRoundsInFlight: 0 is out of range');
    rejects(withPolicy({ maxRoundsInFlight: 1.5 }), 'policy.maxRoundsInFlight: expected an integer');
    expect(parseFederation(withPolicy({ minTrainers: 10, maxRoundsInFlight: 1 })).policy).toMatchObject({ minTrainers: 10, maxRoundsInFlight: 1 });
  });
  it('checks retention, and accepts only "zeroize" for share material', () => {
    rejects(withPolicy({ retention: { transcriptDays: 0 } }), 'policy.retention.transcriptDays: 0 is out of range');
    rejects(withPolicy({ retention: { transcriptDays: 7.5 } }), 'policy.retention.transcriptDays: expected an integer');
    rejects(withPolicy({ retention: { shareMaterial: 'keep' } }), 'policy.retention.shareMaterial: the only accepted value is "zeroize"', 'wiped from memory');
    expect(parseFederation(withPolicy({ retention: { transcriptDays: null } })).policy.retention.transcriptDays).toBeNull();
    expect(parseFederation(withPolicy({ retention: { transcriptDays: 90, shareMaterial: 'zeroize' } })).policy.retention).toEqual({ transcriptDays: 90, shareMaterial: 'zeroize' });
  });
  it('checks the authority key', () => {
    rejects(withPolicy({ authority: 'abc' }), "policy.authority: expected 64 hex characters (an Ed25519 public key from 'mpc-node policy authority-keygen')");
    rejects(withPolicy({ authority: '01' + '00'.repeat(31) }), 'policy.authority: is a small-order Ed25519 point');
    expect(parseFederation(withPolicy({ authority: AUTH_PK.toUpperCase() })).policy.authority).toBe(AUTH_PK);
  });
});

describe('policy section: grants in the file', () => {
  it('accepts a grant signed by the authority', () => {
    const f = parseFederation(withPolicy({ authority: AUTH_PK, grants: [grant()] }));
    expect(f.policy.grants).toEqual([grant()]);
  });
  it('refuses grants without an authority', () => {
    rejects(withPolicy({ grants: [grant()] }), 'policy.grants: grants need a policy authority');
  });
  it('refuses an unsigned grant', () => {
    const { signature: _s, ...unsigned } = grant();
    rejects(withPolicy({ authority: AUTH_PK, grants: [unsigned] }), 'policy.grants[0].signature: missing', 'the grant is unsigned');
  });
  it('refuses a grant signed by another key', () => {
    rejects(withPolicy({ authority: AUTH_PK, grants: [grant({}, IMPOSTOR_SK)] }), 'policy.grants[0].signature: grant eu-to-US-2026: the signature does not verify under policy.authority');
  });
  it('refuses a grant altered after signing (the period extended)', () => {
    rejects(withPolicy({ authority: AUTH_PK, grants: [{ ...grant(), notAfter: '2027-12-31T23:59:59Z' }] }), 'policy.grants[0].signature:', 'does not verify');
  });
  it('refuses a grant for another federation', () => {
    rejects(withPolicy({ authority: AUTH_PK, grants: [grant({ federation: 'other-fl' })] }), 'policy.grants[0].federation: this grant is for federation "other-fl"');
  });
  it('refuses malformed flows and times, naming the field', () => {
    rejects(withPolicy({ authority: AUTH_PK, grants: [{ ...grant(), flow: { from: 'eu' } }] }), 'policy.grants[0].flow: give exactly one of "toJurisdiction"');
    rejects(withPolicy({ authority: AUTH_PK, grants: [{ ...grant(), flow: { from: 'mars', toJurisdiction: 'US' } }] }), 'policy.grants[0].flow.from: "mars" is not a region id');
    rejects(withPolicy({ authority: AUTH_PK, grants: [{ ...grant(), notAfter: '2026-12-31' }] }), 'policy.grants[0].notAfter: expected a UTC time written exactly as "2026-12-31T23:59:59Z"');
    rejects(withPolicy({ authority: AUTH_PK, grants: [{ ...grant(), notBefore: '2026-02-30T00:00:00Z' }] }), 'policy.grants[0].notBefore:');
  });
  it('refuses duplicate grant ids', () => {
    rejects(withPolicy({ authority: AUTH_PK, grants: [grant(), grant({ flow: { from: 'eu', toRegion: 'us' } })] }), 'policy.grants[1].id: duplicate grant id "eu-to-US-2026"');
  });
});

describe('policy section: threshold and flow rules together', () => {
  it('refuses a region that may deal to fewer than threshold regions (it could never contribute)', () => {
    rejects(
      withPolicy({ regions: { eu: { shareTo: [] } } }),
      'policy.regions.eu.shareTo: region eu may deal shares to only 1 region(s) (eu) but threshold is 2, so it could never contribute',
      'add jurisdictions to policy.regions.eu.shareTo (other regions are in US, APAC)',
    );
  });
  it('allows it, with a warning, when a grant for that region exists', () => {
    const f = parseFederation(withPolicy({ regions: { eu: { shareTo: [] } }, authority: AUTH_PK, grants: [grant()] }));
    expect(federationWarnings(f).join('\n')).toContain('region eu may deal to only eu under its shareTo list (threshold 2): it can contribute only while one of its grants is valid');
  });
  it('counts same-jurisdiction regions as allowed holders', () => {
    const j = withPolicy({ regions: { eu: { shareTo: [] } } }, (x) => (x.regions[1].jurisdiction = 'EU'));
    expect(() => parseFederation(j)).not.toThrow();
  });
  it('refuses a minContributors no round can reach', () => {
    // t = 3 of 3: every region must deal to all three; eu refuses US, so eu and us never meet.
    const j = withPolicy({ regions: { eu: { shareTo: ['APAC'] } } }, (x) => ((x.threshold = 3), (x.round = { minContributors: 3 })));
    rejects(j, 'policy.regions.eu.shareTo: region eu may deal shares to only 2 region(s)');
    const k = withPolicy({ regions: { eu: { shareTo: ['APAC'] }, us: { shareTo: ['APAC'] } } }, (x) => (x.round = { minContributors: 3 }));
    rejects(k, 'round.minContributors: 3 contributing regions can never take part in one round under the policy: at most 2');
  });
  it('warns when not every region can contribute to the same round', () => {
    const f = parseFederation(withPolicy({ regions: { eu: { shareTo: ['APAC'] }, us: { shareTo: ['APAC'] } } }));
    const feas = policyFeasibility(f);
    expect(feas.dealTo).toEqual({ eu: ['eu', 'apac'], us: ['us', 'apac'], apac: ['eu', 'us', 'apac'] });
    expect(feas.cannotContribute).toEqual([]);
    expect(feas.maxContributors).toBe(2);
    expect(federationWarnings(f).join('\n')).toMatch(/not every region can contribute to the same round: at most 2 of 3/);
  });
});

describe('federationWarnings: policy advice', () => {
  it('warns about personal data shared everywhere and kept forever', () => {
    const w = federationWarnings(parseFederation(withPolicy({ regions: { eu: { classification: 'personal' } } }))).join('\n');
    expect(w).toContain('policy.regions.eu: classified "personal" but shares go to every jurisdiction');
    expect(w).toContain('policy.retention.transcriptDays is not set');
  });
  it('warns when the authority is a region key', () => {
    expect(federationWarnings(parseFederation(withPolicy({ authority: key(1) }))).join('\n')).toContain('policy.authority is the key of a region node');
  });
  it('with a clock, reports expired, future and soon-expiring grants', () => {
    const f = euRestricted({ grants: [grant()] });
    expect(federationWarnings(f, Date.parse('2027-01-01T00:00:00Z')).join('\n')).toContain('policy.grants eu-to-US-2026: grant eu-to-US-2026 expired at 2026-12-31T23:59:59Z; it allows nothing now');
    expect(federationWarnings(f, Date.parse('2025-01-01T00:00:00Z')).join('\n')).toContain('is not valid before 2026-01-01T00:00:00Z');
    expect(federationWarnings(f, Date.parse('2026-12-25T00:00:00Z')).join('\n')).toContain('policy.grants eu-to-US-2026: expires at 2026-12-31T23:59:59Z');
    expect(federationWarnings(f, T2026).join('\n')).not.toContain('policy.grants');
  });
});

describe('verifyGrant', () => {
  const f = euRestricted({ grants: [grant()] });
  it('accepts a signed grant inside its period, both ends inclusive to the second', () => {
    expect(verifyGrant(f, grant(), T2026)).toEqual({ ok: true });
    expect(verifyGrant(f, grant(), Date.parse('2026-01-01T00:00:00Z'))).toEqual({ ok: true });
    expect(verifyGrant(f, grant(), Date.parse('2026-12-31T23:59:59.999Z'))).toEqual({ ok: true });
  });
  it('refuses a grant that is not yet valid', () => {
    expect(verifyGrant(f, grant(), Date.parse('2025-12-31T23:59:59.999Z'))).toEqual({ ok: false, code: 'not-yet-valid', reason: 'grant eu-to-US-2026 is not valid before 2026-01-01T00:00:00Z' });
  });
  it('refuses an expired grant', () => {
    expect(verifyGrant(f, grant(), Date.parse('2027-01-01T00:00:00Z'))).toEqual({ ok: false, code: 'expired', reason: 'grant eu-to-US-2026 expired at 2026-12-31T23:59:59Z' });
  });
  it('refuses an unsigned grant', () => {
    const r = verifyGrant(f, { ...grant(), signature: '' }, T2026);
    expect(r).toMatchObject({ ok: false, code: 'unsigned' });
  });
  it('refuses a badly signed grant (other key, altered flow, garbage)', () => {
    expect(verifyGrant(f, grant({}, IMPOSTOR_SK), T2026)).toMatchObject({ ok: false, code: 'bad-signature' });
    expect(verifyGrant(f, { ...grant(), flow: { from: 'eu', toRegion: 'us' } }, T2026)).toMatchObject({ ok: false, code: 'bad-signature' });
    expect(verifyGrant(f, { ...grant(), signature: 'zz' }, T2026)).toMatchObject({ ok: false, code: 'bad-signature', reason: expect.stringContaining('128 hex') });
  });
  it('refuses every grant when the federation has no authority', () => {
    expect(verifyGrant(parseFederation(base()), grant(), T2026)).toMatchObject({ ok: false, code: 'no-authority' });
  });
  it('refuses a grant of another federation or naming unknown regions', () => {
    expect(verifyGrant(f, grant({ federation: 'other' }), T2026)).toMatchObject({ ok: false, code: 'wrong-federation' });
    expect(verifyGrant(f, grant({ flow: { from: 'mars', toJurisdiction: 'US' } }), T2026)).toMatchObject({ ok: false, code: 'unknown-flow' });
    expect(verifyGrant(f, grant({ flow: { from: 'eu', toJurisdiction: 'CN' } }), T2026)).toMatchObject({ ok: false, code: 'unknown-flow' });
  });
  it('refuses malformed objects without throwing', () => {
    expect(verifyGrant(f, { ...grant(), notAfter: 'soon' }, T2026)).toMatchObject({ ok: false, code: 'malformed' });
    expect(verifyGrant(f, null as unknown as Grant, T2026)).toMatchObject({ ok: false, code: 'malformed' });
  });
});

describe('verifiedGrant: a grant is verified once, a grant built by hand on every use', () => {
  const subject = { federation: 'acme-fl', regions: [{ id: 'eu', jurisdiction: 'EU' }, { id: 'us', jurisdiction: 'US' }, { id: 'apac', jurisdiction: 'APAC' }] };
  it('the parser verifies each grant once; flow decisions then check no signature', () => {
    const before = verifyCalls();
    const f = euRestricted({ grants: [grant()] });
    expect(verifyCalls() - before).toBe(1);
    expect(Object.isFrozen(f.policy.grants[0]) && Object.isFrozen(f.policy.grants[0]!.flow)).toBe(true);
    const after = verifyCalls();
    expect(allowedHolders(f, 'eu', ['eu', 'us', 'apac'], T2026, f.policy.grants).grantsUsed).toEqual(['eu-to-US-2026']);
    expect(verifyGrant(f, f.policy.grants[0]!, Date.parse('2027-01-01T00:00:00Z'))).toMatchObject({ ok: false, code: 'expired' });
    expect(verifyCalls()).toBe(after);
  });
  it('returns a frozen copy with the same fields, or the same refusal as verifyGrantSignature', () => {
    const g = grant();
    const r = verifiedGrant(subject, AUTH_PK, g);
    expect(r).toEqual({ ok: true, grant: g });
    expect(r.ok && r.grant !== g && Object.isFrozen(r.grant)).toBe(true);
    const bad = grant({}, IMPOSTOR_SK);
    expect(verifiedGrant(subject, AUTH_PK, bad)).toEqual(verifyGrantSignature(subject, AUTH_PK, bad));
    expect(verifiedGrant(subject, null, g)).toMatchObject({ ok: false, code: 'no-authority' });
    expect(verifiedGrant(subject, AUTH_PK, null as unknown as Grant)).toMatchObject({ ok: false, code: 'malformed' });
    expect(verifiedGrant(subject, AUTH_PK, { ...g, flow: 'eu' as unknown as Grant['flow'] })).toMatchObject({ ok: false, code: 'malformed' });
  });
  it('trusts a verified grant only under the authority it was verified with, and never a copy or an altered grant', () => {
    const r = verifiedGrant(subject, AUTH_PK, grant());
    if (!r.ok) throw new Error(r.reason);
    expect(verifyGrantSignature(subject, key(0x0b), r.grant)).toMatchObject({ ok: false, code: 'bad-signature' });
    expect(verifyGrantSignature(subject, AUTH_PK, { ...r.grant, flow: { from: 'eu', toRegion: 'us' } })).toMatchObject({ ok: false, code: 'bad-signature' });
    expect(verifyGrantSignature({ ...subject, federation: 'other' }, AUTH_PK, r.grant)).toMatchObject({ ok: false, code: 'wrong-federation' });
    const before = verifyCalls();
    expect(verifyGrantSignature(subject, AUTH_PK, { ...r.grant })).toEqual({ ok: true });
    expect(verifyCalls() - before).toBe(1);
  });
});

describe('signGrant and the grant encoding', () => {
  it('signs the canonical encoding with the domain tag (pinned vector: seed 0x0a.., Ed25519 is deterministic)', () => {
    const g = grant();
    const msg = new TextDecoder().decode(grantSigningBytes(g));
    expect(msg).toBe(
      'mpc-node/policy-grant/v1\0{"federation":"acme-fl","flow":{"from":"eu","toJurisdiction":"US"},"id":"eu-to-US-2026","notAfter":"2026-12-31T23:59:59Z","notBefore":"2026-01-01T00:00:00Z"}',
    );
    expect(ed25519.verify(ed25519.sign(grantSigningBytes(g), AUTH_SK), grantSigningBytes(g), ed25519.getPublicKey(AUTH_SK))).toBe(true);
    expect(g.signature).toBe(bytesToHex(ed25519.sign(utf8ToBytes(msg), AUTH_SK)));
    expect(g.signature).toMatch(/^[0-9a-f]{128}$/);
  });
  it('ignores extra fields when signing (only the five named fields are covered)', () => {
    const g = signGrant(AUTH_SK, { ...(grant() as UnsignedGrant), signature: 'x' } as UnsignedGrant);
    expect(g.signature).toBe(grant().signature);
  });
  it('refuses to sign malformed grants, naming the field', () => {
    expect(() => grant({ notAfter: '2026-12-31' })).toThrow(/notAfter must be a UTC time/);
    expect(() => grant({ id: 'has space' })).toThrow(/id must be/);
    expect(() => grant({ notBefore: '2027-01-01T00:00:00Z' })).toThrow(/notBefore .* is after notAfter/);
    expect(() => grant({ flow: { from: 'eu' } as never })).toThrow(/exactly one of toJurisdiction and toRegion/);
    expect(() => signGrant(new Uint8Array(31), grant())).toThrow(RangeError);
  });
  it('parses and formats grant times in one spelling only', () => {
    expect(parseGrantTime('2026-12-31T23:59:59Z')).toBe(Date.parse('2026-12-31T23:59:59Z'));
    for (const bad of ['2026-12-31', '2026-12-31T23:59:59.000Z', '2026-12-31T23:59:59+00:00', '2026-02-29T00:00:00Z', '2026-13-01T00:00:00Z', 5]) {
      expect(parseGrantTime(bad)).toBeUndefined();
    }
    expect(formatGrantTime(Date.parse('2026-01-02T03:04:05.678Z'))).toBe('2026-01-02T03:04:05Z');
  });
});

describe('allowedHolders', () => {
  const all = ['eu', 'us', 'apac'];
  it('allows every member when the dealer has no shareTo list', () => {
    const r = allowedHolders(parseFederation(base()), 'eu', all, T2026, []);
    expect(r.allowed).toEqual(all);
    expect(r.refused).toEqual([]);
    expect(r.decisions.map((d) => d.rule)).toEqual(['self', 'open', 'open']);
  });
  it('refuses holders outside shareTo, with the rule and the reason', () => {
    const f = euRestricted();
    const r = allowedHolders(f, 'eu', all, T2026, f.policy.grants);
    expect(r.allowed).toEqual(['eu', 'apac']);
    expect(r.refused).toEqual([
      { holder: 'us', rule: 'share-to', reason: 'eu (EU) may not deal shares to us (US): US is not in policy.regions.eu.shareTo [APAC] and no grant covers this flow' },
    ]);
    expect(r.grantsUsed).toEqual([]);
    expect(r.decisions).toContainEqual({ rule: 'share-to', subject: 'eu->us', outcome: 'refused', reason: r.refused[0]!.reason, grant: null });
    expect(r.decisions).toContainEqual({ rule: 'share-to', subject: 'eu->apac', outcome: 'allowed', reason: 'APAC is in policy.regions.eu.shareTo', grant: null });
  });
  it('only restricts the region whose policy it is', () => {
    const f = euRestricted();
    expect(allowedHolders(f, 'us', all, T2026, []).allowed).toEqual(all);
  });
  it('always allows regions of the dealer\'s own jurisdiction', () => {
    const f = parseFederation(withPolicy({ regions: { eu: { shareTo: [] } } }, (x) => (x.regions[1].jurisdiction = 'EU')));
    const r = allowedHolders(f, 'eu', all, T2026, []);
    expect(r.allowed).toEqual(['eu', 'us']);
    expect(r.decisions[1]).toMatchObject({ rule: 'same-jurisdiction', outcome: 'allowed' });
  });
  it('allows a flow covered by a valid grant (to a jurisdiction or to a region) and names it', () => {
    const f = euRestricted({ grants: [grant()] });
    const r = allowedHolders(f, 'eu', all, T2026, f.policy.grants);
    expect(r.allowed).toEqual(all);
    expect(r.grantsUsed).toEqual(['eu-to-US-2026']);
    expect(r.decisions).toContainEqual({ rule: 'grant', subject: 'eu->us', outcome: 'allowed', reason: 'grant eu-to-US-2026 allows eu -> us (US)', grant: 'eu-to-US-2026' });
    const byRegion = grant({ id: 'eu-us-only', flow: { from: 'eu', toRegion: 'us' } });
    expect(allowedHolders(f, 'eu', all, T2026, [byRegion]).grantsUsed).toEqual(['eu-us-only']);
  });
  it('refuses the flow when the only grant has expired or is not yet valid, saying so', () => {
    const f = euRestricted({ grants: [grant()] });
    const late = allowedHolders(f, 'eu', all, Date.parse('2027-01-02T00:00:00Z'), f.policy.grants);
    expect(late.allowed).toEqual(['eu', 'apac']);
    expect(late.refused[0]!.reason).toContain('grant eu-to-US-2026 expired at 2026-12-31T23:59:59Z');
    const early = allowedHolders(f, 'eu', all, Date.parse('2025-06-01T00:00:00Z'), f.policy.grants);
    expect(early.refused[0]!.reason).toContain('not valid before 2026-01-01T00:00:00Z');
  });
  it('refuses the flow for a forged grant passed at run time', () => {
    const f = euRestricted();
    const r = allowedHolders(f, 'eu', all, T2026, [grant({}, IMPOSTOR_SK)]);
    expect(r.allowed).toEqual(['eu', 'apac']);
    expect(r.refused[0]!.reason).toContain('does not verify under policy.authority');
  });
  it('ignores grants for other flows', () => {
    const f = euRestricted();
    const r = allowedHolders(f, 'eu', all, T2026, [grant({ id: 'us-x', flow: { from: 'us', toJurisdiction: 'EU' } })]);
    expect(r.refused[0]!.reason).toContain('no grant covers this flow');
  });
  it('refuses holders that are not federation members, and de-duplicates', () => {
    const r = allowedHolders(parseFederation(base()), 'eu', ['eu', 'mars', 'eu'], T2026, []);
    expect(r.allowed).toEqual(['eu']);
    expect(r.refused).toEqual([{ holder: 'mars', rule: 'unknown-region', reason: '"mars" is not a region of federation acme-fl' }]);
  });
  it('throws RangeError for an unknown dealer (a programming error)', () => {
    expect(() => allowedHolders(parseFederation(base()), 'mars', all, T2026, [])).toThrow(RangeError);
  });
});

describe('round rules', () => {
  it('roundHolders intersects what every contributor may deal to', () => {
    const f = euRestricted();
    const r = roundHolders(f, 'r1', ['eu', 'us'], ['eu', 'us', 'apac'], T2026, []);
    expect(r.holders).toEqual(['eu', 'apac']);
    expect(r.feasible).toBe(true);
    const g = parseFederation(withPolicy({ regions: { eu: { shareTo: ['APAC'] }, us: { shareTo: ['APAC'] } } }));
    const bad = roundHolders(g, 'r2', ['eu', 'us'], ['eu', 'us', 'apac'], T2026, []);
    expect(bad.holders).toEqual(['apac']);
    expect(bad.feasible).toBe(false);
    expect(bad.decisions.at(-1)).toEqual({ rule: 'threshold', subject: 'r2', outcome: 'refused', reason: 'contributors [eu, us] may all deal to only 1 holder(s) [apac], threshold is 2', grant: null });
  });
  it('checkRoundsInFlight refuses the (max+1)th round', () => {
    const f = parseFederation(withPolicy({ maxRoundsInFlight: 2 }));
    expect(checkRoundsInFlight(f, 'r', 1).outcome).toBe('allowed');
    expect(checkRoundsInFlight(f, 'r', 2)).toEqual({ rule: 'max-rounds-in-flight', subject: 'r', outcome: 'refused', reason: '2 rounds already in flight, policy.maxRoundsInFlight is 2: retry when one ends', grant: null });
  });
  it('checkMinTrainers and checkMinContributors', () => {
    const f = parseFederation(withPolicy({ minTrainers: 5 }));
    expect(checkMinTrainers(f, 'r', 5).outcome).toBe('allowed');
    expect(checkMinTrainers(f, 'r', 4)).toMatchObject({ rule: 'min-trainers', outcome: 'refused', reason: 'only 4 trainer(s) contributed, policy.minTrainers is 5: nothing is revealed' });
    expect(checkMinContributors(f, 'r', ['eu', 'us']).outcome).toBe('allowed');
    expect(checkMinContributors(f, 'r', ['eu', 'eu'])).toMatchObject({ rule: 'min-contributors', outcome: 'refused' });
  });
  it('decisions are plain JSON (what a transcript records)', () => {
    const f = euRestricted({ grants: [grant()] });
    const r = roundHolders(f, 'r1', ['eu', 'us'], ['eu', 'us', 'apac'], T2026, f.policy.grants);
    expect(JSON.parse(JSON.stringify(r.decisions))).toEqual(r.decisions);
    expect(() => canonicalJson(r.decisions)).not.toThrow();
  });
});

describe('retentionCutoff', () => {
  it('is now minus transcriptDays, or null when transcripts are kept', () => {
    const f = parseFederation(withPolicy({ retention: { transcriptDays: 30 } }));
    expect(retentionCutoff(f, T2026)).toBe(T2026 - 30 * 86_400_000);
    expect(retentionCutoff(parseFederation(base()), T2026)).toBeNull();
  });
});

describe('docs/policy.md', () => {
  it('has an example federation file that parses, and its policy section is the one documented', async () => {
    const md = await readFile(new URL('../docs/policy.md', import.meta.url), 'utf8');
    const example = /```json\n([\s\S]*?)```/.exec(md);
    expect(example).not.toBeNull();
    const f = parseFederation(JSON.parse(example![1]!));
    expect(f.policy.regions['eu']).toEqual({ classification: 'personal', shareTo: ['EU', 'CH'] });
    expect(f.policy.grants).toHaveLength(1);
    expect(verifyGrant(f, f.policy.grants[0]!, Date.parse('2026-06-01T00:00:00Z'))).toEqual({ ok: true });
  });
});
