/**
 * The rate bound on rounds peers open at this node: one token bucket per peer of
 * policy.maxRoundsInFlight tokens, refilled at PEER_ROUNDS_PER_SECOND. A peer's params for a round this node has not opened take a token;
 * without one the params are refused (counted in metrics; logged once per burst of refusals, not
 * once per message). Rounds in flight are bounded separately (policy.maxRoundsInFlight).
 * @module
 */

/** Rounds one peer may open per second at this node, once its burst (policy.maxRoundsInFlight) is spent. */
export const PEER_ROUNDS_PER_SECOND = 8;

export class PeerRoundGate {
  private readonly buckets = new Map<string, { tokens: number; at: number; refusedInBurst: number }>();

  constructor(
    /** Tokens a bucket holds (rounds a peer may open at once). */
    private readonly burst: number,
    /** Tokens added per second. */
    private readonly perSecond: number,
  ) {}

  /**
   * Takes a token of `peer`'s bucket at `now` (ms).
   * @returns `ok` true when the round may open; when refused, `firstOfBurst` is true for the first
   *   refusal since the peer last got a token (log that one), with `refused` counting the burst.
   */
  take(peer: string, now: number): { ok: true } | { ok: false; firstOfBurst: boolean; refused: number } {
    let b = this.buckets.get(peer);
    if (!b) this.buckets.set(peer, (b = { tokens: this.burst, at: now, refusedInBurst: 0 }));
    b.tokens = Math.min(this.burst, b.tokens + (Math.max(0, now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      b.refusedInBurst = 0;
      return { ok: true };
    }
    b.refusedInBurst++;
    return { ok: false, firstOfBurst: b.refusedInBurst === 1, refused: b.refusedInBurst };
  }
}
