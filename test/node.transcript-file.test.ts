/**
 * The node's transcript file (src/node/transcript-file.ts): one file per round, created
 * exclusively; a round id that already has a transcript is STORAGE_CONFLICT, a directory that
 * cannot take the file is STORAGE_FAILED, and neither message carries anything but the path.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MpcError } from '../src/errors.js';
import { TranscriptFile } from '../src/node/transcript-file.js';

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
