/**
 * The federation summary: the normalized federation file flattened to one short fingerprint per
 * field (`round.collectMs`, `regions[eu].endpoint`, `policy.regions.eu.shareTo`, …), which nodes
 * exchange with their round parameters so that a digest mismatch can name the fields that
 * differ. The federation file is public (every node serves it at GET /federation); a summary
 * carries nothing else.
 * @module
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { canonicalJson } from '../core/canonical-json.js';
import type { Federation } from './model.js';

/** Field path -> the field's canonical JSON, or `sha256:<16 hex>` of it when longer than SUMMARY_MAX_VALUE characters. */
export type FederationSummary = Readonly<Record<string, string>>;

/** Most fields a summary has; a larger federation has none (mismatches then name only digests). */
export const SUMMARY_MAX_ENTRIES = 4096;
/** Longest field path and longest value kept as is. */
export const SUMMARY_MAX_PATH = 256;
export const SUMMARY_MAX_VALUE = 64;

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function leaf(v: unknown): string {
  const j = canonicalJson(v);
  return j.length <= SUMMARY_MAX_VALUE ? j : `sha256:${bytesToHex(sha256(utf8ToBytes(j))).slice(0, 16)}`;
}

/**
 * The summary of `f` (normalized, as parsed): maps by key, lists of objects with an `id` by id
 * (`regions[eu]`), every other value a leaf.
 * @returns null when it would exceed SUMMARY_MAX_ENTRIES fields or a path SUMMARY_MAX_PATH characters.
 * @example
 * federationSummary(fed)['round.clipL2']; // '100'
 */
export function federationSummary(f: Federation): FederationSummary | null {
  const out: Record<string, string> = {};
  let n = 0;
  const walk = (v: unknown, path: string): boolean => {
    if (Array.isArray(v) && v.length > 0 && v.every((x) => isMap(x) && typeof x.id === 'string')) {
      return v.every((x) => walk(x, `${path}[${(x as { id: string }).id}]`));
    }
    if (isMap(v) && Object.keys(v).length > 0) return Object.keys(v).sort().every((k) => walk(v[k], path ? `${path}.${k}` : k));
    if (++n > SUMMARY_MAX_ENTRIES || path.length > SUMMARY_MAX_PATH) return false;
    out[path] = leaf(v);
    return true;
  };
  return walk(f, '') ? out : null;
}

/**
 * The shape check of a summary from a peer: a map of at most SUMMARY_MAX_ENTRIES non-empty paths
 * of at most SUMMARY_MAX_PATH characters to strings of at most SUMMARY_MAX_VALUE characters.
 * @returns the problem as a sentence, or null.
 */
export function summaryProblem(s: unknown): string | null {
  if (!isMap(s) || Object.getPrototypeOf(s) !== Object.prototype) return 'summary must be a map';
  const keys = Object.keys(s);
  if (keys.length > SUMMARY_MAX_ENTRIES) return `summary has more than ${SUMMARY_MAX_ENTRIES} fields`;
  for (const k of keys) {
    const v = s[k];
    if (k.length === 0 || k.length > SUMMARY_MAX_PATH) return 'summary field path is empty or too long';
    if (typeof v !== 'string' || v.length > SUMMARY_MAX_VALUE) return `summary values must be strings of at most ${SUMMARY_MAX_VALUE} characters`;
  }
  return null;
}

/**
 * The fields whose fingerprints differ between two summaries (a field only one has counts), in
 * path order.
 */
export function summaryDifferences(ours: FederationSummary, theirs: FederationSummary): { path: string; ours: string | null; theirs: string | null }[] {
  const at = (s: FederationSummary, p: string): string | null => (Object.hasOwn(s, p) ? s[p]! : null);
  const paths = [...new Set([...Object.keys(ours), ...Object.keys(theirs)])].sort();
  return paths.filter((p) => at(ours, p) !== at(theirs, p)).map((p) => ({ path: p, ours: at(ours, p), theirs: at(theirs, p) }));
}
