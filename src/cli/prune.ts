/**
 * `mpc-node prune`: deletes round transcripts older than the federation's retention
 * (`policy.retention.transcriptDays`) and records each deletion in an append-only log.
 *
 * The core, {@link pruneTranscripts}, takes the directory, the retention and the time as
 * arguments, so the node's periodic task can call it directly (docs/policy.md "Retention").
 *
 * Age of a transcript: the round's end time when the transcript's last entry records one
 * (`endedAt`, ISO string or epoch ms, on the entry or in its body), else the file's mtime
 * (a transcript is written until its round ends, so its mtime is the end time unless the file
 * was touched since). Transcript format v1 records no times, so today it is the mtime.
 * @module
 */
import { appendFile, lstat, open, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isRoundId } from '../core/ids.js';
import { loadFederation } from '../config/federation.js';
import { defaultDataDir, resolveNodePaths } from '../config/node-files.js';
import { defaultPolicy, retentionCutoff, type PolicySubject } from '../policy/index.js';
import { type Parsed, UsageError } from './args.js';
import { PRUNE_LOG, type SpecOf } from './commands.js';
import type { CliIo } from './io.js';

/** The append-only record of deletions, inside the transcripts directory. */
export { PRUNE_LOG };
/** Whether `file` is a transcript file name: `<round>.jsonl` for a valid round id (src/core/ids.ts). */
export const isTranscriptFile = (file: string): boolean => file.endsWith('.jsonl') && isRoundId(file.slice(0, -'.jsonl'.length));
/** For the age a deletion reports, in whole days; the cutoff itself is the policy room's retentionCutoff. */
const DAY_MS = 86_400_000;
/** Bytes read from the end of a transcript to find its last entry. */
const TAIL_BYTES = 64 * 1024;

export interface PrunedFile {
  readonly file: string;
  /** When the round ended (ISO), by `basis`. */
  readonly endedAt: string;
  readonly ageDays: number;
  readonly basis: 'transcript' | 'mtime';
}

export interface PruneResult {
  /** Transcripts past retention: deleted, or that would be with dryRun. */
  readonly removed: PrunedFile[];
  /** Transcripts within retention. */
  readonly kept: number;
  /** Entries left alone and why (not a regular file, unreadable). */
  readonly skipped: { readonly file: string; readonly reason: string }[];
  /** Retention cutoff (ISO): transcripts that ended before it are past retention. */
  readonly cutoff: string;
  readonly dryRun: boolean;
}

/** The round's end time recorded in the transcript's last entry, if any. */
async function recordedEnd(path: string, size: number): Promise<number | undefined> {
  const fh = await open(path, 'r');
  try {
    const len = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n').filter((l) => l.trim() !== '');
    const last = lines[lines.length - 1];
    if (last === undefined) return undefined;
    let e: unknown;
    try {
      e = JSON.parse(last);
    } catch {
      return undefined;
    }
    if (typeof e !== 'object' || e === null) return undefined;
    const rec = e as { endedAt?: unknown; body?: { endedAt?: unknown } };
    const v = rec.endedAt ?? rec.body?.endedAt;
    const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
    return Number.isFinite(ms) ? ms : undefined;
  } finally {
    await fh.close();
  }
}

/** The retention of `days` days as the policy slice retentionCutoff reads (for a bare day count). */
function retentionOf(days: number): PolicySubject {
  const policy = defaultPolicy([]);
  return { federation: '', threshold: 0, regions: [], round: { minContributors: 0, maxParams: 0, maxTrainersPerRound: 0 }, policy: { ...policy, retention: { ...policy.retention, transcriptDays: days } } };
}

/**
 * Deletes the transcripts in `dir` that ended more than `retention` days before `now` (the
 * cutoff is {@link retentionCutoff} of the policy room), and
 * appends one line per deleted file to `dir/prune-log.jsonl`
 * (`{"file","endedAt","ageDays","basis","prunedAt","retentionDays"}`). With `dryRun`, deletes
 * and records nothing and returns what it would delete. Only regular files named
 * `<round>.jsonl` are considered (never the log itself, never symlinks or directories).
 * @param dir - The transcripts directory (`<dataDir>/transcripts`); a missing one has nothing to prune.
 * @param retention - `policy.retention.transcriptDays`, or the federation holding it.
 * @param now - Milliseconds since the epoch.
 * @throws {RangeError} if the retention is not a positive integer of days.
 * @example
 * await pruneTranscripts('/srv/mpc/eu/transcripts', 90, Date.now(), { dryRun: false });
 */
export async function pruneTranscripts(dir: string, retention: number | PolicySubject, now: number, opts: { dryRun: boolean }): Promise<PruneResult> {
  const subject = typeof retention === 'number' ? retentionOf(retention) : retention;
  const retentionDays = subject.policy.retention.transcriptDays;
  if (retentionDays === null || !Number.isInteger(retentionDays) || retentionDays < 1) throw new RangeError(`retentionDays must be a positive integer, got ${retentionDays}`);
  const cutoff = retentionCutoff(subject, now)!;
  const result: { -readonly [K in keyof PruneResult]: PruneResult[K] } = { removed: [], kept: 0, skipped: [], cutoff: new Date(cutoff).toISOString(), dryRun: opts.dryRun };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw err;
  }
  for (const file of names.sort()) {
    if (file === PRUNE_LOG || !isTranscriptFile(file)) continue;
    const path = join(dir, file);
    let ended: number;
    let basis: PrunedFile['basis'] = 'mtime';
    try {
      const st = await lstat(path);
      if (!st.isFile()) {
        result.skipped.push({ file, reason: st.isSymbolicLink() ? 'a symbolic link, not a transcript file' : 'not a regular file' });
        continue;
      }
      const rec = await recordedEnd(path, st.size);
      ended = rec ?? st.mtimeMs;
      if (rec !== undefined) basis = 'transcript';
    } catch (err) {
      result.skipped.push({ file, reason: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      continue;
    }
    if (ended >= cutoff) {
      result.kept++;
      continue;
    }
    const entry: PrunedFile = { file, endedAt: new Date(ended).toISOString(), ageDays: Math.floor((now - ended) / DAY_MS), basis };
    if (!opts.dryRun) {
      try {
        await unlink(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue; // pruned concurrently
        result.skipped.push({ file, reason: `cannot delete: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
        continue;
      }
      // Recorded right after each deletion, so the log stays true if a later one fails.
      const line = JSON.stringify({ ...entry, prunedAt: new Date(now).toISOString(), retentionDays }) + '\n';
      await appendFile(join(dir, PRUNE_LOG), line, { mode: 0o600, flag: 'a' });
    }
    result.removed.push(entry);
  }
  return result;
}

/** Runs `mpc-node prune`. @returns exit code. */
export async function runPrune({ opts }: Parsed<SpecOf<'prune'>>, io: CliIo): Promise<number> {
  const dataDirFlag = opts['data-dir'];
  const region = opts.region;
  if (dataDirFlag === undefined && region === undefined) throw new UsageError("'prune' needs --data-dir DIR or --region ID; see 'mpc-node prune --help'");
  const dir = resolveNodePaths(dataDirFlag ?? defaultDataDir(region!)).transcripts;
  const configPath = opts.config;
  const fed = await loadFederation(configPath);
  const now = Date.now();
  const days = fed.policy.retention.transcriptDays;
  if (days === null) {
    io.stderr(`mpc-node: ${configPath} sets no policy.retention.transcriptDays: transcripts are kept, nothing to prune\n`);
    if (opts.json) io.stdout(`${JSON.stringify({ removed: [], kept: null, retentionDays: null })}\n`);
    return 0;
  }
  const dryRun = opts['dry-run'];
  const r = await pruneTranscripts(dir, fed, now, { dryRun });
  if (opts.json) {
    io.stdout(`${JSON.stringify({ ...r, retentionDays: days, dir })}\n`);
  } else {
    const verb = dryRun ? 'would remove' : 'removed';
    for (const f of r.removed) io.stdout(`${verb} ${f.file}  ended ${f.endedAt} (${f.ageDays} days ago, by ${f.basis})\n`);
    io.stdout(`${dir}: ${verb} ${r.removed.length}, kept ${r.kept} (retention ${days} days: cutoff ${r.cutoff})\n`);
  }
  for (const s of r.skipped) io.stderr(`mpc-node: skipped ${s.file}: ${s.reason}\n`);
  return r.skipped.some((s) => s.reason.startsWith('cannot delete')) ? 1 : 0;
}
