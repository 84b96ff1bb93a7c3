/**
 * Transcript retention: pruneTranscripts() over real files whose mtimes are set with
 * fs.utimes, and `mpc-node prune` in-process.
 */
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { PRUNE_LOG, isTranscriptFile, pruneTranscripts } from '../src/cli/prune.js';
import { loadFederation } from '../src/config/federation.js';
import { isRoundId } from '../src/core/ids.js';
import { retentionCutoff } from '../src/policy/index.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-06-15T12:00:00Z');
let dir: string;
let tdir: string;

/** Writes `<name>` with an mtime `ageDays` before NOW. */
async function transcript(name: string, ageDays: number, content = '{"v":1,"kind":"params"}\n'): Promise<void> {
  const p = join(tdir, name);
  await writeFile(p, content);
  const t = new Date(NOW - ageDays * DAY);
  await utimes(p, t, t);
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpc-prune-'));
  tdir = join(dir, 'transcripts');
  await mkdir(tdir);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('pruneTranscripts', () => {
  it('removes exactly the transcripts past retention, and logs each one', async () => {
    await transcript('r-old.jsonl', 31);
    await transcript('r-edge-in.jsonl', 29.99);
    await transcript('r-edge-out.jsonl', 30.01);
    await transcript('r-new.jsonl', 1);
    await transcript('notes.txt', 400); // not a transcript
    const r = await pruneTranscripts(tdir, 30, NOW, { dryRun: false });
    expect(r.removed.map((f) => f.file)).toEqual(['r-edge-out.jsonl', 'r-old.jsonl']);
    expect(r.kept).toBe(2);
    expect((await readdir(tdir)).sort()).toEqual(['notes.txt', PRUNE_LOG, 'r-edge-in.jsonl', 'r-new.jsonl']);
    const log = (await readFile(join(tdir, PRUNE_LOG), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(log).toEqual([
      { file: 'r-edge-out.jsonl', endedAt: new Date(NOW - 30.01 * DAY).toISOString(), ageDays: 30, basis: 'mtime', prunedAt: new Date(NOW).toISOString(), retentionDays: 30 },
      { file: 'r-old.jsonl', endedAt: new Date(NOW - 31 * DAY).toISOString(), ageDays: 31, basis: 'mtime', prunedAt: new Date(NOW).toISOString(), retentionDays: 30 },
    ]);
    expect((await stat(join(tdir, PRUNE_LOG))).mode & 0o777).toBe(0o600);
  });

  it('appends to the log on later runs and never deletes it', async () => {
    await transcript('a.jsonl', 10);
    await pruneTranscripts(tdir, 5, NOW, { dryRun: false });
    await transcript('b.jsonl', 10);
    const old = new Date(NOW - 100 * DAY);
    await utimes(join(tdir, PRUNE_LOG), old, old);
    await pruneTranscripts(tdir, 5, NOW, { dryRun: false });
    const lines = (await readFile(join(tdir, PRUNE_LOG), 'utf8')).trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { file: string }).file)).toEqual(['a.jsonl', 'b.jsonl']);
  });

  it('with dryRun, deletes and records nothing but reports the same files', async () => {
    await transcript('r-old.jsonl', 40);
    await transcript('r-new.jsonl', 2);
    const r = await pruneTranscripts(tdir, 30, NOW, { dryRun: true });
    expect(r.removed.map((f) => f.file)).toEqual(['r-old.jsonl']);
    expect(r.dryRun).toBe(true);
    expect((await readdir(tdir)).sort()).toEqual(['r-new.jsonl', 'r-old.jsonl']);
  });

  it("prefers the round's end time recorded in the transcript over the mtime", async () => {
    // mtime says fresh, the last entry says the round ended 60 days ago.
    const ended = new Date(NOW - 60 * DAY).toISOString();
    await transcript('r-recorded.jsonl', 0, `{"v":1,"kind":"params"}\n{"v":1,"kind":"sealed","body":{"endedAt":"${ended}"}}\n`);
    // ...and the other way round: mtime old, recorded end recent.
    await transcript('r-recent.jsonl', 90, `{"v":1,"kind":"sealed","endedAt":${NOW - DAY}}\n`);
    const r = await pruneTranscripts(tdir, 30, NOW, { dryRun: false });
    expect(r.removed).toEqual([{ file: 'r-recorded.jsonl', endedAt: ended, ageDays: 60, basis: 'transcript' }]);
    expect(r.kept).toBe(1);
  });

  it('leaves symlinks and directories alone, reporting them', async () => {
    await transcript('real.jsonl', 1);
    await symlink(join(tdir, 'real.jsonl'), join(tdir, 'link.jsonl'));
    await mkdir(join(tdir, 'dir.jsonl'));
    const r = await pruneTranscripts(tdir, 1, NOW + 10 * DAY, { dryRun: false });
    expect(r.removed.map((f) => f.file)).toEqual(['real.jsonl']);
    expect(r.skipped).toEqual([
      { file: 'dir.jsonl', reason: 'not a regular file' },
      { file: 'link.jsonl', reason: 'a symbolic link, not a transcript file' },
    ]);
  });

  it('has nothing to prune in a missing directory, and refuses a bad retention', async () => {
    expect((await pruneTranscripts(join(dir, 'nope'), 30, NOW, { dryRun: false })).removed).toEqual([]);
    await expect(pruneTranscripts(tdir, 0, NOW, { dryRun: false })).rejects.toThrow(RangeError);
    await expect(pruneTranscripts(tdir, 1.5, NOW, { dryRun: false })).rejects.toThrow(RangeError);
  });
});

describe('mpc-node prune', () => {
  const key = (b: number): string => bytesToHex(ed25519.getPublicKey(new Uint8Array(32).fill(b)));
  async function fed(policy: Record<string, unknown>): Promise<string> {
    const p = join(dir, 'federation.json');
    await writeFile(
      p,
      JSON.stringify({
        federation: 'acme-fl',
        version: 1,
        threshold: 2,
        regions: [
          { id: 'eu', jurisdiction: 'EU', endpoint: 'ws://127.0.0.1:7101', publicKey: key(1), api: { port: 7201 } },
          { id: 'us', jurisdiction: 'US', endpoint: 'ws://127.0.0.1:7102', publicKey: key(2), api: { port: 7202 } },
        ],
        policy,
      }),
    );
    return p;
  }
  const run = runCli;

  it('takes the retention from a federation: the cutoff is the policy room\'s retentionCutoff', async () => {
    const cfg = await fed({ retention: { transcriptDays: 30 } });
    const f = await loadFederation(cfg);
    await transcript('r-old.jsonl', 30.01);
    await transcript('r-new.jsonl', 29.99);
    const r = await pruneTranscripts(tdir, f, NOW, { dryRun: true });
    expect(r.cutoff).toBe(new Date(retentionCutoff(f, NOW)!).toISOString());
    expect(r.cutoff).toBe((await pruneTranscripts(tdir, 30, NOW, { dryRun: true })).cutoff);
    expect(r.removed.map((x) => x.file)).toEqual(['r-old.jsonl']);
    await expect(pruneTranscripts(tdir, await loadFederation(await fed({})), NOW, { dryRun: true })).rejects.toThrow(RangeError);
  });

  it('considers exactly the files named <round id>.jsonl (isRoundId)', async () => {
    for (const name of ['ok-1.jsonl', 'a:b.c_d.jsonl', 'bad name.jsonl', `${'x'.repeat(129)}.jsonl`, '.jsonl', 'r.jsonl.bak']) {
      expect(isTranscriptFile(name), name).toBe(name.endsWith('.jsonl') && isRoundId(name.slice(0, -6)));
      await transcript(name, 100);
    }
    const r = await pruneTranscripts(tdir, 1, NOW, { dryRun: true });
    expect(r.removed.map((x) => x.file).sort()).toEqual(['a:b.c_d.jsonl', 'ok-1.jsonl']);
  });

  it('prints what it removed and what it kept', async () => {
    const cfg = await fed({ retention: { transcriptDays: 30 } });
    const now = Date.now();
    for (const [name, age] of [['old.jsonl', 45], ['new.jsonl', 3]] as const) {
      await writeFile(join(tdir, name), '{}\n');
      const t = new Date(now - age * DAY);
      await utimes(join(tdir, name), t, t);
    }
    const dry = await run(['prune', '--data-dir', dir, '--config', cfg, '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toMatch(/^would remove old\.jsonl {2}ended .* \(45 days ago, by mtime\)$/m);
    expect(dry.stdout).toContain('would remove 1, kept 1 (retention 30 days');
    expect(await readdir(tdir)).toContain('old.jsonl');
    const r = await run(['prune', '--data-dir', dir, '--config', cfg]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^removed old\.jsonl/m);
    expect((await readdir(tdir)).sort()).toEqual(['new.jsonl', PRUNE_LOG]);
    const j = await run(['prune', '--data-dir', dir, '--config', cfg, '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ removed: [], kept: 1, retentionDays: 30 });
  });

  it('does nothing without a retention in the policy', async () => {
    const cfg = await fed({});
    await writeFile(join(tdir, 'x.jsonl'), '{}\n');
    await utimes(join(tdir, 'x.jsonl'), new Date(0), new Date(0));
    const r = await run(['prune', '--data-dir', dir, '--config', cfg]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('sets no policy.retention.transcriptDays: transcripts are kept, nothing to prune');
    expect(await readdir(tdir)).toEqual(['x.jsonl']);
  });

  it('needs a data directory or a region', async () => {
    const r = await run(['prune']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("'prune' needs --data-dir DIR or --region ID");
  });
});
