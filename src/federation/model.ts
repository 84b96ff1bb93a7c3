/**
 * The federation's data model: the types a parsed federation file has, the constants that bound
 * its fields, and the defaults of what it may omit. Format and rules: docs/configuration.md.
 * @module
 */
import type { Policy } from '../policy/index.js';

export const FEDERATION_FILE_VERSION = 1;
/** Upper bound of `round.scaleBits` (fractional bits of the fixed-point encoding). */
export const MAX_SCALE_BITS = 40;
/**
 * The worst-case |sum| of one aggregated element must stay below 2^62: Goldilocks p is just
 * below 2^64, signed values live in (-p/2, p/2), and one more bit is kept as headroom for the
 * rounding of each encoded value (docs/field.md, "Fixed-point encoding and the overflow budget").
 */
export const OVERFLOW_BUDGET_LOG2 = 62;
/** `setTimeout` fires at once for delays above 2^31 - 1 ms (~24.8 days), so no timeout may exceed it. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;
/** Upper bound of policy.maxRoundsInFlight: each round in flight holds vectors of up to maxParams elements. */
export const MAX_ROUNDS_IN_FLIGHT = 1024;
/** Upper bound of policy.retention.transcriptDays (100 years). */
export const MAX_RETENTION_DAYS = 36_500;
/** Keys starting with this prefix are comments: ignored at every level and not part of the digest. */
export const COMMENT_KEY_PREFIX = '//';
/** Placeholder prefix `mpc-node init`/`keygen` write where a value must be filled in; refused with a hint. */
export const PLACEHOLDER_PREFIX = 'REPLACE-ME';
/** Domain-separation tag hashed in front of the canonical encoding (see {@link federationDigest}). */
export const FEDERATION_DIGEST_TAG = 'mpc-node/federation/v1\0';

export type ClipMode = 'clip' | 'reject';

/** The trainer-facing local API of one region's node. */
export interface RegionApi {
  /** Listen address; 127.0.0.1 by default. */
  readonly host: string;
  readonly port: number;
  /** Must be true to listen on a non-loopback host (trainers on other machines). */
  readonly allowRemoteTrainers: boolean;
}

export interface Region {
  /** Region id, {@link REGION_ID_RE}. */
  readonly id: string;
  /** Legal jurisdiction label, as used by the locality policy. */
  readonly jurisdiction: string;
  /** Peer endpoint, `ws://host:port` or `wss://host:port[/path]`. */
  readonly endpoint: string;
  /** Ed25519 public key, 64 lower-case hex characters (public: safe to print). */
  readonly publicKey: string;
  readonly api: RegionApi;
}

/** Parameters every round of this federation runs with. All fields are filled in after parsing. */
export interface RoundConfig {
  /** Fractional bits of the fixed-point encoding: v -> round(v * 2^scaleBits). */
  readonly scaleBits: number;
  /** L2 bound of one trainer's update. */
  readonly clipL2: number;
  /** 'clip' scales an update with a larger norm down to clipL2; 'reject' refuses it. */
  readonly clipMode: ClipMode;
  /** Fewer contributing regions than this: abort, nothing is revealed. */
  readonly minContributors: number;
  /** Largest update length (number of parameters) a round accepts. */
  readonly maxParams: number;
  /** Most trainer submissions one node sums into one round. */
  readonly maxTrainersPerRound: number;
  /** Largest weight of a single trainer submission. */
  readonly maxWeight: number;
  /** How long a node collects local submissions before it starts the round. */
  readonly collectMs: number;
  /** Deadline of each protocol phase. */
  readonly phaseTimeoutMs: number;
  /** Deadline of the whole round. */
  readonly roundTimeoutMs: number;
  /** The round protocol's version (docs/protocol.md): 1, or 2 (seeded shares and fan-in, about half the bytes). */
  readonly protocol: ProtocolVersion;
}

/** The round protocol versions a node speaks. */
export const PROTOCOL_VERSIONS = [1, 2] as const;
export type ProtocolVersion = (typeof PROTOCOL_VERSIONS)[number];

/** A parsed, validated, normalized and deep-frozen federation file. */
export interface Federation {
  /** Federation name. */
  readonly federation: string;
  readonly version: typeof FEDERATION_FILE_VERSION;
  /** Shamir threshold t: any t nodes reconstruct, any t-1 learn nothing. */
  readonly threshold: number;
  /** Must be true for threshold 1 (then every single node sees every region's vector). */
  readonly allowInsecureThreshold: boolean;
  readonly regions: readonly Region[];
  readonly round: RoundConfig;
  /** Locality policy (docs/policy.md); every field filled in, one entry per region. */
  readonly policy: Policy;
}

/** Defaults of the `round` object's omitted fields (minContributors: min(2, regions)). */
export const ROUND_DEFAULTS: Readonly<Omit<RoundConfig, 'minContributors'>> = Object.freeze({
  scaleBits: 16,
  clipL2: 100,
  clipMode: 'clip',
  maxParams: 100_000_000,
  maxTrainersPerRound: 1000,
  maxWeight: 1e6,
  collectMs: 1000,
  phaseTimeoutMs: 30_000,
  roundTimeoutMs: 300_000,
  protocol: 1,
});

/** Default listen host of a node's trainer API. */
export const DEFAULT_API_HOST = '127.0.0.1';

