/**
 * `mpc-node verify <transcript.jsonl...> --federation federation.json [--result result.bin] [--json]`:
 * checks round transcripts (one per region, any number) against the federation file and,
 * optionally, the result vector a trainer received. Exit 0 only if every check passes.
 * The checks are src/verifier (the same module the browser auditor page runs); what they prove:
 * docs/transcript.md.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { verifyRound } from '../verifier/index.js';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

async function read(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new UsageError(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Runs `mpc-node verify` (a hook, see ./main.ts). @returns exit code. */
export async function run({ opts, positionals }: Parsed<SpecOf<'verify'>>, _io: CliIo): Promise<number> {
  const files = positionals;
  if (files.length === 0) throw new UsageError('give at least one transcript file: mpc-node verify <round>.jsonl... --federation federation.json');
  const fedPath = opts.federation;
  let federation: unknown;
  try {
    federation = JSON.parse(new TextDecoder().decode(await read(fedPath, 'federation file')));
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`federation file ${fedPath} is not JSON`);
  }
  const resultPath = opts.result;
  const transcripts = await Promise.all(files.map((f) => read(f, 'transcript')));
  const result = resultPath ? await read(resultPath, 'result file') : undefined;
  const report = await verifyRound({ transcripts, federation, names: [...files], ...(result ? { result } : {}) });
  if (opts.json) {
    process.stdout.write(JSON.stringify({ ok: report.ok, checks: report.checks, errors: report.errors }) + '\n');
  } else {
    const round = report.picture?.round;
    process.stdout.write(`mpc-node verify: ${files.length} transcript(s)${round ? ` of round ${round}` : ''}\n`);
    for (const c of report.checks) process.stdout.write(`  [${c.ok ? 'ok' : 'FAIL'}] ${c.name}: ${c.detail}\n`);
    if (!report.ok) for (const e of report.errors.slice(0, 20)) process.stdout.write(`  error: ${e}\n`);
    process.stdout.write(report.ok ? 'OK: every check passed\n' : `FAILED: ${report.checks.filter((c) => !c.ok).map((c) => c.name).join(', ')}\n`);
  }
  return report.ok ? 0 : 1;
}
