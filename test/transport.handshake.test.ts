// Handshake (src/transport/handshake.ts): pure, so every failure is driven directly with bytes.
// Negative tests are named after the attack or mistake they block.
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { TransportError } from '../src/errors.js';
import {
  abortHandshake,
  decodeHandshakeMsg,
  encodeHandshakeMsg,
  initiatorOnAck,
  MAX_HANDSHAKE_MESSAGE_BYTES,
  responderOnFinish,
  responderOnHello,
  startInitiator,
  transcriptBytes,
  type HandshakeConfig,
} from '../src/transport/handshake.js';
import { generateIdentity, type Identity } from '../src/transport/identity.js';

const FED = 'test-federation';

/** Deterministic "randomness" for reproducible handshakes (tests only). */
function seededRandom(seed: number): (n: number) => Uint8Array {
  let ctr = 0;
  return (n) => sha256(utf8ToBytes(`seed ${seed} #${ctr++}`)).slice(0, n);
}

function setup(): { a: Identity; b: Identity; ca: HandshakeConfig; cb: HandshakeConfig } {
  const a = generateIdentity('alpha');
  const b = generateIdentity('beta');
  const ca: HandshakeConfig = { federation: FED, identity: a, directory: new Map([['beta', b.publicKey]]), randomBytes: seededRandom(1) };
  const cb: HandshakeConfig = { federation: FED, identity: b, directory: new Map([['alpha', a.publicKey]]), randomBytes: seededRandom(2) };
  return { a, b, ca, cb };
}

function expectCode(fn: () => unknown, code: string, msg?: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TransportError);
    expect((e as TransportError).code).toBe(code);
    if (msg) expect((e as Error).message).toMatch(msg);
    return;
  }
  throw new Error(`expected ${code}, nothing thrown`);
}

const rawPackr = new Packr({ useRecords: false });
const pack = (o: unknown): Uint8Array => rawPackr.pack(o);

describe('handshake: success', () => {
  it('derives matching per-direction keys and the same transcript hash on both sides', () => {
    const { ca, cb } = setup();
    const { state: si, hello } = startInitiator(ca, 'beta');
    const { state: sr, ack, peer } = responderOnHello(cb, hello);
    expect(peer).toBe('alpha');
    const { finish, session: ia } = initiatorOnAck(si, ack);
    const rb = responderOnFinish(sr, finish);
    expect(ia.peer).toBe('beta');
    expect(rb.peer).toBe('alpha');
    expect(ia.role).toBe('initiator');
    expect(rb.role).toBe('responder');
    expect(ia.sendKey).toEqual(rb.recvKey);
    expect(ia.recvKey).toEqual(rb.sendKey);
    expect(ia.sendKey).not.toEqual(ia.recvKey);
    expect(ia.transcriptHash).toEqual(rb.transcriptHash);
    expect(ia.sendKey.length).toBe(32);
  });

  it('conforms to the documented key schedule (recomputed independently)', () => {
    const { a, b, ca, cb } = setup();
    // Capture the ephemeral secrets by wrapping the injected randomness (first draw = eph secret).
    const draws: Uint8Array[] = [];
    const tap = (f: (n: number) => Uint8Array) => (n: number) => {
      const r = f(n);
      draws.push(r.slice());
      return r;
    };
    ca.randomBytes = tap(ca.randomBytes);
    const { state: si, hello } = startInitiator(ca, 'beta');
    const ephSecretI = draws[0]!;
    const h = decodeHandshakeMsg(hello, 'hello');
    const { state: sr, ack } = responderOnHello(cb, hello);
    const k = decodeHandshakeMsg(ack, 'hello-ack');
    const { session } = initiatorOnAck(si, ack);
    const th = sha256(
      transcriptBytes({
        federation: FED,
        initiator: 'alpha',
        responder: 'beta',
        initiatorKey: a.publicKey,
        responderKey: b.publicKey,
        ephI: h.eph,
        nonceI: h.nonce,
        ephR: k.eph,
        nonceR: k.nonce,
      }),
    );
    expect(session.transcriptHash).toEqual(th);
    expect(ed25519.verify(k.sig, concatBytes(th, utf8ToBytes('responder')), b.publicKey)).toBe(true);
    const ss = x25519.getSharedSecret(ephSecretI, k.eph);
    expect(session.sendKey).toEqual(hkdf(sha256, ss, th, utf8ToBytes('mpc-node v1 i2r'), 32));
    expect(session.recvKey).toEqual(hkdf(sha256, ss, th, utf8ToBytes('mpc-node v1 r2i'), 32));
    expect(ephSecretI.every((x) => x === 0)).toBe(false); // our copy; the module wiped its own
    abortHandshake(sr);
  });

  it('wipes the initiator ephemeral secret after use', () => {
    const { ca, cb } = setup();
    const { state: si, hello } = startInitiator(ca, 'beta');
    const { ack } = responderOnHello(cb, hello);
    initiatorOnAck(si, ack);
    expect(si._s.ephSecret.every((x) => x === 0)).toBe(true);
  });

  it('uses fresh keys for every handshake between the same pair', () => {
    const { ca, cb } = setup();
    const run = () => {
      const { state: si, hello } = startInitiator(ca, 'beta');
      const { state: sr, ack } = responderOnHello(cb, hello);
      const { finish, session } = initiatorOnAck(si, ack);
      responderOnFinish(sr, finish);
      return session.sendKey;
    };
    expect(run()).not.toEqual(run());
  });
});

describe('handshake: identity and directory', () => {
  it('rejects hello from a region not in the directory (TRANSPORT_UNKNOWN_PEER)', () => {
    const { cb } = setup();
    const mallory = generateIdentity('mallory');
    const cm: HandshakeConfig = { federation: FED, identity: mallory, directory: new Map([['beta', cb.identity.publicKey]]), randomBytes: seededRandom(3) };
    const { hello } = startInitiator(cm, 'beta');
    expectCode(() => responderOnHello(cb, hello), 'TRANSPORT_UNKNOWN_PEER', /"mallory" is not in the federation directory/);
  });

  it('refuses to dial a region not in the directory (TRANSPORT_UNKNOWN_PEER)', () => {
    const { ca } = setup();
    expectCode(() => startInitiator(ca, 'gamma'), 'TRANSPORT_UNKNOWN_PEER');
  });

  it('rejects an impostor initiator holding a key other than the listed one (TRANSPORT_BAD_SIGNATURE)', () => {
    const { ca, cb } = setup();
    // Claims "alpha" and even announces alpha's real public key, but holds another secret key.
    const fake = { ...ca.identity, secretKey: generateIdentity('alpha').secretKey };
    const { state: si, hello } = startInitiator({ ...ca, identity: fake }, 'beta');
    const { state: sr, ack } = responderOnHello(cb, hello);
    // The impostor knows beta's real key, so it accepts the ack; beta must reject the finish.
    const { finish } = initiatorOnAck(si, ack);
    expectCode(() => responderOnFinish(sr, finish), 'TRANSPORT_BAD_SIGNATURE', /"alpha" does not verify under its listed public key/);
    expect(sr._s.k_i2r.every((x) => x === 0)).toBe(true); // keys never released, wiped
  });

  it('an impostor initiator using its own key cannot even verify the ack (transcript binds both keys)', () => {
    const { ca, cb } = setup();
    const fake = generateIdentity('alpha');
    const { state: si, hello } = startInitiator({ ...ca, identity: fake }, 'beta');
    const { state: sr, ack } = responderOnHello(cb, hello);
    expectCode(() => initiatorOnAck(si, ack), 'TRANSPORT_BAD_SIGNATURE');
    abortHandshake(sr);
  });

  it('rejects an impostor responder holding a key other than the listed one (TRANSPORT_BAD_SIGNATURE)', () => {
    const { ca, cb } = setup();
    const fake = generateIdentity('beta');
    const { state: si, hello } = startInitiator(ca, 'beta');
    const { ack } = responderOnHello({ ...cb, identity: fake }, hello);
    expectCode(() => initiatorOnAck(si, ack), 'TRANSPORT_BAD_SIGNATURE', /hello-ack signature from "beta"/);
  });

  it('rejects a hello-ack whose "from" is not the dialled region (endpoint mix-up)', () => {
    const { ca, cb } = setup();
    const gamma = generateIdentity('gamma');
    const { state: si, hello } = startInitiator(ca, 'beta');
    // gamma answers at beta's endpoint; its hello check fails first unless we lie about "to".
    const helloToGamma = encodeHandshakeMsg({ ...decodeHandshakeMsg(hello, 'hello'), to: 'gamma' });
    const { ack } = responderOnHello({ ...cb, identity: gamma }, helloToGamma);
    expectCode(() => initiatorOnAck(si, ack), 'TRANSPORT_HANDSHAKE_FAILED', /comes from region "gamma" but we dialled "beta"/);
  });

  it('rejects a hello addressed to another region (wrong "to")', () => {
    const { ca, cb } = setup();
    const { hello } = startInitiator({ ...ca, directory: new Map([['gamma', cb.identity.publicKey]]) }, 'gamma');
    expectCode(() => responderOnHello(cb, hello), 'TRANSPORT_HANDSHAKE_FAILED', /addressed to region "gamma" but this node is "beta"/);
  });

  it('rejects a hello for another federation', () => {
    const { ca, cb } = setup();
    const { hello } = startInitiator({ ...ca, federation: 'other-fed' }, 'beta');
    expectCode(() => responderOnHello(cb, hello), 'TRANSPORT_HANDSHAKE_FAILED', /federation "other-fed" but this node serves "test-federation"/);
  });

  it('rejects a hello claiming to come from the responder itself', () => {
    const { cb } = setup();
    const { hello } = startInitiator({ ...cb, directory: new Map([['beta', cb.identity.publicKey]]), identity: { ...cb.identity, region: 'beta2' } }, 'beta');
    const forged = encodeHandshakeMsg({ ...decodeHandshakeMsg(hello, 'hello'), from: 'beta' });
    expectCode(() => responderOnHello(cb, forged), 'TRANSPORT_HANDSHAKE_FAILED', /own region/);
  });
});

describe('handshake: tampering and replay', () => {
  it('rejects a hello-ack with a flipped signature bit', () => {
    const { ca, cb } = setup();
    const { state: si, hello } = startInitiator(ca, 'beta');
    const { ack } = responderOnHello(cb, hello);
    const m = decodeHandshakeMsg(ack, 'hello-ack');
    m.sig[5]! ^= 1;
    expectCode(() => initiatorOnAck(si, encodeHandshakeMsg(m)), 'TRANSPORT_BAD_SIGNATURE');
  });

  it('rejects a finish with a flipped signature bit', () => {
    const { ca, cb } = setup();
    const { state: si, hello } = startInitiator(ca, 'beta');
    const { state: sr, ack } = responderOnHello(cb, hello);
    const { finish } = initiatorOnAck(si, ack);
    const m = decodeHandshakeMsg(finish, 'finish');
    m.sig[63]! ^= 0x40;
    expectCode(() => responderOnFinish(sr, encodeHandshakeMsg(m)), 'TRANSPORT_BAD_SIGNATURE');
  });

  it('rejects a hello-ack whose ephemeral key was swapped by a man in the middle', () => {
    const { ca, cb } = setup();
    const { state: si, hello } = startInitiator(ca, 'beta');
    const { ack } = responderOnHello(cb, hello);
    const m = decodeHandshakeMsg(ack, 'hello-ack');
    m.eph = x25519.getPublicKey(new Uint8Array(32).fill(7));
    expectCode(() => initiatorOnAck(si, encodeHandshakeMsg(m)), 'TRANSPORT_BAD_SIGNATURE');
  });

  it('rejects a hello whose ephemeral key was swapped (detected at finish)', () => {
    const { ca, cb } = setup();
    const { state: si, hello } = startInitiator(ca, 'beta');
    const m = decodeHandshakeMsg(hello, 'hello');
    m.eph = x25519.getPublicKey(new Uint8Array(32).fill(9));
    const { state: sr, ack } = responderOnHello(cb, encodeHandshakeMsg(m));
    // alpha's view of the transcript differs, so beta's signature fails at alpha…
    expectCode(() => initiatorOnAck(si, ack), 'TRANSPORT_BAD_SIGNATURE');
    abortHandshake(sr);
  });

  it('rejects a finish replayed from an earlier session', () => {
    const { ca, cb } = setup();
    const first = startInitiator(ca, 'beta');
    const r1 = responderOnHello(cb, first.hello);
    const { finish: oldFinish } = initiatorOnAck(first.state, r1.ack);
    responderOnFinish(r1.state, oldFinish);
    // Attacker replays the old hello and the old finish; beta picks fresh eph/nonce.
    const r2 = responderOnHello(cb, first.hello);
    expectCode(() => responderOnFinish(r2.state, oldFinish), 'TRANSPORT_BAD_SIGNATURE');
  });

  it('rejects a hello-ack replayed as a finish and vice versa (role labels)', () => {
    const { ca, cb } = setup();
    const { state: si, hello } = startInitiator(ca, 'beta');
    const { state: sr, ack } = responderOnHello(cb, hello);
    const ackSig = decodeHandshakeMsg(ack, 'hello-ack').sig;
    expectCode(() => responderOnFinish(sr, encodeHandshakeMsg({ v: 1, type: 'finish', sig: ackSig })), 'TRANSPORT_BAD_SIGNATURE');
    abortHandshake(si);
  });

  it('rejects a low-order ephemeral key', () => {
    const { ca, cb } = setup();
    const { hello } = startInitiator(ca, 'beta');
    const m = decodeHandshakeMsg(hello, 'hello');
    m.eph = new Uint8Array(32); // u = 0: all-zero shared secret
    expectCode(() => responderOnHello(cb, encodeHandshakeMsg(m)), 'TRANSPORT_HANDSHAKE_FAILED', /low order/);
  });

  it('refuses to reuse a handshake state', () => {
    const { ca, cb } = setup();
    const { state: si, hello } = startInitiator(ca, 'beta');
    const { state: sr, ack } = responderOnHello(cb, hello);
    const { finish } = initiatorOnAck(si, ack);
    expectCode(() => initiatorOnAck(si, ack), 'TRANSPORT_HANDSHAKE_FAILED', /already used/);
    responderOnFinish(sr, finish);
    expectCode(() => responderOnFinish(sr, finish), 'TRANSPORT_HANDSHAKE_FAILED', /already used/);
  });

  it('abortHandshake wipes held keys', () => {
    const { ca, cb } = setup();
    const { hello } = startInitiator(ca, 'beta');
    const { state: sr } = responderOnHello(cb, hello);
    abortHandshake(sr);
    expect(sr._s.k_i2r.every((x) => x === 0)).toBe(true);
    expect(sr._s.k_r2i.every((x) => x === 0)).toBe(true);
  });
});

describe('handshake: malformed messages', () => {
  const { ca } = setup();
  const hello = startInitiator(ca, 'beta').hello;
  const good = decodeHandshakeMsg(hello, 'hello');

  it('rejects an empty message', () => {
    expectCode(() => decodeHandshakeMsg(new Uint8Array(0), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /empty/);
  });
  it('rejects a truncated message', () => {
    expectCode(() => decodeHandshakeMsg(hello.subarray(0, hello.length - 5), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /truncated/);
  });
  it('rejects trailing bytes without echoing decoded data', () => {
    const withTail = concatBytes(hello, new Uint8Array([0xc0]));
    try {
      decodeHandshakeMsg(withTail, 'hello');
      throw new Error('no throw');
    } catch (e) {
      expect((e as TransportError).code).toBe('TRANSPORT_HANDSHAKE_FAILED');
      expect((e as Error).message).toBe('hello: trailing bytes after message');
      expect((e as Error).cause).toBeUndefined();
    }
  });
  it('rejects garbage bytes', () => {
    expectCode(() => decodeHandshakeMsg(new Uint8Array([0xc1, 0xff, 0x00, 0x13]), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED');
    expectCode(() => decodeHandshakeMsg(utf8ToBytes('GET / HTTP/1.1\r\n\r\n'), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED');
  });
  it('rejects a message above the size limit before decoding', () => {
    expectCode(() => decodeHandshakeMsg(new Uint8Array(MAX_HANDSHAKE_MESSAGE_BYTES + 1), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /exceeds the 1024-byte/);
  });
  it('rejects a non-map value', () => {
    expectCode(() => decodeHandshakeMsg(pack([1, 2, 3]), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /msgpack map/);
    expectCode(() => decodeHandshakeMsg(pack('hello'), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /msgpack map/);
  });
  it('rejects a wrong version', () => {
    expectCode(() => decodeHandshakeMsg(pack({ ...good, v: 2 }), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /unsupported version/);
  });
  it('rejects an unexpected message type', () => {
    expectCode(() => decodeHandshakeMsg(hello, 'finish'), 'TRANSPORT_HANDSHAKE_FAILED', /expected a "finish" message, got "hello"/);
  });
  it('rejects an extra field', () => {
    expectCode(() => decodeHandshakeMsg(pack({ ...good, extra: 1 }), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /unexpected field "extra"/);
  });
  it('rejects a missing field', () => {
    const { nonce: _n, ...rest } = good;
    expectCode(() => decodeHandshakeMsg(pack(rest), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /missing field\(s\) "nonce"/);
  });
  it('rejects wrong field types and lengths', () => {
    expectCode(() => decodeHandshakeMsg(pack({ ...good, eph: good.eph.subarray(0, 31) }), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /"eph" must be 32 bytes, got 31/);
    expectCode(() => decodeHandshakeMsg(pack({ ...good, nonce: 'x'.repeat(32) }), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /"nonce" must be binary/);
    expectCode(() => decodeHandshakeMsg(pack({ ...good, from: 'has space' }), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /"from" must be a region id/);
    expectCode(() => decodeHandshakeMsg(pack({ ...good, from: 42 }), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /"from" must be a region id/);
    expectCode(() => decodeHandshakeMsg(pack({ ...good, federation: '' }), 'hello'), 'TRANSPORT_HANDSHAKE_FAILED', /"federation"/);
  });
  it('passes malformed messages through the role functions as TRANSPORT_HANDSHAKE_FAILED', () => {
    const { ca: a2, cb: b2 } = setup();
    expectCode(() => responderOnHello(b2, new Uint8Array([1, 2, 3])), 'TRANSPORT_HANDSHAKE_FAILED');
    const { state } = startInitiator(a2, 'beta');
    expectCode(() => initiatorOnAck(state, hello), 'TRANSPORT_HANDSHAKE_FAILED', /expected a "hello-ack"/);
  });
});
