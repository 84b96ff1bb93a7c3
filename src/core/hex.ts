/**
 * The hex formats every room shares: 32-byte values (digests, Ed25519 public and secret keys,
 * API tokens) and 64-byte Ed25519 signatures, as this project writes them (lower case), and the
 * stable error-code shape carried in abort messages and records. Input typed by people
 * (federation files, key files) may be in either case and is lower-cased once read.
 * @module
 */

/** 32 bytes as the project writes them: 64 lower-case hex characters. */
export const HEX32_RE: RegExp = /^[0-9a-f]{64}$/;
/** 64 bytes (an Ed25519 signature) as the project writes them: 128 lower-case hex characters. */
export const HEX64_RE: RegExp = /^[0-9a-f]{128}$/;
/** A stable error code as it travels in messages and transcripts (src/errors.ts). */
export const ERROR_CODE_RE: RegExp = /^[A-Z_]{1,64}$/;

/** True if `s` is `bytes` bytes of hex; `anyCase` also takes upper-case digits (input from people). */
export function isHexBytes(s: unknown, bytes: 32 | 64, anyCase = false): s is string {
  if (typeof s !== 'string') return false;
  return (bytes === 32 ? HEX32_RE : HEX64_RE).test(anyCase ? s.toLowerCase() : s);
}
