/**
 * One round's transcript on disk: `<transcriptsDir>/<round>.jsonl`, created exclusively (a round
 * id that already has a transcript is refused, also after a restart), appended line by line,
 * fsynced before anything that depends on it (answering trainers, sending the seal, the end).
 * A crash leaves a prefix of the chain, which the verifier reports as unsealed or truncated,
 * never as complete. Format: docs/transcript.md.
 * @module
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MpcError } from '../errors.js';
import { isRoundId, ROUND_ID_RULE } from '../core/ids.js';
import { TranscriptBuilder } from '../transcript/log.js';
import type { RecordBody } from '../protocol/records.js';

export function transcriptPath(dir: string, round: string): string {
  if (!isRoundId(round)) throw new MpcError('API_BAD_REQUEST', ROUND_ID_RULE);
  return join(dir, `${round}.jsonl`);
}

export class TranscriptFile {
  private fd: number | null;
  private dirty = false;
  private readonly builder: TranscriptBuilder;
  readonly path: string;
  /** The file as trainers may see it in errors: relative to the data directory, never the node's absolute path. */
  private readonly shown: string;

  /** @throws {MpcError} STORAGE_CONFLICT if the round already has a transcript in `dir`, STORAGE_FAILED if it cannot be created. */
  constructor(dir: string, round: string, region: string, sign: (b: Uint8Array) => Uint8Array) {
    this.path = transcriptPath(dir, round);
    this.shown = `transcripts/${basename(this.path)}`;
    try {
      this.fd = openSync(this.path, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new MpcError('STORAGE_CONFLICT', `round ${round} already has a transcript (${this.shown} in the node's data directory); use a new round id`);
      throw storageFailed(`cannot create the transcript ${this.shown}`, e);
    }
    this.builder = new TranscriptBuilder(round, region, sign);
  }

  get length(): number {
    return this.builder.length;
  }

  append(rec: RecordBody): void {
    if (this.fd === null) return;
    const { line } = this.builder.append(rec);
    try {
      writeSync(this.fd, line);
    } catch (e) {
      throw storageFailed(`cannot append to the transcript ${this.shown}`, e);
    }
    this.dirty = true;
  }

  /** fsync if anything was appended since the last sync. */
  sync(): void {
    if (this.fd === null || !this.dirty) return;
    try {
      fsyncSync(this.fd);
    } catch (e) {
      throw storageFailed(`cannot sync the transcript ${this.shown}`, e);
    }
    this.dirty = false;
  }

  close(): void {
    if (this.fd === null) return;
    this.sync();
    closeSync(this.fd);
    this.fd = null;
  }
}

/** A file-system failure as STORAGE_FAILED, naming the file and the errno code (never file contents). */
function storageFailed(what: string, e: unknown): MpcError {
  const code = (e as NodeJS.ErrnoException).code;
  return new MpcError('STORAGE_FAILED', `${what}: ${code ?? (e as Error).message}; check the data directory (free space, permissions)`, { cause: e });
}
