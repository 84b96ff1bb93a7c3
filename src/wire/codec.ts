/**
 * Wire encoding of peer messages: msgpack (msgpackr) envelopes `{ v, type, ...fields }` with
 * vectors as raw binary. `decodePeerMessage` checks, in this order: size, msgpack syntax and
 * trailing bytes, version, type tag, the exact key set, every field's type and range; it
 * returns a fully validated message or throws a WireError. Nothing downstream sees `unknown`.
 * Spec: docs/protocol.md, "Wire format".
 * @module
 */
import { Packr, Unpackr } from 'msgpackr';
import { MAX_PARTIES, REGION_ID_RE, ROUND_ID_RE } from '../core/ids.js';
import { WireError, type ErrorCode } from '../errors.js';
import { MAX_ABORT_REASON, MESSAGE_TYPES, PROTOCOL_VERSION, type MessageType, type PeerMessage } from '../protocol/messages.js';
import { roundParamsProblem, summaryProblem, type RoundParams } from '../protocol/params.js';
import { MAX_MESSAGE_BYTES } from './limits.js';
import { SEED_BYTES } from '../sharing/seeded.js';
import { ERROR_CODE_RE } from '../core/hex.js';
import { MANIFEST_LIMITS, manifestDigestHex, parseManifest } from '../core/tensor-manifest.js';

/** Upper bound on one peer message (defined in limits.ts; re-exported for the codec's users). */
export { MAX_MESSAGE_BYTES };
const MAX_STRING = 256;

const packr = new Packr({ useRecords: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: 'number' });

export function encodePeerMessage(m: PeerMessage): Uint8Array {
  return packr.pack({ v: PROTOCOL_VERSION, ...m });
}

const DATA_KEY = Uint8Array.of(0xa4, 0x64, 0x61, 0x74, 0x61); // fixstr "data"

/**
 * The same message as `encodePeerMessage` (it decodes to the same fields; `data` is always a
 * bin32 here, where msgpackr picks the shortest bin), as parts that need not be copied together: for the
 * vector chunks (`share`, `agg`) a small msgpack header ending in the bin32 header of `data`,
 * then `data` itself (often a view of WASM memory, which the caller must not change until the
 * parts are consumed). The peer link encrypts the parts straight into its frame.
 *
 *   header = map(5) { v, type, round, offset } ++ "data" ++ 0xc6 u32be(len)      data = raw bytes
 */
export function encodePeerMessageParts(m: PeerMessage): Uint8Array[] {
  if (m.type !== 'share' && m.type !== 'agg') return [encodePeerMessage(m)];
  const head = packr.pack({ v: PROTOCOL_VERSION, type: m.type, round: m.round, offset: m.offset });
  if (head[0] !== 0x84) return [encodePeerMessage(m)]; // not a fixmap(4): take the plain path
  const out = new Uint8Array(head.length + DATA_KEY.length + 5);
  out.set(head);
  out[0] = 0x85; // fixmap(5): the data entry follows
  out.set(DATA_KEY, head.length);
  const bin = head.length + DATA_KEY.length;
  out[bin] = 0xc6; // bin32
  new DataView(out.buffer).setUint32(bin + 1, m.data.length);
  return [out, m.data];
}

const fail = (code: ErrorCode, msg: string): never => {
  throw new WireError(code, msg);
};

/**
 * Every byte field of the result is its own copy, except the `data` of `share` and `agg`: a view
 * of `bytes`, valid as long as `bytes` is (copy it to keep it past a reused input buffer).
 * @throws {WireError} WIRE_TOO_LARGE, WIRE_MALFORMED, WIRE_TRAILING_BYTES, WIRE_BAD_VERSION, WIRE_UNKNOWN_TYPE.
 */
export function decodePeerMessage(bytes: Uint8Array, maxBytes = MAX_MESSAGE_BYTES): PeerMessage {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('"bytes" expected Uint8Array');
  if (bytes.length > maxBytes) fail('WIRE_TOO_LARGE', `message of ${bytes.length} bytes exceeds the limit of ${maxBytes}`);
  let values: unknown[];
  try {
    values = unpackr.unpackMultiple(bytes) as unknown[];
  } catch {
    // msgpackr's errors can quote decoded data: never pass them on
    return fail('WIRE_MALFORMED', 'message is not valid msgpack');
  }
  if (values.length !== 1) fail('WIRE_TRAILING_BYTES', 'trailing bytes after message');
  const o = values[0];
  // a plain map only: msgpackr also yields arrays, Dates, extension and 0xc1 marker objects
  if (typeof o !== 'object' || o === null || Object.getPrototypeOf(o) !== Object.prototype) return fail('WIRE_MALFORMED', 'message is not a map');
  const m = o as Record<string, unknown>;
  if (m.v !== PROTOCOL_VERSION) fail('WIRE_BAD_VERSION', `protocol version ${String(m.v).slice(0, 16)} is not supported (expected ${PROTOCOL_VERSION})`);
  const type = m.type;
  if (typeof type !== 'string' || !MESSAGE_TYPES.includes(type as MessageType)) fail('WIRE_UNKNOWN_TYPE', `unknown message type ${JSON.stringify(String(type).slice(0, 32))}`);
  const t = type as MessageType;
  exactKeys(m, ['v', 'type', 'round', ...FIELDS[t]], t, OPTIONAL[t]);
  str(m, 'round', ROUND_ID_RE);
  switch (t) {
    case 'params':
      params(m.params);
      if ('summary' in m) {
        const why = summaryProblem(m.summary);
        if (why !== null) fail('WIRE_MALFORMED', why);
      }
      // a round of named tensors: their manifest comes with the params, so a mismatch can name the tensor
      if ('tensors' in m || (m.params as RoundParams).manifest !== undefined) tensorsText(m.tensors, (m.params as RoundParams).manifest);
      break;
    case 'share':
    case 'agg':
      uint(m, 'offset', 2 ** 32);
      bin(m, 'data', maxBytes, 0, false); // a view of `bytes`: vector chunks are consumed at once
      break;
    case 'commits':
      str(m, 'dealer', REGION_ID_RE);
      if (typeof m.contributes !== 'boolean') fail('WIRE_MALFORMED', 'commits.contributes must be a boolean');
      uint(m, 'trainers', 2 ** 32);
      if (typeof m.digests !== 'object' || m.digests === null || Array.isArray(m.digests)) fail('WIRE_MALFORMED', 'commits.digests must be a map');
      {
        const d = m.digests as Record<string, unknown>;
        const keys = Object.keys(d);
        if (keys.length > MAX_PARTIES) fail('WIRE_MALFORMED', 'commits.digests has too many entries');
        for (const k of keys) {
          if (!REGION_ID_RE.test(k)) fail('WIRE_MALFORMED', 'commits.digests key is not a region id');
          bin(d, k, 32, 32);
        }
      }
      bin(m, 'sig', 64, 64);
      break;
    case 'receipt':
      str(m, 'dealer', REGION_ID_RE);
      str(m, 'holder', REGION_ID_RE);
      bin(m, 'digest', 32, 32);
      if ('projection' in m) bin(m, 'projection', 8, 8);
      bin(m, 'sig', 64, 64);
      break;
    case 'seed':
      bin(m, 'seed', SEED_BYTES, SEED_BYTES);
      break;
    case 'agg-proj':
      str(m, 'holder', REGION_ID_RE);
      bin(m, 'projection', 8, 8);
      bin(m, 'sig', 64, 64);
      break;
    case 'decision':
      str(m, 'coordinator', REGION_ID_RE);
      regions(m, 'dealers');
      regions(m, 'holders');
      bin(m, 'sig', 64, 64);
      break;
    case 'agg-done':
      str(m, 'holder', REGION_ID_RE);
      bin(m, 'digest', 32, 32);
      bin(m, 'sig', 64, 64);
      break;
    case 'seal':
      str(m, 'holder', REGION_ID_RE);
      bin(m, 'result', 32, 32);
      bin(m, 'projection', 8, 0);
      if ((m.projection as Uint8Array).length !== 0 && (m.projection as Uint8Array).length !== 8) fail('WIRE_MALFORMED', 'field projection has ' + (m.projection as Uint8Array).length + ' bytes, expected 0 or 8');
      bin(m, 'sig', 64, 64);
      break;
    case 'abort':
      str(m, 'code', ERROR_CODE_RE);
      if (typeof m.reason !== 'string' || m.reason.length > MAX_ABORT_REASON) fail('WIRE_MALFORMED', `abort.reason must be a string of at most ${MAX_ABORT_REASON} characters`);
      regions(m, 'culprits');
      break;
  }
  const { v: _v, ...msg } = m;
  return msg as unknown as PeerMessage;
}

const FIELDS: Record<MessageType, string[]> = {
  params: ['params'],
  share: ['offset', 'data'],
  seed: ['seed'],
  commits: ['dealer', 'contributes', 'trainers', 'digests', 'sig'],
  receipt: ['dealer', 'holder', 'digest', 'sig'],
  decision: ['coordinator', 'dealers', 'holders', 'sig'],
  agg: ['offset', 'data'],
  'agg-done': ['holder', 'digest', 'sig'],
  'agg-proj': ['holder', 'projection', 'sig'],
  'agg-pull': [],
  abort: ['code', 'reason', 'culprits'],
  seal: ['holder', 'result', 'projection', 'sig'],
};

/** Fields a message may leave out. */
const OPTIONAL: Partial<Record<MessageType, string[]>> = { params: ['summary', 'tensors'], receipt: ['projection'] };

/** A params message's manifest text: a valid canonical manifest whose digest is the params' `manifest`. */
function tensorsText(v: unknown, digest: string | undefined): void {
  if (typeof v !== 'string' || v.length > MANIFEST_LIMITS.maxBytes) fail('WIRE_MALFORMED', 'params: tensors must be a manifest text');
  const bytes = new TextEncoder().encode(v as string);
  try {
    parseManifest(bytes);
  } catch (e) {
    fail('WIRE_MALFORMED', `params: tensors: ${(e as Error).message}`);
  }
  if (digest !== manifestDigestHex(bytes)) fail('WIRE_MALFORMED', 'params: tensors do not have the digest params.manifest names');
}

function exactKeys(m: Record<string, unknown>, keys: string[], what: string, optional: string[] = []): void {
  const got = Object.keys(m);
  for (const k of got) if (!keys.includes(k) && !optional.includes(k)) fail('WIRE_MALFORMED', `${what}: unexpected field ${JSON.stringify(k.slice(0, 32))}`);
  for (const k of keys) if (!(k in m)) fail('WIRE_MALFORMED', `${what}: missing field ${k}`);
}

function str(m: Record<string, unknown>, k: string, re: RegExp): void {
  const v = m[k];
  if (typeof v !== 'string' || v.length > MAX_STRING || !re.test(v)) fail('WIRE_MALFORMED', `field ${k} is not a valid ${k}`);
}

function uint(m: Record<string, unknown>, k: string, max: number): void {
  const v = m[k];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= max) fail('WIRE_MALFORMED', `field ${k} must be an integer in [0, ${max})`);
}

/**
 * Checks a binary field and, with `own`, replaces it by a copy: msgpackr returns views of the
 * input, which a peer link may reuse for its next message (PeerNetwork `reuseBuffers`), while
 * digests and signatures are kept in the round state and the transcript.
 */
function bin(m: Record<string, unknown>, k: string, max: number, min = 0, own = true): void {
  const v = m[k];
  if (!(v instanceof Uint8Array)) return fail('WIRE_MALFORMED', `field ${k} must be binary`);
  if (v.length < min || v.length > max) fail('WIRE_MALFORMED', `field ${k} has ${v.length} bytes, expected ${min === max ? min : `${min}..${max}`}`);
  if (own) m[k] = new Uint8Array(v); // a copy (Buffer#slice, which msgpackr returns, would be a view)
}

function regions(m: Record<string, unknown>, k: string): void {
  const v = m[k];
  if (!Array.isArray(v) || v.length > MAX_PARTIES || !v.every((r) => typeof r === 'string' && REGION_ID_RE.test(r))) {
    fail('WIRE_MALFORMED', `field ${k} must be a list of region ids`);
  }
  if (new Set(v as string[]).size !== (v as string[]).length) fail('WIRE_MALFORMED', `field ${k} repeats a region`);
}

function params(p: unknown): asserts p is RoundParams {
  const why = roundParamsProblem(p);
  if (why !== null) fail('WIRE_MALFORMED', why);
}
