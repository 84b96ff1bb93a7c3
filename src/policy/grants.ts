/**
 * Grants: signed, time-limited exceptions to a region's `shareTo` list. Owns grant times (parse
 * and format), the bytes the policy authority signs, signing, and verification (form, federation,
 * regions, Ed25519 signature under `policy.authority`, validity period).
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/canonical-json.js';
import { ed25519Verify } from '../core/crypto.js';
import { GRANT_ID_RE, GRANT_SIGNING_TAG, GRANT_TIME_RE, type Grant, type GrantFlow, type PolicySubject, type UnsignedGrant } from './model.js';
import { isHexBytes } from '../core/hex.js';

/** Why a grant was refused (also the `kind` label of the grant violation metric). */
export type GrantRefusal = 'no-authority' | 'malformed' | 'wrong-federation' | 'unknown-flow' | 'unsigned' | 'bad-signature' | 'not-yet-valid' | 'expired';

export type GrantCheck = { readonly ok: true } | { readonly ok: false; readonly code: GrantRefusal; readonly reason: string };

/**
 * Parses a grant time. Only the exact form `YYYY-MM-DDTHH:MM:SSZ` is accepted (one spelling per
 * instant, so a signature covers one text) and it must be a real date (no February 30th).
 * @returns milliseconds since the epoch, or undefined if `s` is not such a time.
 * @example
 * parseGrantTime('2026-12-31T23:59:59Z'); // 1798761599000
 */
export function parseGrantTime(s: unknown): number | undefined {
  if (typeof s !== 'string' || !GRANT_TIME_RE.test(s)) return undefined;
  const ms = Date.parse(s);
  if (!Number.isFinite(ms) || formatGrantTime(ms) !== s) return undefined;
  return ms;
}

/** Formats milliseconds since the epoch as a grant time (truncated to the second). */
export function formatGrantTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * The bytes the policy authority signs:
 * `utf8("mpc-node/policy-grant/v1\0" || canonicalJson({ federation, id, flow, notBefore, notAfter }))`.
 * Only these five fields are covered; anything else in a grant object is ignored here (and
 * refused by the federation file parser).
 */
export function grantSigningBytes(g: UnsignedGrant): Uint8Array {
  return utf8ToBytes(GRANT_SIGNING_TAG + canonicalJson({ federation: g.federation, id: g.id, flow: signedFlow(g.flow), notBefore: g.notBefore, notAfter: g.notAfter }));
}

/** A flow with only its two signed fields (`from` and one of `toRegion`, `toJurisdiction`). */
function signedFlow(f: GrantFlow): GrantFlow {
  return 'toRegion' in f ? { from: f.from, toRegion: f.toRegion } : { from: f.from, toJurisdiction: f.toJurisdiction };
}

/** Structural problems of an unsigned grant (empty if none). Pure; used by signGrant and the parser. */
function grantShapeProblems(g: UnsignedGrant): string[] {
  const out: string[] = [];
  if (typeof g !== 'object' || g === null) return ['a grant is an object'];
  if (typeof g.federation !== 'string' || g.federation === '') out.push('federation must be the federation name');
  if (typeof g.id !== 'string' || !GRANT_ID_RE.test(g.id)) out.push('id must be 1-64 of A-Z a-z 0-9 . _ -, starting with a letter or digit');
  const f = g.flow as Record<string, unknown> | undefined;
  if (typeof f !== 'object' || f === null || typeof f['from'] !== 'string') out.push('flow must be { "from": region, "toJurisdiction": label } or { "from": region, "toRegion": id }');
  else if (('toRegion' in f) === ('toJurisdiction' in f)) out.push('flow needs exactly one of toJurisdiction and toRegion');
  else if (typeof (f['toRegion'] ?? f['toJurisdiction']) !== 'string') out.push('flow.toRegion / flow.toJurisdiction must be a string');
  const nb = parseGrantTime(g.notBefore);
  const na = parseGrantTime(g.notAfter);
  if (nb === undefined) out.push(`notBefore must be a UTC time like "2026-01-01T00:00:00Z", got ${JSON.stringify(g.notBefore)}`);
  if (na === undefined) out.push(`notAfter must be a UTC time like "2026-12-31T23:59:59Z", got ${JSON.stringify(g.notAfter)}`);
  if (nb !== undefined && na !== undefined && nb > na) out.push(`notBefore (${g.notBefore}) is after notAfter (${g.notAfter})`);
  return out;
}

/**
 * Signs a grant with the policy authority's Ed25519 secret key (the 32-byte RFC 8032 seed).
 * Used by `mpc-node policy grant`; a node never holds the authority key.
 * @param authoritySecretKey - secret: the caller should wipe it after use.
 * @returns the grant with its `signature` (128 lower-case hex).
 * @throws {RangeError} if the key is not 32 bytes or the grant is malformed (message names the field).
 * @example
 * signGrant(sk, { federation: 'acme-fl', id: 'eu-us-2026', flow: { from: 'eu', toJurisdiction: 'US' },
 *   notBefore: '2026-01-01T00:00:00Z', notAfter: '2026-12-31T23:59:59Z' });
 */
export function signGrant(authoritySecretKey: Uint8Array, grant: UnsignedGrant): Grant {
  if (!(authoritySecretKey instanceof Uint8Array) || authoritySecretKey.length !== 32) {
    throw new RangeError('signGrant: the authority secret key must be 32 bytes (an Ed25519 seed)');
  }
  const problems = grantShapeProblems(grant);
  if (problems.length > 0) throw new RangeError(`signGrant: ${problems.join('; ')}`);
  const unsigned: UnsignedGrant = { federation: grant.federation, id: grant.id, flow: signedFlow(grant.flow), notBefore: grant.notBefore, notAfter: grant.notAfter };
  return { ...unsigned, signature: bytesToHex(ed25519.sign(grantSigningBytes(unsigned), authoritySecretKey)) };
}

/**
 * Grants built by {@link verifiedGrant}: the frozen copy -> the authority key (hex) its signature
 * verified under. Module-private, so only this file can vouch for a grant; a WeakMap, so a grant
 * is forgotten with its federation.
 */
const verified = new WeakMap<Grant, string>();

/**
 * Checks a grant's form and authority signature, without looking at the time; {@link verifyGrant}
 * adds the validity period. Always a full check, except for a grant returned by
 * {@link verifiedGrant} for this same `authority`: that one is frozen and already passed the
 * form and signature checks, so only the `federation` and region checks (which depend on
 * `subject`) run again. The result is the same either way; only the Ed25519 work is saved.
 * @param authority - The authority's public key hex (policy.authority), or null.
 */
export function verifyGrantSignature(subject: Pick<PolicySubject, 'federation' | 'regions'>, authority: string | null, grant: Grant): GrantCheck {
  if (authority === null) return { ok: false, code: 'no-authority', reason: 'this federation has no policy.authority, so it accepts no grants' };
  const g = grant as Partial<Grant>;
  if (typeof g !== 'object' || g === null) return { ok: false, code: 'malformed', reason: 'a grant is a JSON object' };
  // verified once, by verifiedGrant, under this authority: the form and the signature cannot have changed (frozen)
  const preverified = verified.get(grant) === authority;
  if (!preverified) {
    const problems = grantShapeProblems(grant);
    if (problems.length > 0) return { ok: false, code: 'malformed', reason: problems.join('; ') };
  }
  if (grant.federation !== subject.federation) {
    return { ok: false, code: 'wrong-federation', reason: `grant ${grant.id} is for federation ${JSON.stringify(grant.federation)}, this is ${JSON.stringify(subject.federation)}` };
  }
  const ids = subject.regions.map((r) => r.id);
  if (!ids.includes(grant.flow.from)) return { ok: false, code: 'unknown-flow', reason: `grant ${grant.id}: flow.from ${JSON.stringify(grant.flow.from)} is not a region of this federation` };
  if ('toRegion' in grant.flow && !ids.includes(grant.flow.toRegion)) {
    return { ok: false, code: 'unknown-flow', reason: `grant ${grant.id}: flow.toRegion ${JSON.stringify(grant.flow.toRegion)} is not a region of this federation` };
  }
  if ('toJurisdiction' in grant.flow && !subject.regions.some((r) => r.jurisdiction === (grant.flow as { toJurisdiction: string }).toJurisdiction)) {
    return { ok: false, code: 'unknown-flow', reason: `grant ${grant.id}: flow.toJurisdiction ${JSON.stringify(grant.flow.toJurisdiction)} is the jurisdiction of no region` };
  }
  if (preverified) return { ok: true };
  if (typeof g.signature !== 'string' || g.signature === '') return { ok: false, code: 'unsigned', reason: `grant ${grant.id} is not signed: sign it with 'mpc-node policy grant'` };
  if (!isHexBytes(g.signature, 64, true)) return { ok: false, code: 'bad-signature', reason: `grant ${grant.id}: signature must be 128 hex characters` };
  let ok = false;
  try {
    ok = ed25519Verify(hexToBytes(authority), grantSigningBytes(grant), hexToBytes(g.signature.toLowerCase()));
  } catch {
    ok = false;
  }
  if (!ok) return { ok: false, code: 'bad-signature', reason: `grant ${grant.id}: the signature does not verify under policy.authority (altered after signing, or signed by another key)` };
  return { ok: true };
}

/**
 * Verifies a grant once, as {@link verifyGrantSignature} does, and on success returns a frozen
 * copy (the six grant fields, own data properties only) that the policy room remembers as
 * verified under `authority`. Later checks of that copy ({@link verifyGrant},
 * {@link verifyGrantSignature}, every flow decision of `allowedHolders`) then skip the form and
 * Ed25519 signature checks and only look at the federation, the regions, the flow and the time.
 * The federation file parser calls this, so every grant of a parsed federation is such a copy.
 * Any other grant object (a Policy built by hand, a copy, a mutated object) is still verified in
 * full on every use: nothing is assumed about grants this function did not return.
 * @param authority - The authority's public key hex (policy.authority), or null.
 * @returns `{ ok: true, grant }` with the frozen copy, or the refusal of verifyGrantSignature.
 */
export function verifiedGrant(
  subject: Pick<PolicySubject, 'federation' | 'regions'>,
  authority: string | null,
  grant: Grant,
): { readonly ok: true; readonly grant: Grant } | Extract<GrantCheck, { ok: false }> {
  if (verified.get(grant) === authority && authority !== null) return { ok: true, grant };
  const f = (grant as Partial<Grant> | null)?.flow as Partial<Record<'from' | 'toRegion' | 'toJurisdiction', string>> | undefined;
  if (typeof grant !== 'object' || grant === null || typeof f !== 'object' || f === null) {
    // always refused (no authority, or the form check: a grant and its flow are objects)
    return verifyGrantSignature(subject, authority, grant) as Extract<GrantCheck, { ok: false }>;
  }
  // Snapshot first, then verify the snapshot: what is remembered as verified is exactly what was checked.
  const flow: Record<string, unknown> = { from: f.from };
  if ('toRegion' in f) flow['toRegion'] = f.toRegion;
  if ('toJurisdiction' in f) flow['toJurisdiction'] = f.toJurisdiction;
  const copy = Object.freeze({
    federation: grant.federation,
    id: grant.id,
    flow: Object.freeze(flow) as unknown as GrantFlow,
    notBefore: grant.notBefore,
    notAfter: grant.notAfter,
    signature: grant.signature,
  }) as Grant;
  const check = verifyGrantSignature(subject, authority, copy);
  if (!check.ok) return check;
  verified.set(copy, authority!);
  return { ok: true, grant: copy };
}

/**
 * Checks that a grant is signed by the federation's policy authority, names regions of this
 * federation, and is valid at `now` (notBefore <= now <= notAfter, to the second).
 * @param now - Milliseconds since the epoch.
 * @returns `{ ok: true }` or `{ ok: false, code, reason }` (reason names the grant and the fix).
 * @example
 * verifyGrant(fed, grant, Date.now()); // { ok: false, code: 'expired', reason: 'grant g1 expired at 2025-12-31T23:59:59Z' }
 */
export function verifyGrant(f: PolicySubject, grant: Grant, now: number): GrantCheck {
  const sig = verifyGrantSignature(f, f.policy.authority, grant);
  if (!sig.ok) return sig;
  const nb = parseGrantTime(grant.notBefore)!;
  const na = parseGrantTime(grant.notAfter)!;
  if (now < nb) return { ok: false, code: 'not-yet-valid', reason: `grant ${grant.id} is not valid before ${grant.notBefore}` };
  if (now > na + 999) return { ok: false, code: 'expired', reason: `grant ${grant.id} expired at ${grant.notAfter}` };
  return { ok: true };
}
