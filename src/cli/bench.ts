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
import { UsageError } from './args.js';

const BENCHES = ['field', 'round', 'verify'] as const;

const HELP = `Usage: mpc-node bench [field|round|verify] [--json] [options]

  field    field kernels and sharing, WASM against the BigInt oracle (L = 1e6): npm run bench
  round    whole rounds between real node processes on 127.0.0.1: npm run bench:round
  verify   transcript verification in Node and Chromium: npm run bench:verify

Options are passed to the benchmark (e.g. --json, --quick, --reps N). Results: bench/RESULTS.md.
`;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === '--help' || argv[0] === '-h') {
    process.stdout.write(HELP);
    return 0;
  }
  const which = argv[0] !== undefined && !argv[0].startsWith('-') ? argv[0] : 'field';
  if (!(BENCHES as readonly string[]).includes(which)) throw new UsageError(`unknown benchmark '${which}': use one of ${BENCHES.join(', ')}`);
  const rest = argv[0] === which ? argv.slice(1) : argv;
  // dist/src/cli/bench.js -> dist/bench/<which>.js
  const script = fileURLToPath(new URL(`../../bench/${which}.js`, import.meta.url));
  if (!existsSync(script)) throw new Error(`${script} is missing: build with 'npm run build'`);
  const child = spawn(process.execPath, [script, ...rest], { stdio: 'inherit' });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}
