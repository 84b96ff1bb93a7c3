/**
 * A round's transcript as the node keeps it. For a round this node's trainers opened, every
 * record goes to its file at once. For a round a peer's params opened, records are held in
 * memory until one is worth keeping: anything but this node's own bookkeeping of a round that
 * went nowhere (its parameters, dropouts, its record of no trainers, its own commitment to
 * contribute nothing, the abort). A trainer of this node committing an update into such a round keeps it too. So a peer's params
 * for a round that never gets anything (no trainer of this node, no other party's signed
 * message, no policy decision) leave no file; the round is counted and logged
 * instead (docs/transcript.md "Which rounds leave a file").
 * @module
 */
import { existsSync } from 'node:fs';
import { MpcError } from '../errors.js';
import type { RecordBody } from '../protocol/records.js';
import { TranscriptFile, transcriptPath } from './transcript-file.js';

/** Records that alone do not make a transcript worth a file for a round a peer opened. */
const BOOKKEEPING: ReadonlySet<RecordBody['kind']> = new Set(['params', 'dropout', 'abort']);

/** Is `rec` more than `self`'s own bookkeeping of a round that went nowhere? */
function worthKeeping(rec: RecordBody, self: string): boolean {
  if (BOOKKEEPING.has(rec.kind)) return false;
  if (rec.kind === 'commits') return rec.body.dealer !== self || rec.body.contributes;
  if (rec.kind === 'trainers') return rec.body.count > 0; // no trainer of this node took part
  return true;
}

export class RoundTranscript {
  private file: TranscriptFile | null = null;
  private held: RecordBody[] = [];
  private closed = false;

  /**
   * @param keepNow - true: the file is created at once (a round of this node's trainers).
   * @throws {MpcError} STORAGE_CONFLICT if the round already has a transcript in `dir` (either way), STORAGE_FAILED.
   */
  constructor(
    private readonly dir: string,
    private readonly round: string,
    private readonly region: string,
    private readonly sign: (b: Uint8Array) => Uint8Array,
    keepNow: boolean,
  ) {
    if (keepNow) this.keep();
    else if (existsSync(transcriptPath(dir, round))) {
      throw new MpcError('STORAGE_CONFLICT', `round ${round} already has a transcript (${transcriptPath(dir, round)}); use a new round id`);
    }
  }

  /** True once the transcript has a file. */
  get kept(): boolean {
    return this.file !== null;
  }

  append(rec: RecordBody): void {
    if (this.closed) return;
    if (this.file) return this.file.append(rec);
    this.held.push(rec);
    if (worthKeeping(rec, this.region)) this.keep();
  }

  /**
   * Creates the file and writes what was held (a no-op once kept or closed): at once for a round
   * of this node's trainers, at the first record worth keeping, or when a trainer of this node
   * uploads into a round a peer opened.
   * @throws {MpcError} STORAGE_CONFLICT, STORAGE_FAILED.
   */
  keep(): void {
    if (this.file || this.closed) return;
    const f = new TranscriptFile(this.dir, this.round, this.region, this.sign);
    this.file = f;
    for (const r of this.held.splice(0)) f.append(r);
  }

  /** fsync if anything was appended to the file since the last sync. */
  sync(): void {
    this.file?.sync();
  }

  /** Closes the file; records held and never worth keeping are dropped. */
  close(): void {
    this.closed = true;
    this.held = [];
    this.file?.close();
  }
}
