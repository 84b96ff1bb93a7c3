// SecureChannel (src/transport/channel.ts): AES-256-GCM frames with strict per-direction counters.
import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TransportError } from '../src/errors.js';
import { DIRECTION_I2R, FRAME_OVERHEAD_BYTES, SecureChannel } from '../src/transport/channel.js';

const k1 = new Uint8Array(32).fill(0x11);
const k2 = new Uint8Array(32).fill(0x22);
const pair = (): { i: SecureChannel; r: SecureChannel } => ({
  i: new SecureChannel({ sendKey: k1, recvKey: k2, role: 'initiator' }),
  r: new SecureChannel({ sendKey: k2, recvKey: k1, role: 'responder' }),
});
const bytes = (...xs: number[]): Uint8Array => Uint8Array.from(xs);

function expectDecryptFail(fn: () => unknown, msg: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    expect((e as TransportError).code).toBe('TRANSPORT_DECRYPT_FAILED');
    expect((e as Error).message).toMatch(msg);
    return;
  }
  throw new Error('expected TRANSPORT_DECRYPT_FAILED, nothing thrown');
}

describe('SecureChannel', () => {
  it('round-trips messages in both directions, including empty and large ones', () => {
    const { i, r } = pair();
    const big = new Uint8Array(1 << 20).map((_, j) => j * 7);
    // Buffer.equals: vitest's deep equality is slow on megabyte arrays.
    const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
    for (const m of [bytes(1, 2, 3), new Uint8Array(0), big]) {
      const f = i.seal(m);
      expect(f.length).toBe(m.length + FRAME_OVERHEAD_BYTES);
      expect(same(r.open(f), m)).toBe(true);
      expect(same(i.open(r.seal(m)), m)).toBe(true);
    }
    expect(i.framesSent).toBe(3n);
    expect(r.framesReceived).toBe(3n);
  });

  it('seals parts as their concatenation (same frame bytes as the joined message)', () => {
    const head = bytes(1, 2, 3);
    const body = new Uint8Array(200_000).map((_, j) => j * 13);
    const joined = new Uint8Array(head.length + body.length);
    joined.set(head);
    joined.set(body, head.length);
    const a = pair();
    const b = pair();
    const fromParts = a.i.seal([head, body, new Uint8Array(0)]);
    expect(Buffer.from(fromParts).equals(b.i.seal(joined))).toBe(true); // same key, same counter
    expect(Buffer.from(a.r.open(fromParts)).equals(joined)).toBe(true);
  });

  it('seals into and opens into a given buffer when it is large enough (same bytes), else allocates', () => {
    const a = pair();
    const b = pair();
    const m = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
    const plain = a.i.seal(m);
    const spare = new Uint8Array(300_000).fill(0xee);
    const into = b.i.seal(m, spare);
    expect(into.buffer).toBe(spare.buffer);
    expect(Buffer.from(into).equals(Buffer.from(plain))).toBe(true);
    const small = new Uint8Array(10);
    expect(b.i.seal(m, small).buffer).not.toBe(small.buffer); // too small: a fresh frame
    const recv = new Uint8Array(250_000).fill(0xdd);
    const out = b.r.open(into, recv);
    expect(out.buffer).toBe(recv.buffer);
    expect(Buffer.from(out).equals(Buffer.from(m))).toBe(true);
    // a forged frame opened into the buffer: refused, and the buffer holds no unauthenticated plaintext
    const bad = a.i.seal(m);
    bad[100]! ^= 1;
    const recv2 = new Uint8Array(250_000).fill(0xdd);
    a.r.open(plain); // frame 0, so that the forged frame 1 is the one expected next
    expect(() => a.r.open(bad, recv2)).toThrow(/authentication failed/);
    expect(recv2.subarray(0, m.length).every((x) => x === 0)).toBe(true);
  });

  it('conforms to the documented layout: counter || ciphertext || tag, nonce = dir || counter', () => {
    const { i } = pair();
    i.seal(bytes(0));
    const f = i.seal(bytes(9, 8, 7));
    expect([...f.subarray(0, 8)]).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    const nonce = Buffer.alloc(12);
    nonce.writeUInt32BE(DIRECTION_I2R, 0);
    nonce.writeBigUInt64BE(1n, 4);
    const d = createDecipheriv('aes-256-gcm', k1, nonce);
    d.setAAD(Buffer.concat([Buffer.from('mpc-node v1 frame'), Buffer.from([0, 0, 0, 1])]));
    d.setAuthTag(f.subarray(f.length - 16));
    expect([...Buffer.concat([d.update(f.subarray(8, f.length - 16)), d.final()])]).toEqual([9, 8, 7]);
  });

  it('rejects a replayed frame', () => {
    const { i, r } = pair();
    const f = i.seal(bytes(1));
    r.open(f);
    expectDecryptFail(() => r.open(f), /replayed frame: counter 0 already received \(expected 1\)/);
  });

  it('rejects reordered frames (and a dropped one)', () => {
    const { i, r } = pair();
    const f0 = i.seal(bytes(1));
    const f1 = i.seal(bytes(2));
    expectDecryptFail(() => r.open(f1), /out-of-order frame: counter 1, expected 0/);
    expect(r.open(f0)).toEqual(bytes(1)); // failure did not advance state
    expect(r.open(f1)).toEqual(bytes(2));
  });

  it('rejects a frame with a flipped ciphertext bit, tag bit or counter bit', () => {
    const { i, r } = pair();
    const f = i.seal(bytes(1, 2, 3, 4));
    for (const pos of [8, f.length - 1]) {
      const g = f.slice();
      g[pos]! ^= 1;
      expectDecryptFail(() => r.open(g), /authentication failed for frame 0/);
    }
    const g = f.slice();
    g[7]! ^= 1; // counter 1 instead of 0
    expectDecryptFail(() => r.open(g), /out-of-order/);
    expect(r.open(f)).toEqual(bytes(1, 2, 3, 4));
  });

  it('rejects a frame whose counter was rewritten to the expected value (nonce is authenticated)', () => {
    const { i, r } = pair();
    i.seal(bytes(0));
    const f1 = i.seal(bytes(5)); // counter 1
    const g = f1.slice();
    g[7] = 0; // pretend it is frame 0
    expectDecryptFail(() => r.open(g), /authentication failed/);
  });

  it('rejects a frame sealed with the wrong direction key / reflected back to its sender', () => {
    const { i, r } = pair();
    const f = i.seal(bytes(1, 2));
    expectDecryptFail(() => i.open(f), /authentication failed/); // reflection
    // Same keys but both claim the initiator role: direction tags differ from what is expected.
    const wrongRole = new SecureChannel({ sendKey: k2, recvKey: k1, role: 'initiator' });
    expectDecryptFail(() => wrongRole.open(i.seal(bytes(3))), /out-of-order|authentication failed/);
    const other = new SecureChannel({ sendKey: k2, recvKey: new Uint8Array(32).fill(0x33), role: 'responder' });
    expectDecryptFail(() => other.open(f), /authentication failed/);
    expect(r.open(f)).toEqual(bytes(1, 2));
  });

  it('rejects a forged or truncated frame', () => {
    const { r } = pair();
    expectDecryptFail(() => r.open(new Uint8Array(10)), /shorter than the 24-byte minimum/);
    expectDecryptFail(() => r.open(new Uint8Array(40)), /authentication failed/);
  });

  it('error messages never contain plaintext or key bytes', () => {
    const { i, r } = pair();
    const secret = new TextEncoder().encode('TOP-SECRET-SHARE');
    const f = i.seal(secret);
    f[10]! ^= 1;
    try {
      r.open(f);
    } catch (e) {
      expect((e as Error).message).not.toContain('TOP-SECRET');
      expect((e as Error).message).not.toMatch(/11111111|22222222/);
    }
  });

  it('refuses to work after destroy()', () => {
    const { i, r } = pair();
    const f = i.seal(bytes(1));
    r.destroy();
    expect(() => r.open(f)).toThrow(/destroyed/);
    i.destroy();
    expect(() => i.seal(bytes(1))).toThrow(/destroyed/);
  });

  it('copies its keys so the caller can wipe the session', () => {
    const s = new Uint8Array(k1);
    const t = new Uint8Array(k2);
    const i = new SecureChannel({ sendKey: s, recvKey: t, role: 'initiator' });
    s.fill(0);
    t.fill(0);
    const { r } = pair();
    expect(r.open(i.seal(bytes(42)))).toEqual(bytes(42));
  });
});
