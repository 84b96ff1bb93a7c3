/**
 * `mpc-node bench [field|round|verify] [options]`: runs one of the benchmarks under bench/ (the
 * same programs as `npm run bench`, `bench:round`, `bench:verify`), in a child process so that
 * its measurements are not disturbed by this one. Default: field. Options pass through
 * (e.g. `--json`, `--quick`).
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Parsed, UsageError } from './args.js';
import type { SpecOf } from './commands.js';
import type { CliIo } from './io.js';

const BENCHES = ['field', 'round', 'verify'] as const;

/** Runs `mpc-node bench` (a hook, see ./main.ts): its options are passed through, so they arrive as positionals. @returns exit code. */
export async function run({ positionals: argv }: Parsed<SpecOf<'bench'>>, _io: CliIo): Promise<number> {
  const which = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : 'field';
  if (!(BENCHES as readonly string[]).includes(which)) throw new UsageError(`unknown benchmark '${which}': use one of ${BENCHES.join(', ')}`);
  const rest = argv[0] === which ? argv.slice(1) : argv;
  // dist/src/cli/bench.js -> dist/bench/<which>.js
  const script = fileURLToPath(new URL(`../../bench/${which}.js`, import.meta.url));
  if (!existsSync(script)) throw new Error(`${script} is missing: build with 'npm run build'`);
  const child = spawn(process.execPath, [script, ...rest], { stdio: 'inherit' });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}
