/**
 * The aggregate written to a trainer: decoded from WASM memory in pieces as the response drains,
 * never held whole as a JavaScript array.
 * @module
 */
import type { ServerResponse } from 'node:http';
import type { AggregateAnswer } from './node-options.js';

/** Values per response write: 256 KiB pieces, two in flight (one filling while one drains). */
const ANSWER_PIECE = 65536;

/**
 * Streams the aggregate into the response in pieces decoded from WASM memory, two buffers in
 * turn: a buffer is filled again only once its previous write has called back (which also paces
 * the answer to the trainer's connection).
 */
export async function writeAnswer(res: ServerResponse, a: AggregateAnswer): Promise<void> {
  const bufs = [new Float32Array(Math.min(ANSWER_PIECE, a.params)), new Float32Array(Math.min(ANSWER_PIECE, a.params))];
  // a connection closed mid-answer may never call back a pending write
  if (res.destroyed) throw new Error('trainer connection closed before the answer');
  let onClose: () => void = () => {};
  const closed = new Promise<never>((_, reject) => (onClose = () => reject(new Error('trainer connection closed during the answer'))));
  closed.catch(() => {});
  res.once('close', onClose);
  let inFlight: Promise<void> = Promise.resolve();
  for (let o = 0, k = 0; o < a.params; o += ANSWER_PIECE, k ^= 1) {
    const piece = bufs[k]!.subarray(0, Math.min(ANSWER_PIECE, a.params - o));
    a.read(o, piece);
    const prev = inFlight;
    inFlight = new Promise<void>((resolve, reject) => {
      res.write(Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength), (e) => (e ? reject(e) : resolve()));
    });
    await Promise.race([prev, closed]); // the other buffer is free again once its write is done
  }
  await Promise.race([inFlight, closed]);
  res.off('close', onClose);
  res.end();
}
