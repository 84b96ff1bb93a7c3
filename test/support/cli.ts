/**
 * Runs the `mpc-node` command line in this process (src/cli/main.ts) with captured output and
 * an empty environment, for the CLI tests that need no separate process.
 */
import type { CliIo } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';

export async function runCli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t), env: {} };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}
