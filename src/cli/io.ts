/**
 * The CLI's view of the outside world, injected so commands can be run in-process by tests.
 * @module
 */

export interface CliIo {
  /** Results a script may consume (public keys, summaries). */
  readonly stdout: (text: string) => void;
  /** Guidance, warnings and errors. */
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** The process's own streams and environment. */
export function processIo(): CliIo {
  return {
    stdout: (text) => void process.stdout.write(text),
    stderr: (text) => void process.stderr.write(text),
    env: process.env,
  };
}
