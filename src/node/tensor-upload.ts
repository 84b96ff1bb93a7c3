/**
 * The head of an update of named tensors (docs/api.md "Named tensors"): a u32 little-endian
 * manifest length, the manifest's canonical bytes (src/core/tensor-manifest.ts), then the
 * float32 values, which stream on like a plain update's body.
 * @module
 */
import { MpcError } from '../errors.js';
import { MANIFEST_LIMITS, manifestDigestHex, manifestValues, parseManifest, type RoundManifest } from '../core/tensor-manifest.js';
import { prepended, readPrefix } from './upload-body.js';

/** The media type of an update of named tensors. */
export const TENSORS_MEDIA_TYPE = 'application/vnd.mpc-node.tensors';

/**
 * Reads and checks the manifest at the start of a body of `len` bytes (its Content-Length).
 * @returns the manifest, the number of value bytes that follow it, and the part of the last
 *   chunk read that already belongs to them.
 * @throws {MpcError} API_BAD_MANIFEST, FIELD_LENGTH_MISMATCH (values that do not fill the
 *   shapes), API_BAD_REQUEST / API_BODY_TIMEOUT from the body.
 */
export async function readTensorsHead(body: AsyncGenerator<Buffer>, len: number): Promise<{ manifest: RoundManifest; bytes: number; rest: Buffer }> {
  const head = await readPrefix(body, 4, 'the manifest length');
  const L = head.prefix.readUInt32LE(0);
  if (L < 2 || L > MANIFEST_LIMITS.maxBytes || 4 + L > len) throw new MpcError('API_BAD_MANIFEST', `manifest length ${L} does not fit the body (2..${MANIFEST_LIMITS.maxBytes} bytes, within Content-Length)`);
  const m = head.rest.length >= L ? { prefix: Buffer.from(head.rest.subarray(0, L)), rest: head.rest.subarray(L) } : await readPrefix(prepended(head.rest, body), L, 'the manifest');
  const parsed = parseManifest(m.prefix); // strict UTF-8, canonical form
  const bytes = len - 4 - L;
  const values = manifestValues(parsed);
  if (bytes !== values * 4) throw new MpcError('FIELD_LENGTH_MISMATCH', `the manifest's tensors hold ${values} values (${values * 4} bytes), the body after it has ${bytes} bytes`);
  return { manifest: { text: m.prefix.toString('utf8'), digest: manifestDigestHex(m.prefix), parsed }, bytes, rest: m.rest };
}
