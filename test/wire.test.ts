/**
 * Peer message codec: round trips, and every malformed input refused with its code, before any
 * protocol code sees it. Error messages never quote message data.
 */
import { describe, expect, it } from 'vitest';
import { Packr } from 'msgpackr';
import { WireError } from '../src/errors.js';
import type { PeerMessage } from '../src/protocol/messages.js';
import { decodePeerMessage, encodePeerMessage, encodePeerMessageParts, MAX_MESSAGE_BYTES } from '../src/wire/codec.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
const pack = (o: unknown) => new Packr({ useRecords: false }).pack(o);
const params = {
  round: 'r1', federation: 'a'.repeat(64), policy: 'b'.repeat(64), participants: ['eu', 'us'], threshold: 2, params: 10,
  scaleBits: 16, clipL2: 5, clipMode: 'clip' as const, minContributors: 2, minTrainers: 1,
};
const GOOD: PeerMessage[] = [
  { type: 'params', round: 'r1', params },
  { type: 'share', round: 'r1', offset: 65536, data: new Uint8Array(16).fill(3) },
  { type: 'commits', round: 'r1', dealer: 'eu', contributes: true, trainers: 2, digests: { eu: new Uint8Array(32), us: new Uint8Array(32).fill(1) }, sig: new Uint8Array(64) },
  { type: 'receipt', round: 'r1', dealer: 'eu', holder: 'us', digest: new Uint8Array(32), sig: new Uint8Array(64) },
  { type: 'decision', round: 'r1', coordinator: 'eu', dealers: ['eu'], holders: ['eu', 'us'], sig: new Uint8Array(64) },
  { type: 'agg', round: 'r1', offset: 0, data: new Uint8Array(8) },
  { type: 'agg-done', round: 'r1', holder: 'us', digest: new Uint8Array(32), sig: new Uint8Array(64) },
  { type: 'abort', round: 'r1', code: 'PROTOCOL_TIMEOUT', reason: 'late', culprits: ['us'] },
];

/** msgpackr returns Buffers in Node: compare as plain Uint8Arrays. */
function plain(v: unknown): unknown {
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

function expectWire(bytes: Uint8Array, code: string, msg?: RegExp): void {
  try {
    decodePeerMessage(bytes);
  } catch (e) {
    expect(e).toBeInstanceOf(WireError);
    expect((e as WireError).code).toBe(code);
    if (msg) expect((e as Error).message).toMatch(msg);
    return;
  }
  throw new Error('expected a WireError');
}

describe('peer message codec', () => {
  for (const m of GOOD) {
    it(`round-trips ${m.type}`, () => {
      const back = decodePeerMessage(encodePeerMessage(m));
      expect(plain(back)).toEqual(m);
    });
  }
  it('encodes vector chunks as parts (header + data view) that decode to the same message', () => {
    for (const m of [GOOD[1]!, GOOD[5]!, { type: 'share' as const, round: 'r1', offset: 0, data: new Uint8Array(524288).fill(9) }]) {
      const parts = encodePeerMessageParts(m);
      expect(parts).toHaveLength(2);
      expect(parts[1]).toBe((m as { data: Uint8Array }).data); // no copy of the payload
      // the payload compared as bytes: a deep equality over 512 Ki elements takes seconds
      const { data, ...rest } = plain(decodePeerMessage(Buffer.concat(parts))) as { data: Uint8Array };
      const { data: want, ...wantRest } = m as { data: Uint8Array };
      expect(rest).toEqual(wantRest);
      expect(Buffer.from(data).equals(Buffer.from(want))).toBe(true);
    }
    expect(encodePeerMessageParts(GOOD[7]!)).toEqual([encodePeerMessage(GOOD[7]!)]);
  });
  it('decodes byte fields into their own memory, except a vector chunk\'s data (a view of the input)', () => {
    const receipt = encodePeerMessage({ type: 'receipt', round: 'r1', dealer: 'eu', holder: 'us', digest: new Uint8Array(32).fill(3), sig: new Uint8Array(64).fill(4) });
    const r = decodePeerMessage(receipt) as Extract<PeerMessage, { type: 'receipt' }>;
    expect(r.sig.buffer).not.toBe(receipt.buffer);
    expect(r.digest.buffer).not.toBe(receipt.buffer);
    receipt.fill(0); // the input buffer reused for the next message: the decoded fields stay
    expect(r.sig.every((x) => x === 4) && r.digest.every((x) => x === 3)).toBe(true);
    const share = encodePeerMessage({ type: 'share', round: 'r1', offset: 0, data: new Uint8Array(16).fill(9) });
    const d = decodePeerMessage(share) as Extract<PeerMessage, { type: 'share' }>;
    expect(d.data.buffer).toBe(share.buffer);
  });

  it('decodes a hand-written abort from hex bytes', () => {
    // {v:1, type:"abort", round:"r", code:"X", reason:"", culprits:[]}
    const bytes = hex('86 a1 76 01 a4 74 79 70 65 a5 61 62 6f 72 74 a5 72 6f 75 6e 64 a1 72 a4 63 6f 64 65 a1 58 a6 72 65 61 73 6f 6e a0 a8 63 75 6c 70 72 69 74 73 90');
    expect(decodePeerMessage(bytes)).toEqual({ type: 'abort', round: 'r', code: 'X', reason: '', culprits: [] });
  });
  it('rejects trailing bytes', () => {
    const b = encodePeerMessage(GOOD[7]!);
    expectWire(Uint8Array.from([...b, 0xc0]), 'WIRE_TRAILING_BYTES');
  });
  it('rejects truncated and garbage input without quoting it', () => {
    const b = encodePeerMessage(GOOD[1]!);
    expectWire(b.subarray(0, b.length - 3), 'WIRE_MALFORMED', /^message is not valid msgpack$/);
    expectWire(hex('c1'), 'WIRE_MALFORMED');
    expectWire(pack([1, 2, 3]), 'WIRE_MALFORMED', /not a map/);
  });
  it('rejects a message above the size limit before parsing', () => {
    expectWire(new Uint8Array(MAX_MESSAGE_BYTES + 1), 'WIRE_TOO_LARGE');
  });
  it('rejects an unknown version and an unknown type', () => {
    expectWire(pack({ ...GOOD[7], v: 2 }), 'WIRE_BAD_VERSION');
    expectWire(pack({ v: 1, type: 'hello', round: 'r1' }), 'WIRE_UNKNOWN_TYPE', /"hello"/);
  });
  it('rejects unknown and missing fields', () => {
    expectWire(pack({ v: 1, ...GOOD[7], extra: 1 }), 'WIRE_MALFORMED', /unexpected field "extra"/);
    const { reason: _r, ...noReason } = GOOD[7] as Extract<PeerMessage, { type: 'abort' }>;
    expectWire(pack({ v: 1, ...noReason }), 'WIRE_MALFORMED', /missing field reason/);
  });
  it('rejects fields of the wrong type or length', () => {
    expectWire(pack({ v: 1, ...GOOD[3], digest: new Uint8Array(31) }), 'WIRE_MALFORMED', /digest has 31 bytes, expected 32/);
    expectWire(pack({ v: 1, ...GOOD[1], offset: -1 }), 'WIRE_MALFORMED', /offset/);
    expectWire(pack({ v: 1, ...GOOD[1], offset: 1.5 }), 'WIRE_MALFORMED', /offset/);
    expectWire(pack({ v: 1, ...GOOD[1], data: 'AAAA' }), 'WIRE_MALFORMED', /data must be binary/);
    expectWire(pack({ v: 1, ...GOOD[4], holders: ['eu', 'eu'] }), 'WIRE_MALFORMED', /repeats a region/);
    expectWire(pack({ v: 1, ...GOOD[4], holders: ['EU!'] }), 'WIRE_MALFORMED', /list of region ids/);
    expectWire(pack({ v: 1, ...GOOD[0], round: 'bad round' }), 'WIRE_MALFORMED', /round/);
    expectWire(pack({ v: 1, ...GOOD[0], params: { ...params, clipL2: -1 } }), 'WIRE_MALFORMED', /clipL2/);
    expectWire(pack({ v: 1, ...GOOD[0], params: { ...params, extra: 1 } }), 'WIRE_MALFORMED', /params: unexpected field/);
    expectWire(pack({ v: 1, ...GOOD[2], digests: { 'Not A Region': new Uint8Array(32) } }), 'WIRE_MALFORMED', /digests key/);
  });
});
