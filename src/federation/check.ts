/**
 * The small validation toolkit the federation readers share. Every failure is a ConfigError whose
 * message starts with the JSON path ("regions[1].publicKey: ...") and says what to write instead.
 * @module
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hexToBytes } from '@noble/hashes/utils.js';
import { ConfigError } from '../errors.js';
import { COMMENT_KEY_PREFIX } from './model.js';

export type Json = Record<string, unknown>;

export class Ctx {
  constructor(readonly source: string | undefined) {}
  fail(path: string, message: string): never {
    const where = this.source === undefined ? '' : `${this.source}: `;
    throw new ConfigError('CONFIG_INVALID', `${where}${path === '' ? '' : `${path}: `}${message}`);
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

/** Checks `v` is a plain object whose keys are all in `known` (comment keys aside). */
export function object(ctx: Ctx, v: unknown, path: string, known: readonly string[]): Json {
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

export function required(ctx: Ctx, o: Json, key: string, path: string, hint: string): unknown {
  if (!Object.hasOwn(o, key)) ctx.fail(join(path, key), `missing; ${hint}`);
  return o[key];
}

export function string(ctx: Ctx, v: unknown, path: string, re: RegExp, hint: string): string {
  if (typeof v !== 'string') ctx.fail(path, `expected a string (${hint}), got ${describe(v)}`);
  if (!re.test(v)) ctx.fail(path, `${describe(v)} is not valid: ${hint}`);
  return v;
}

export function boolean(ctx: Ctx, v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') ctx.fail(path, `expected true or false, got ${describe(v)}`);
  return v;
}

export function integer(ctx: Ctx, v: unknown, path: string, min: number, max: number, hint = ''): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    ctx.fail(path, `expected an integer${hint}, got ${describe(v)}`);
  }
  if (v < min || v > max) ctx.fail(path, `${v} is out of range: expected an integer from ${min} to ${max}${hint}`);
  return v;
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
