// Fuzz suite (small count under `npm test`; the soak runner bench/fuzz.ts runs >= 1e5 inputs):
// the peer wire decoder, the handshake and the secure channel refuse every bad input with their
// own stable error and never accept altered authenticated bytes. Targets: bench/fuzz-targets.ts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { channelTarget, FuzzFinding, handshakeTarget, makeWireTarget, mutate, wireRoundTripTarget, wireTarget, type FuzzTarget } from '../bench/fuzz-targets.js';
import { WireError } from '../src/errors.js';
import { decodePeerMessage, encodePeerMessage } from '../src/wire/codec.js';

const RUNS = Number(process.env.MPC_FUZZ_RUNS ?? 300);

function property<T>(t: FuzzTarget<T>): void {
  fc.assert(fc.property(t.arb, (x) => t.check(x)), { numRuns: RUNS });
}

describe('fuzz', { timeout: 600_000 }, () => {
  it('wire decoder: only WireError refusals, and whatever it accepts round-trips', () => property(wireTarget));
  it('wire: every valid message of every type round-trips', () => property(wireRoundTripTarget));
  it('handshake: only TransportError refusals, and no altered hello, ack or finish completes a handshake', () => property(handshakeTarget));
  it('secure channel: only TransportError refusals, and no altered frame opens', () => property(channelTarget));

  // the checks themselves must be able to fail
  it('the wire check finds a decoder that throws a foreign error or quotes the input', () => {
    const foreign = makeWireTarget((b) => {
      if (b.length > 8) throw new RangeError('offset out of range');
      return decodePeerMessage(b);
    });
    const run = fc.check(fc.property(foreign.arb, (x) => foreign.check(x)), { numRuns: 200 });
    expect(run.failed).toBe(true);
    expect(String(run.errorInstance)).toMatch(/unexpected RangeError/);
    const quoting = makeWireTarget((b) => {
      throw new WireError('WIRE_MALFORMED', `bad bytes ${Buffer.from(b).toString('hex')}`);
    });
    expect(() => quoting.check(Uint8Array.from({ length: 16 }, (_, i) => i))).toThrow(FuzzFinding);
    // accepts what it should not: its output cannot be sent again
    const lax = makeWireTarget((b) => ({ ...decodePeerMessage(b), offset: -1 }) as ReturnType<typeof decodePeerMessage>);
    expect(() => lax.check(encodePeerMessage({ type: 'agg', round: 'r1', offset: 0, data: new Uint8Array(4) }))).toThrow(/does not decode/);
  });

  it('mutate edits what it is told to', () => {
    const m = encodePeerMessage({ type: 'agg', round: 'r1', offset: 0, data: new Uint8Array(4) });
    expect(mutate(m, [{ op: 'cut', at: 3 }])).toHaveLength(3);
    expect(mutate(m, [{ op: 'flip', at: 0, bit: 0 }])[0]).toBe(m[0]! ^ 1);
  });
});
