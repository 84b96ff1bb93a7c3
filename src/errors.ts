/**
 * Error classes and the catalogue of stable error codes (see docs/errors.md).
 *
 * Every fault a peer, a trainer or an operator can cause is an `MpcError` with a stable
 * machine `code` and a human message that says what to fix. Messages never contain share
 * values, keys, seeds or raw inputs.
 *
 * Plain API misuse by a programmer (wrong JS type, wrong length) throws TypeError/RangeError,
 * as noble-hashes does.
 * @module
 */

export type ErrorCode =
  // field / encoding
  | 'FIELD_OUT_OF_RANGE' // an element >= p in untrusted input
  | 'FIELD_LENGTH_MISMATCH' // vectors of different lengths
  | 'FIELD_MANIFEST_MISMATCH' // trainers of one round sent different named-tensor manifests
  | 'ENCODE_NOT_FINITE' // NaN or ±Infinity in an update
  | 'ENCODE_OUT_OF_BOUND' // |value| above the clip bound while clipping is off
  | 'ENCODE_OVERFLOW_BUDGET' // the encoding could wrap past p/2
  // sharing
  | 'SHARING_BAD_THRESHOLD' // t < 1, t > n, n above the maximum
  | 'SHARING_BAD_POINTS' // duplicate or zero x, too few shares
  // wire
  | 'WIRE_TOO_LARGE'
  | 'WIRE_MALFORMED'
  | 'WIRE_TRAILING_BYTES'
  | 'WIRE_UNKNOWN_TYPE'
  | 'WIRE_BAD_VERSION'
  // transport
  | 'TRANSPORT_UNKNOWN_PEER'
  | 'TRANSPORT_BAD_SIGNATURE'
  | 'TRANSPORT_HANDSHAKE_FAILED'
  | 'TRANSPORT_DECRYPT_FAILED' // forged, modified, replayed or reordered frame
  | 'TRANSPORT_PEER_TIMEOUT' // handshake or heartbeat deadline missed
  | 'TRANSPORT_CLOSED' // send to a peer with no established link, or network closed
  | 'TRANSPORT_MESSAGE_TOO_LARGE' // outbound message above the link's maxMessageBytes
  // protocol
  | 'PROTOCOL_UNEXPECTED_MESSAGE'
  | 'PROTOCOL_PARAMS_MISMATCH'
  | 'PROTOCOL_BELOW_THRESHOLD'
  | 'PROTOCOL_BELOW_MIN_CONTRIBUTORS'
  | 'PROTOCOL_BAD_COMMITMENT'
  | 'PROTOCOL_BAD_SIGNATURE'
  | 'PROTOCOL_EQUIVOCATION' // one party signed two different messages where one is allowed (two decisions)
  | 'PROTOCOL_LIMIT_EXCEEDED' // a peer asks for a round beyond this node's configured limits (round.maxParams)
  | 'PROTOCOL_INCONSISTENT_AGGREGATE'
  | 'PROTOCOL_INCONSISTENT_DEALER'
  | 'PROTOCOL_TIMEOUT'
  | 'PROTOCOL_PEER_LOST' // a region's link went down mid-round and the result cannot be computed without it
  | 'PROTOCOL_ABORTED'
  // locality policy (docs/policy.md): a refusal the policy in force decides
  | 'POLICY_FLOW_REFUSED' // a share flow dealer -> holder the policy does not allow
  | 'POLICY_ROUNDS_IN_FLIGHT' // policy.maxRoundsInFlight rounds are already open
  | 'POLICY_MIN_TRAINERS' // fewer trainers than policy.minTrainers contributed: nothing is revealed
  | 'POLICY_INVALID_GRANT' // a grant that does not verify (signature, federation, flow, validity window)
  // resources of this node
  | 'RESOURCE_MEMORY_BUDGET' // a round's memory does not fit this node's memory budget now (HTTP 503)
  // transcripts and files on this node's disk
  | 'STORAGE_CONFLICT' // the round already has a transcript on this node
  | 'STORAGE_FAILED' // a transcript or data file could not be written or read
  // config / api
  | 'CONFIG_INVALID'
  | 'CONFIG_TLS_REQUIRED' // the trainer API would listen beyond loopback without TLS (--tls-cert, --tls-key)
  | 'CONFIG_DATA_DIR_IN_USE' // another live node process holds this data directory (its node.lock)
  | 'CONFIG_ADDRESS_IN_USE' // the peer or API address is taken by another process
  | 'API_BAD_REQUEST'
  | 'API_NOT_FOUND' // no such route or resource (a transcript this node does not have)
  | 'API_UNAUTHORIZED'
  | 'API_FORBIDDEN' // a valid credential whose role may not use this route (HTTP 403)
  | 'API_DUPLICATE_UPDATE' // a trainer's second, different update to the same round (HTTP 409)
  | 'API_BAD_MANIFEST' // a named-tensor manifest that is not valid (docs/api.md "Named tensors")
  | 'API_UNSUPPORTED_MEDIA_TYPE' // an update body that is not application/octet-stream (HTTP 415)
  | 'API_BODY_TIMEOUT' // an update body (or the request headers) stalled past the body timeout (HTTP 408)
  | 'API_LENGTH_REQUIRED' // too many bodies of unknown length at once: send Content-Length (HTTP 411)
  | 'API_HEADERS_TOO_LARGE'; // request headers above the HTTP limit (HTTP 431)

export class MpcError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}
/** Field, encoding and sharing faults. */
export class FieldError extends MpcError {}
/** Decoding and size limits of untrusted bytes. */
export class WireError extends MpcError {}
/** Peer links: handshake, encryption, liveness. */
export class TransportError extends MpcError {}
/** Round protocol faults; `expected`/`found` name the mismatch where there is one. */
export class ProtocolError extends MpcError {
  readonly expected?: string;
  readonly found?: string;
  readonly culprits?: readonly string[];
  constructor(
    code: ErrorCode,
    message: string,
    extra: { expected?: string; found?: string; culprits?: readonly string[]; cause?: unknown } = {},
  ) {
    super(code, message, { cause: extra.cause });
    if (extra.expected !== undefined) this.expected = extra.expected;
    if (extra.found !== undefined) this.found = extra.found;
    if (extra.culprits !== undefined) this.culprits = extra.culprits;
  }
}
/** Federation file, key file and command-line faults. */
export class ConfigError extends MpcError {}
/** A refusal by the locality policy in force (POLICY_*); `rule` names the policy rule. */
export class PolicyError extends MpcError {
  readonly rule?: string;
  constructor(code: ErrorCode, message: string, extra: { rule?: string; cause?: unknown } = {}) {
    super(code, message, { cause: extra.cause });
    if (extra.rule !== undefined) this.rule = extra.rule;
  }
}
