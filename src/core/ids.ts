/**
 * The identifier rules of the whole project, each written once: region ids, round ids,
 * federation names, jurisdiction labels, and the party limit. Every layer that accepts an id
 * from a file, a peer, a trainer or the command line checks it here, with the same message.
 * @module
 */

/** Most regions (parties) a federation can have: share x-coordinates are 1..255 (one byte). */
export const MAX_PARTIES = 255;

/** A region id: 1-32 of a-z 0-9 -, starting with a letter (a DNS label and a file name). */
export const REGION_ID_RE: RegExp = /^[a-z][a-z0-9-]{0,31}$/;
export const REGION_ID_RULE = 'a region id is 1-32 characters of a-z, 0-9 and "-", starting with a letter, e.g. "eu" or "us-east"';

/** A round id: 1-128 of A-Z a-z 0-9 . _ : - (safe as a file name, in a URL and in logs). */
export const ROUND_ID_RE: RegExp = /^[A-Za-z0-9._:-]{1,128}$/;
export const ROUND_ID_RULE = 'round must be 1-128 characters of A-Z a-z 0-9 . _ : -';

/** A federation name: it takes part in domain separation (handshake, digests) and file names. */
export const FEDERATION_NAME_RE: RegExp = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const FEDERATION_NAME_RULE = 'a federation name is 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit';

/** A jurisdiction label, e.g. `EU`, `US`, `APAC`, `US-CA`. */
export const JURISDICTION_RE: RegExp = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
export const JURISDICTION_RULE = 'a jurisdiction label is 1-32 letters, digits, "_" or "-", starting with a letter, e.g. "EU" or "US-CA"';

/** @example isRegionId('eu-west'); // true */
/** A trainer's pseudonymous id in transcripts (src/node/credentials.ts `trainerPseudonym`): 16 bytes as 32 lower-case hex. */
export const TRAINER_ID_RE: RegExp = /^[0-9a-f]{32}$/;

export const isRegionId = (v: unknown): v is string => typeof v === 'string' && REGION_ID_RE.test(v);
export const isRoundId = (v: unknown): v is string => typeof v === 'string' && ROUND_ID_RE.test(v);
export const isFederationName = (v: unknown): v is string => typeof v === 'string' && FEDERATION_NAME_RE.test(v);
