/**
 * Raw bytes to a node's API port, for requests a well-behaved client cannot produce (a body
 * longer than its Content-Length, a stalled body, bytes that are no HTTP at all).
 */
import { connect } from 'node:net';

/**
 * Writes `bytes` on a fresh connection and resolves with everything read until the node closes
 * it. The writing side is ended after the bytes unless `keepOpen` (a trainer that stalls).
 */
export function rawExchange(api: string, bytes: Buffer | string, opts: { keepOpen?: boolean } = {}): Promise<string> {
  const u = new URL(api);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(parts).toString('latin1')));
    s.write(bytes);
    if (!opts.keepOpen) s.end();
  });
}
