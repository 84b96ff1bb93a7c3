/**
 * The small validation toolkit the federation readers share: the ConfigError every failure is
 * (its message starts with the JSON path, "regions[1].publicKey: ...", and says what to write
 * instead), did-you-mean suggestions, and the mapping of a schema issue (schema.ts) to that form.
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';

/**
 * The problems found in one file. A rule that can be checked independently of the others
 * `report`s and lets the reading go on, so an operator sees every problem of a file at once;
 * a rule whose failure leaves nothing sound to check further `fail`s: it throws one ConfigError
 * with everything found so far. `done()` throws that error if anything was reported.
 */
export class Ctx {
  private readonly problems: string[] = [];
  constructor(readonly source: string | undefined) {}

  /** Records a problem and goes on. */
  report(path: string, message: string): void {
    const line = `${path === '' ? '' : `${path}: `}${message}`;
    if (!this.problems.includes(line)) this.problems.push(line);
  }

  /** Records a problem and throws every problem recorded so far. */
  fail(path: string, message: string): never {
    this.report(path, message);
    throw this.error();
  }

  /** Throws every recorded problem, if any. */
  done(): void {
    if (this.problems.length > 0) throw this.error();
  }

  /** One problem: `source: path: message`; several: `source: N problems:` and one indented line each. */
  private error(): ConfigError {
    const where = this.source === undefined ? '' : `${this.source}: `;
    const [one, ...more] = this.problems;
    if (more.length === 0) return new ConfigError('CONFIG_INVALID', `${where}${one}`);
    return new ConfigError('CONFIG_INVALID', `${where}${this.problems.length} problems:\n${this.problems.map((p) => `  ${p}`).join('\n')}`);
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return typeof v === 'object' ? 'an object' : typeof v;
}

export function join(path: string, key: string): string {
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

/** The range message every integer field shares, from the schema pass and from the cross-field rules alike. */
export function outOfRange(v: unknown, min: number, max: number, hint = ''): string {
  return `${describe(v)} is out of range: expected an integer from ${min} to ${max}${hint}`;
}

/** What the readers need of a schema issue (zod's finalized issue, structurally). */
export interface SchemaIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly keys?: readonly string[];
}

/** A JSON path as the messages write it: `regions[1].api.port`, `policy.regions.eu`. */
export function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out = typeof p === 'number' ? `${out}[${p}]` : join(out, String(p));
  return out;
}

const isPrefix = (a: readonly PropertyKey[], b: readonly PropertyKey[]): boolean => a.length <= b.length && a.every((p, i) => p === b[i]);

/**
 * Fails with every issue, in the order a reader going through the file top-down meets them:
 * document order, except that an object's unknown keys come before anything inside it (a typo
 * must be read before the "missing" it causes). An unknown key's path names the key itself.
 */
export function failOnIssues(ctx: Ctx, issues: readonly SchemaIssue[]): never {
  if (issues.length === 0) ctx.fail('', 'is not valid');
  const typos = issues.filter((i) => i.code === 'unrecognized_keys');
  const ordered: SchemaIssue[] = [];
  for (const iss of issues) {
    // an object's unknown keys first, outermost object first
    for (const t of typos.filter((t) => isPrefix(t.path, iss.path)).sort((a, b) => a.path.length - b.path.length)) if (!ordered.includes(t)) ordered.push(t);
    if (!ordered.includes(iss)) ordered.push(iss);
  }
  for (const iss of ordered) {
    if (iss.code === 'unrecognized_keys' && iss.keys?.length) for (const k of iss.keys) ctx.report(pathText([...iss.path, k]), iss.keys.length === 1 ? iss.message : iss.message.replace(/unknown keys? [^;]*/, `unknown key ${JSON.stringify(k)}`));
    else ctx.report(pathText(iss.path), iss.message);
  }
  ctx.done();
  throw new Error('unreachable');
}

/**
 * RFC 8032 §5.1.3: a public key's 32 bytes (hex) must decode to a curve point; a small-order
 * point would let anyone forge signatures that verify under it, so it is no key at all.
 */
export function ed25519PointKind(hex: string): 'ok' | 'not-a-point' | 'small-order' {
  try {
    return ed25519.Point.fromBytes(hexToBytes(hex)).isSmallOrder() ? 'small-order' : 'ok';
  } catch {
    return 'not-a-point';
  }
}
