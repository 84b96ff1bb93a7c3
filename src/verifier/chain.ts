/**
 * The `chain` and `signatures` checks of decoded transcripts: each file's hash chain (seq,
 * prev links, one recorder, one round, entry hashes), and every Ed25519 signature a transcript
 * carries (the entry's own, the peer message it embeds, each seal), queued on core/crypto's
 * {@link SignatureBatch} (the project's one verifier) and checked together. An embedded message
 * is checked under the label of the round's protocol version ("mpc-node/v<version>/<type>",
 * protocol/messages.ts signedBytes), the version read from the file's params entry.
 * @module
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { SignatureBatch } from '../core/crypto.js';
import type { Federation } from '../federation/index.js';
import { signedBytes } from '../protocol/messages.js';
import { versionOf } from '../protocol/params.js';
import type { EntryBodies, RoundEntry as Entry } from '../protocol/records.js';
import { entryHash, entrySigBytes, ZERO_HASH } from '../transcript/log.js';
import type { File } from './decode.js';
import type { FailAt } from './report.js';

/** The `chain` check of every file. */
export function checkChains(files: readonly File[], fail: FailAt): void {
  for (const f of files) {
    const rec = f.entries[0]?.region;
    if (f.entries.length === 0) fail(f.name, 'empty transcript');
    let prev = ZERO_HASH;
    f.entries.forEach((e, i) => {
      const where = `${f.name} seq ${i}`; // the position: a tampered seq must not move the blame
      if (e.seq !== i) fail(where, `seq ${e.seq} at position ${i}`);
      if (e.prev !== prev) fail(where, `prev ${e.prev.slice(0, 16)}… does not link to the previous entry's hash ${prev.slice(0, 16)}…`);
      if (e.region !== rec) fail(where, `recorded by ${e.region}, the file's first entry by ${rec}`);
      if (e.round !== f.entries[0]!.round) fail(where, `round ${e.round}, the file's first entry has ${f.entries[0]!.round}`);
      const h = bytesToHex(entryHash(e));
      if (h !== e.hash) fail(where, `entry hash ${e.hash.slice(0, 16)}… does not match its content (${h.slice(0, 16)}…)`);
      prev = e.hash;
    });
  }
}

/**
 * The `signatures` check: queues every signature of every file on one batch over the
 * federation's region keys `keys`, then runs it (Web Crypto where the runtime has Ed25519, and each
 * distinct message once: the same signed message is carried by every region's transcript).
 * `at` names an entry's location.
 */
export async function checkSignatures(files: readonly File[], fed: Federation, keys: ReadonlyMap<string, Uint8Array>, at: (f: File, e: Entry) => string, fail: FailAt): Promise<void> {
  const sigs = new SignatureBatch(keys);
  for (const f of files) {
    const version = fileVersion(f);
    for (const e of f.entries) {
      if (!keys.has(e.region)) {
        fail(at(f, e), `recorder ${e.region} is not a region of federation ${fed.federation}`);
        continue;
      }
      sigs.add(e.region, entrySigBytes(hexToBytes(e.hash)), e.sig, () => fail(at(f, e), `entry signature by ${e.region} does not verify`));
      const m = embedded(e);
      if (m) sigs.add(m.signer, signedBytes(m.msg, version), m.sig, () => fail(at(f, e), `${e.kind} signature by ${m.signer} does not verify`));
      if (e.kind === 'sealed') {
        for (const s of (e.body as EntryBodies['sealed']).seals) {
          const msg = sealMsg(e.round, s);
          if (!msg) fail(at(f, e), `seal signature by ${s.holder} does not verify`);
          else sigs.add(s.holder, signedBytes(msg, version), s.sig, () => fail(at(f, e), `seal signature by ${s.holder} does not verify`));
        }
      }
    }
  }
  await sigs.run();
}

/** The protocol version of the round file `f` records: its params entry's (1 without one). */
export function fileVersion(f: File): 1 | 2 {
  const first = f.entries[0];
  return first?.kind === 'params' ? versionOf((first.body as EntryBodies['params']).params) : 1;
}

/** The message a signed entry embeds, as the signer signed it. */
function embedded(e: Entry): { signer: string; msg: Parameters<typeof signedBytes>[0]; sig: string } | null {
  const round = e.round;
  switch (e.kind) {
    case 'commits': {
      const b = e.body as EntryBodies['commits'];
      const digests = Object.fromEntries(Object.entries(b.digests).map(([k, v]) => [k, hexToBytes(v)]));
      return { signer: b.dealer, sig: b.sig, msg: { type: 'commits', round, dealer: b.dealer, contributes: b.contributes, trainers: b.trainers, digests } };
    }
    case 'receipt': {
      const b = e.body as EntryBodies['receipt'];
      return { signer: b.holder, sig: b.sig, msg: { type: 'receipt', round, dealer: b.dealer, holder: b.holder, digest: hexToBytes(b.digest), ...(b.projection !== undefined ? { projection: hexToBytes(b.projection) } : {}) } };
    }
    case 'decision': {
      const b = e.body as EntryBodies['decision'];
      return { signer: b.coordinator, sig: b.sig, msg: { type: 'decision', round, coordinator: b.coordinator, dealers: b.dealers, holders: b.holders } };
    }
    case 'agg-done': {
      const b = e.body as EntryBodies['agg-done'];
      return { signer: b.holder, sig: b.sig, msg: { type: 'agg-done', round, holder: b.holder, digest: hexToBytes(b.digest) } };
    }
    case 'agg-proj': {
      const b = e.body as EntryBodies['agg-proj'];
      return { signer: b.holder, sig: b.sig, msg: { type: 'agg-proj', round, holder: b.holder, projection: hexToBytes(b.projection) } };
    }
    default:
      return null;
  }
}

/** The seal message a holder signed, or null when its hex does not decode. */
function sealMsg(round: string, s: { holder: string; result: string; projection: string }): Parameters<typeof signedBytes>[0] | null {
  try {
    return { type: 'seal', round, holder: s.holder, result: hexToBytes(s.result), projection: hexToBytes(s.projection) };
  } catch {
    return null;
  }
}
