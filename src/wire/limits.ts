/**
 * The size limits of the peer wire, each written once: the wire codec (codec.ts) refuses a
 * larger message on decode, and the peer network (src/transport/) uses the same number as its
 * default `maxMessageBytes` (outbound check, and ws `maxPayload` = this plus frame overhead).
 * @module
 */

/**
 * Largest peer message (the plaintext of one link frame), in bytes: 1 MiB.
 *
 * The largest legitimate message is a vector chunk (`share` / `agg`). Senders cut chunks of
 * WIRE_CHUNK_ELEMS = 16384 elements (src/protocol/memory/share-streams.ts), 8 bytes each:
 * 128 KiB of data. Receivers accept chunks of up to CHUNK_ELEMS = 65536 elements
 * (src/field/fixed-point.ts, intake.ts): 512 KiB. The msgpack envelope around the data
 * (`v`, `type`, a round id of at most 128 characters, `offset`, the bin32 header) is under
 * 200 bytes, and the link's frame overhead (counter + GCM tag, 24 bytes, channel.ts) is added
 * on top of this limit for ws `maxPayload`, not taken from it. The other messages are smaller
 * still (a `commits` of 255 digests is ~17 KiB). So 1 MiB leaves 2x headroom over the largest
 * chunk a receiver accepts, and 8x over what senders send.
 */
export const MAX_MESSAGE_BYTES = 1 << 20;
