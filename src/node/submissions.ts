/**
 * Idempotent submissions: which trainer has already sent which update to which round, so a
 * retry is never counted twice. A submission's slot is its trainer's pseudonymous id (one
 * update per named credential per round), or, for the shared api-token, that id with the
 * request's `x-mpc-idempotency-key` (without a key its uploads are not deduplicated). The
 * first upload of a slot is counted; a later one is streamed through a SHA-256 only (never into
 * the round's memory) and then, if it repeats the request (same body digest, weight and
 * reduce), joins the first one's answer: the aggregate when the round has its result (also
 * later, while the round is still open here), or the round's error, for {@link RETRY_ANSWER_MS}. A different update is refused with
 * API_DUPLICATE_UPDATE (409). Spec: docs/api.md "Idempotent submissions".
 * @module
 */
import { createHash, type Hash } from 'node:crypto';
import { MpcError } from '../errors.js';
import type { AggregateAnswer, SubmitRequest, UpdateUpload } from './node-options.js';

/**
 * How long a slot is remembered after the round's answer (ms): a retry then still joins the
 * round's error, and a different update is still refused. The aggregate itself is kept only
 * while the round is open at this node (until its seals are in): its memory counts against the
 * node's memory budget.
 */
export const RETRY_ANSWER_MS = 15_000;

/** The header a trainer names one logical upload with (required to deduplicate the shared api-token). */
export const IDEMPOTENCY_HEADER = 'x-mpc-idempotency-key';
/** An idempotency key: 1-128 of `A-Z a-z 0-9 . _ : -` (a UUID fits). */
export const IDEMPOTENCY_KEY_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** What a retry must repeat: the body's SHA-256, the weight and the reduction. */
function fingerprint(body: Hash, req: SubmitRequest): string {
  return `${body.digest('hex')}/${req.weight}/${req.reduce}`;
}

/** One slot's first upload and, once the round has answered, its kept outcome. */
interface Slot {
  /** Set when the first upload is committed (counted). */
  fingerprint: string | undefined;
  /** Settles when the first upload is committed or refused. */
  readonly settled: Promise<void>;
  settle(failure?: Error): void;
  failure: Error | undefined;
  /** The round's answer to the slot, kept for retries (from the commit on). */
  outcome: Promise<KeptAnswer> | undefined;
  /** The answer once it came, until the round ends at this node. */
  kept: KeptAnswer | undefined;
  /** The round has ended at this node (possibly in the very step that answered it). */
  roundOver: boolean;
  /** The first upload (its clipFactor is the retries' too). */
  readonly first: UpdateUpload;
}

/** A kept answer, shared by retries: released once expired and every retry has released its view. */
interface KeptAnswer {
  readonly answer: AggregateAnswer;
  refs: number;
  expired: boolean;
}

export class Submissions {
  private readonly slots = new Map<string, Slot>();

  constructor(private readonly keepMs = RETRY_ANSWER_MS) {}

  /** The slot of `req` in its round, or undefined when `req` is not deduplicated. */
  private keyOf(req: SubmitRequest): string | undefined {
    return req.trainer?.slot === undefined ? undefined : `${req.round}\0${req.trainer.slot}`;
  }

  /** A retry of an earlier upload of the same slot: an upload that is only hashed, then joins. Undefined for a first upload. */
  retryOf(req: SubmitRequest): UpdateUpload | undefined {
    const key = this.keyOf(req);
    const slot = key === undefined ? undefined : this.slots.get(key);
    if (!slot) return undefined;
    const body = createHash('sha256');
    return {
      get clipFactor() {
        return slot.first.clipFactor;
      },
      write: (chunk) => void body.update(chunk),
      commit: async () => {
        await slot.settled;
        if (slot.failure) throw slot.failure;
        if (fingerprint(body, req) !== slot.fingerprint) {
          throw new MpcError('API_DUPLICATE_UPDATE', `this trainer already sent a different update to round ${req.round} (a retry must repeat the body, weight and reduce); use a new round id`);
        }
        return view(await slot.outcome!, req.round);
      },
      abort: () => {},
    };
  }

  /**
   * Wraps the first upload of a slot: it is hashed as it streams, and the slot is claimed at
   * once (a concurrent retry waits for it) and freed if the upload is refused. The intake calls
   * `committed` when the update is counted, with a second waiter for the round's answer, kept for retries.
   */
  track(req: SubmitRequest, upload: UpdateUpload): { upload: UpdateUpload; committed(waiter: Promise<AggregateAnswer>): void } {
    const key = this.keyOf(req);
    if (key === undefined) return { upload, committed: () => {} };
    let settle!: () => void;
    const settled = new Promise<void>((res) => (settle = res));
    const body = createHash('sha256');
    const slot: Slot = {
      fingerprint: undefined, settled, failure: undefined, outcome: undefined, kept: undefined, roundOver: false, first: upload,
      settle: (failure) => {
        if (slot.fingerprint === undefined && slot.failure === undefined) {
          slot.failure = failure ?? new MpcError('API_BAD_REQUEST', `the first upload of this update to round ${req.round} was not counted; send it again`);
          if (this.slots.get(key) === slot) this.slots.delete(key); // the next try is a first upload
        }
        settle();
      },
    };
    this.slots.set(key, slot);
    const fail = (e: unknown): never => {
      slot.settle(e instanceof Error ? e : new Error(String(e)));
      throw e;
    };
    return {
      upload: {
        get clipFactor() {
          return upload.clipFactor;
        },
        write: (chunk) => {
          upload.write(chunk);
          body.update(chunk);
        },
        commit: () => upload.commit().catch(fail),
        abort: () => {
          upload.abort();
          slot.settle();
        },
      },
      committed: (waiter) => {
        slot.fingerprint = fingerprint(body, req);
        slot.outcome = waiter.then(
          (answer) => {
            const kept: KeptAnswer = { answer, refs: 0, expired: false };
            slot.kept = kept;
            setTimeout(() => this.expire(key, slot), this.keepMs).unref();
            // ended in the step that answered: the retries waiting now still take their views first
            if (slot.roundOver) setImmediate(() => letGo(slot));
            return kept;
          },
          (e: unknown) => {
            setTimeout(() => this.expire(key, slot), this.keepMs).unref();
            throw e;
          },
        );
        slot.outcome.catch(() => {}); // retries see the failure; nobody else waits on it
        settle();
      },
    };
  }

  /**
   * Round `id` has ended at this node (sealed, unsealed or aborted): the kept answers of its slots
   * are let go (the result's memory, and its share of the memory budget, is not held past the
   * round); the slots themselves stay for RETRY_ANSWER_MS, so a different update is still refused.
   */
  roundEnded(id: string): void {
    const prefix = `${id}\0`;
    for (const [key, slot] of this.slots) {
      if (!key.startsWith(prefix)) continue;
      slot.roundOver = true;
      letGo(slot);
    }
  }

  private expire(key: string, slot: Slot): void {
    if (this.slots.get(key) === slot) this.slots.delete(key);
    letGo(slot);
  }
}

/** Releases a slot's kept answer once no retry reads it any more (idempotent). */
function letGo(slot: Slot): void {
  const kept = slot.kept;
  if (!kept || kept.expired) return;
  kept.expired = true;
  if (kept.refs === 0) kept.answer.release();
}

/** A retry's own view of a kept answer (its release does not free the answer of another). */
function view(kept: KeptAnswer, round: string): AggregateAnswer {
  if (kept.expired) throw new MpcError('API_BAD_REQUEST', `round ${round} has already ended with a result and its answer is no longer kept for retries; use a new round id`);
  kept.refs++;
  let done = false;
  const a = kept.answer;
  return {
    params: a.params, totalWeight: a.totalWeight, contributors: a.contributors, holders: a.holders,
    read: (o, out) => a.read(o, out),
    release: () => {
      if (done) return;
      done = true;
      if (--kept.refs === 0 && kept.expired) a.release();
    },
  };
}
