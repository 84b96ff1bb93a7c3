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
