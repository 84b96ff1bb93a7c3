/**
 * Shared helpers of the multi-process tests: the leak needles of a trainer update and a reader
 * of Prometheus text.
 */
const P = 0xffff_ffff_0000_0001n;

/** The fixed-point field encoding of v (weight 1) as a u64, in both byte orders. */
export function fieldBytes(v: number, scaleBits: number): Buffer[] {
  let x = BigInt(Math.round(Math.fround(v) * 2 ** scaleBits));
  if (x < 0n) x += P;
  const le = Buffer.alloc(8);
  le.writeBigUInt64LE(x);
  const be = Buffer.alloc(8);
  be.writeBigUInt64BE(x);
  return [le, be];
}

/** One sample of a Prometheus series whose labels include `labels`; undefined when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name + '{') && !line.startsWith(name + ' ')) continue;
    const close = line.indexOf('}');
    const body = close < 0 ? '' : line.slice(name.length + 1, close);
    if (Object.entries(labels).every(([k, v]) => body.includes(`${k}="${v}"`))) return Number(line.slice(close < 0 ? name.length : close + 1));
  }
  return undefined;
}

/** A byte string to look for, and what it is. */
export interface Needle {
  what: string;
  bytes: Buffer;
}

/** Bytes a party other than the trainer's region saw or wrote, and where. */
export interface Haystack {
  where: string;
  bytes: Buffer;
}

/**
 * The needles of a trainer update whose values cycle through `pattern`: three overlapping
 * float32 pairs of its raw bytes `f32`, and the field encodings (both byte orders) of every
 * pattern value.
 */
export function updateNeedles(f32: Buffer, pattern: number[], scaleBits = 16): Needle[] {
  return [
    { what: 'float32 pair', bytes: f32.subarray(0, 8) },
    { what: 'float32 pair', bytes: f32.subarray(4, 12) },
    { what: 'float32 pair', bytes: f32.subarray(8, 16) },
    ...pattern.flatMap((x) => fieldBytes(x, scaleBits).map((b) => ({ what: `field encoding of ${x}`, bytes: b }))),
  ];
}

/** Every needle found in a haystack, as "<what> in <where>". */
export function leakHits(haystacks: Haystack[], needles: Needle[]): string[] {
  return haystacks.flatMap((h) => needles.filter((n) => h.bytes.includes(n.bytes)).map((n) => `${n.what} in ${h.where}`));
}
