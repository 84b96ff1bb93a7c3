/**
 * Canonical JSON: RFC 8785 (JCS) for the data this project hashes and signs (federation files,
 * policies, grants, transcript entries). The one definition: everything that hashes or signs JSON
 * imports it from here.
 * @module
 */

/**
 * Canonical JSON (RFC 8785 JCS for this data: object keys sorted by UTF-16 code units, no
 * whitespace, strings and numbers as `JSON.stringify` writes them, arrays in order).
 * @throws {RangeError} for a non-finite number; {TypeError} for undefined, functions, bigints.
 * @example
 * canonicalJson({ b: 1, a: [true, null] }); // '{"a":[true,null],"b":1}'
 */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new RangeError('canonicalJson: non-finite number');
    return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  throw new TypeError(`canonicalJson: cannot encode ${typeof v}`);
}
