/**
 * mpc-node command dispatch: the composition root of the command line. No business logic here.
 *
 * `keygen`, `init`, `config check`, `status`, `prune` and `policy grant|authority-keygen` live
 * in this directory. Running a node (`start`, or the bare `mpc-node --region ID ...`), `demo`,
 * `bench` and `verify` are hooks: modules next to this
 * one (`./start.js`, `./demo.js`, `./bench.js`, `./verify.js`) that each export
 * `run(argv: string[]): Promise<number>` (the exit code) and are loaded on demand, so a command's
 * dependencies (ws, WASM) are only loaded when it runs.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. Errors print `mpc-node: <message>`; the stack
 * trace only with MPC_DEBUG=1.
 * @module
 */
import { suggest } from '../federation/index.js';
import { UsageError } from './args.js';
import { runConfigCheck, CONFIG_CHECK } from './config-check.js';
import { runInit, INIT } from './init.js';
import type { CliIo } from './io.js';
import { runKeygen, KEYGEN } from './keygen.js';
import { runPolicy, AUTHORITY_KEYGEN, POLICY_GRANT } from './policy.js';
import { runPrune, PRUNE } from './prune.js';
import { runStatus, STATUS } from './status.js';

/** The contract of a hook module. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

interface HookCommand {
  /** Module specifier relative to this file (compiled layout: dist/src/cli/). */
  readonly module: string;
  readonly usage: string;
  readonly summary: string;
}

/** Commands implemented by other modules; see the module doc. */
export const HOOK_COMMANDS: Readonly<Record<'start' | 'demo' | 'bench' | 'verify', HookCommand>> = {
  start: { module: './start.js', usage: '--region ID [--config PATH] [--data-dir DIR]', summary: "run this region's node (same as 'mpc-node start ...')" },
  demo: { module: './demo.js', usage: 'demo', summary: 'run a whole federation on this machine and aggregate sample updates' },
  bench: { module: './bench.js', usage: 'bench', summary: 'measure field, sharing and round throughput' },
  verify: { module: './verify.js', usage: 'verify', summary: 'check round transcripts against the federation file (and a result vector)' },
};

const OWN_COMMANDS = [KEYGEN, INIT, CONFIG_CHECK, STATUS, PRUNE, AUTHORITY_KEYGEN, POLICY_GRANT] as const;
const COMMAND_NAMES = ['start', 'keygen', 'init', 'config', 'status', 'prune', 'policy', 'demo', 'bench', 'verify', 'help'];

/** Top-level help. */
export function mainHelp(): string {
  const rows: [string, string][] = [
    [`mpc-node ${HOOK_COMMANDS.start.usage}`, HOOK_COMMANDS.start.summary],
    ...OWN_COMMANDS.map((c): [string, string] => [`mpc-node ${c.usage}`, c.summary]),
    ...(['demo', 'bench', 'verify'] as const).map((k): [string, string] => [`mpc-node ${HOOK_COMMANDS[k].usage} ...`, HOOK_COMMANDS[k].summary]),
  ];
  return (
    'mpc-node: secure multiparty aggregation of federated-learning updates across regions.\n\n' +
    'Commands:\n' +
    rows.map(([u, s]) => `  ${u}\n      ${s}\n`).join('') +
    "\nRun 'mpc-node COMMAND --help' for a command's options. Configuration: docs/configuration.md\n" +
    'Exit codes: 0 ok, 1 failure, 2 usage error. Set MPC_DEBUG=1 to print stack traces.\n'
  );
}

const CONFIG_HELP =
  'Usage: mpc-node config check [--config PATH] [--region ID]\n\nSubcommands:\n  check   ' + CONFIG_CHECK.summary + '\n';

async function runHook(name: keyof typeof HOOK_COMMANDS, argv: string[]): Promise<number> {
  const hook = HOOK_COMMANDS[name];
  const url = new URL(hook.module, import.meta.url);
  let mod: Partial<CommandModule>;
  try {
    mod = (await import(url.href)) as Partial<CommandModule>;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { url?: string };
    // Only "this very file is missing" means the command is absent; a missing dependency of the
    // module is a real failure and is reported as such.
    if (e.code === 'ERR_MODULE_NOT_FOUND' && (e.url === url.href || e.message.includes(url.pathname))) {
      throw new Error(`'${name}' is not available in this build of mpc-node (${hook.module} is missing next to ${new URL('.', import.meta.url).pathname})`);
    }
    throw err;
  }
  if (typeof mod.run !== 'function') throw new Error(`${hook.module} does not export run(argv): cannot run '${name}'`);
  const code = await mod.run(argv);
  return Number.isInteger(code) && code >= 0 && code <= 255 ? code : 1;
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    io.stderr(mainHelp());
    return 2;
  }
  if (cmd === '--help' || cmd === '-h') {
    io.stdout(mainHelp());
    return 0;
  }
  // `mpc-node --region eu ...`: the default command runs a node.
  if (cmd.startsWith('-')) {
    if (argv.some((a) => a === '--region' || a.startsWith('--region='))) return runHook('start', [...argv]);
    throw new UsageError(`unknown option ${JSON.stringify(cmd)}: give a command, or --region ID to run a node; run 'mpc-node --help'`);
  }
  switch (cmd) {
    case 'keygen':
      return runKeygen(rest, io);
    case 'init':
      return runInit(rest, io);
    case 'config': {
      const [sub, ...subRest] = rest;
      if (sub === 'check') return runConfigCheck(subRest, io);
      if (sub === undefined || sub === '--help' || sub === '-h') {
        (sub === undefined ? io.stderr : io.stdout)(CONFIG_HELP);
        return sub === undefined ? 2 : 0;
      }
      if (sub.startsWith('-')) throw new UsageError(`'config' needs a subcommand first: mpc-node config check ${rest.join(' ')}`);
      throw new UsageError(`unknown subcommand 'config ${sub}': the only one is 'config check'`);
    }
    case 'status':
      return runStatus(rest, io);
    case 'prune':
      return runPrune(rest, io);
    case 'policy':
      return runPolicy(rest, io);
    case 'start':
    case 'demo':
    case 'bench':
    case 'verify':
      return runHook(cmd, rest);
    case 'help': {
      const [topic] = rest;
      if (topic === undefined) {
        io.stdout(mainHelp());
        return 0;
      }
      return dispatch(topic === 'config' ? ['config', 'check', '--help'] : [topic, '--help'], io);
    }
    default: {
      const near = suggest(cmd, COMMAND_NAMES);
      throw new UsageError(`unknown command '${cmd}'${near === undefined ? '' : ` (did you mean '${near}'?)`}; run 'mpc-node --help' for the list`);
    }
  }
}

/**
 * Runs the command line `argv` (without `node` and the script path).
 * @returns the process exit code: 0 ok, 1 failure, 2 usage error. Never throws.
 * @example
 * process.exitCode = await main(process.argv.slice(2), processIo());
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    io.stderr(`mpc-node: ${message}\n`);
    if (io.env['MPC_DEBUG'] === '1' && err instanceof Error && err.stack !== undefined) io.stderr(`${err.stack}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}
