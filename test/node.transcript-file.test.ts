/**
 * The node's transcript file (src/node/transcript-file.ts): one file per round, created
 * exclusively; a round id that already has a transcript is STORAGE_CONFLICT, a directory that
 * cannot take the file is STORAGE_FAILED, and neither message carries anything but the path.
 * RoundTranscript (src/node/round-transcript.ts): a round a peer opened writes its file only once
 * it records something worth keeping.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MpcError } from '../src/errors.js';
import { TranscriptFile, transcriptPath } from '../src/node/transcript-file.js';
import { RoundTranscript } from '../src/node/round-transcript.js';
import type { RecordBody } from '../src/protocol/records.js';

const dir = mkdtempSync(join(tmpdir(), 'mpc-tx-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sign = (): Uint8Array => new Uint8Array(64);

function codeOf(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MpcError);
    return { code: (e as MpcError).code, message: (e as Error).message };
  }
  throw new Error('expected a throw');
}

describe('TranscriptFile', () => {
  it('a second transcript for the same round is STORAGE_CONFLICT and leaves the first untouched', () => {
    const first = new TranscriptFile(dir, 'r-1', 'eu', sign);
    first.append({ kind: 'dropout', body: { region: 'us', phase: 'collect', reason: 'test' } });
    first.close();
    const before = readFileSync(first.path, 'utf8');
    const e = codeOf(() => new TranscriptFile(dir, 'r-1', 'eu', sign));
    expect(e.code).toBe('STORAGE_CONFLICT');
    expect(e.message).toBe("round r-1 already has a transcript (transcripts/r-1.jsonl in the node's data directory); use a new round id");
    expect(e.message).not.toContain(dir); // the node's absolute path is not a trainer's business
    expect(readFileSync(first.path, 'utf8')).toBe(before);
  });

  it('a directory that does not exist is STORAGE_FAILED, naming the file and the errno code', () => {
    const e = codeOf(() => new TranscriptFile(join(dir, 'missing'), 'r-2', 'eu', sign));
    expect(e.code).toBe('STORAGE_FAILED');
    expect(e.message).toMatch(/^cannot create the transcript .*r-2\.jsonl: ENOENT; check the data directory/);
  });

  it('a round id that is not one is refused before any file is touched', () => {
    expect(codeOf(() => new TranscriptFile(dir, '../escape', 'eu', sign)).code).toBe('API_BAD_REQUEST');
  });
});

describe('RoundTranscript: which rounds a peer opened leave a file', () => {
  const abort: RecordBody = { kind: 'abort', body: { by: 'eu', code: 'PROTOCOL_TIMEOUT', reason: 'test', culprits: [] } };
  const ownEmpty: RecordBody = { kind: 'commits', body: { dealer: 'eu', contributes: false, trainers: 0, digests: {}, sig: '00' } };
  const dropout: RecordBody = { kind: 'dropout', body: { region: 'us', phase: 'collect', reason: 'test' } };

  it("a round that holds only this node's bookkeeping (dropout, its own empty commitment, abort) leaves no file", () => {
    const tx = new RoundTranscript(dir, 'peer-1', 'eu', sign, false);
    for (const rec of [dropout, ownEmpty, abort]) tx.append(rec);
    tx.close();
    expect(tx.kept).toBe(false);
    expect(existsSync(transcriptPath(dir, 'peer-1'))).toBe(false);
  });

  it("another party's signed message keeps it, with every entry held before it, chained as if written at once", () => {
    const tx = new RoundTranscript(dir, 'peer-2', 'eu', sign, false);
    tx.append(dropout);
    expect(existsSync(transcriptPath(dir, 'peer-2'))).toBe(false);
    tx.append({ kind: 'commits', body: { dealer: 'apac', contributes: true, trainers: 1, digests: {}, sig: '00' } });
    tx.append(abort);
    tx.close();
    const direct = new TranscriptFile(dir, 'peer-2b', 'eu', sign);
    direct.append(dropout);
    direct.append({ kind: 'commits', body: { dealer: 'apac', contributes: true, trainers: 1, digests: {}, sig: '00' } });
    direct.append(abort);
    direct.close();
    const lines = (p: string) => readFileSync(p, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; kind: string });
    expect(lines(transcriptPath(dir, 'peer-2')).map((e) => e.kind)).toEqual(['dropout', 'commits', 'abort']);
    expect(lines(transcriptPath(dir, 'peer-2')).map((e) => e.seq)).toEqual(lines(direct.path).map((e) => e.seq));
  });

  it('a trainer of this node keeps it (keep), and an existing transcript is STORAGE_CONFLICT at once either way', () => {
    const tx = new RoundTranscript(dir, 'peer-3', 'eu', sign, false);
    tx.keep();
    tx.close();
    expect(existsSync(transcriptPath(dir, 'peer-3'))).toBe(true);
    expect(codeOf(() => new RoundTranscript(dir, 'peer-3', 'eu', sign, false)).code).toBe('STORAGE_CONFLICT');
    expect(codeOf(() => new RoundTranscript(dir, 'peer-3', 'eu', sign, true)).code).toBe('STORAGE_CONFLICT');
  });
});
