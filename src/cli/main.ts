/**
 * mpc-node command dispatch: the composition root of the command line. No business logic here.
 *
 * The commands, their options and their help are the table in ./commands.ts. For a command line
 * this module finds the table entry (a command, or a group's subcommand such as `config check`),
 * parses the options with the shared {@link parseCommand} (./args.ts), answers `--help`/`-h`
 * and `help CMD` with the help generated from the table (./help.ts), and otherwise calls the
 * command's handler with the parsed, typed options.
 *
 * `keygen`, `init`, `config check`, `status`, `prune`, `policy grant|authority-keygen` and
 * `credential add|list|revoke` are handled in-process by modules of this directory. Running a node (`start`, or the bare
 * `mpc-node --region ID ...`), `demo`, `bench` and `verify` are hooks: modules next to this one
 * (`./start.js`, `./demo.js`, `./bench.js`, `./verify.js`) that each export
 * `run(args: Parsed<spec>, io: CliIo): Promise<number>` (the exit code) and are loaded on demand,
 * so a command's dependencies (ws, WASM) are only loaded when it runs (not for its help).
 *
 * Exit codes: 0 success, 1 failure, 2 usage error. Errors print `mpc-node: <message>`; the stack
 * trace only with MPC_DEBUG=1.
 * @module
 */
import { suggest } from '../federation/index.js';
import { type Parsed, UsageError, parseCommand } from './args.js';
import { type CommandName, type CommandSpec, type SpecOf, GROUPS, commandWords, findCommand, subcommandsOf } from './commands.js';
import { runConfigCheck } from './config-check.js';
import { runCredentialAdd, runCredentialList, runCredentialRevoke } from './credential.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';
import { runInit } from './init.js';
import type { CliIo } from './io.js';
import { runKeygen } from './keygen.js';
import { runAuthorityKeygen, runGrant } from './policy.js';
import { runPrune } from './prune.js';
import { runStatus } from './status.js';

export { mainHelp } from './help.js';

type Handler<N extends CommandName> = (args: Parsed<SpecOf<N>>, io: CliIo) => Promise<number>;

/** The contract of a hook module. */
export interface CommandModule<N extends CommandName = CommandName> {
  run: Handler<N>;
}

/** A handler that loads `module` (relative to this file; compiled layout: dist/src/cli/) when it runs. */
function hook<N extends CommandName>(name: N, module: string): Handler<N> {
  return async (args, io) => {
    const url = new URL(module, import.meta.url);
    let mod: Partial<CommandModule<N>>;
    try {
      mod = (await import(url.href)) as Partial<CommandModule<N>>;
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { url?: string };
      // Only "this very file is missing" means the command is absent; a missing dependency of the
      // module is a real failure and is reported as such.
      if (e.code === 'ERR_MODULE_NOT_FOUND' && (e.url === url.href || e.message.includes(url.pathname))) {
        throw new Error(`'${name}' is not available in this build of mpc-node (${module} is missing next to ${new URL('.', import.meta.url).pathname})`);
      }
      throw err;
    }
    if (typeof mod.run !== 'function') throw new Error(`${module} does not export run(args, io): cannot run '${name}'`);
    const code = await mod.run(args, io);
    return Number.isInteger(code) && code >= 0 && code <= 255 ? code : 1;
  };
}

/** Every command of the table and what runs it (the type makes a table entry without a handler an error). */
const HANDLERS: { readonly [N in CommandName]: Handler<N> } = {
  start: hook('start', './start.js'),
  keygen: runKeygen,
  init: runInit,
  'config check': runConfigCheck,
  status: runStatus,
  prune: runPrune,
  'policy authority-keygen': runAuthorityKeygen,
  'policy grant': runGrant,
  'credential add': runCredentialAdd,
  'credential list': runCredentialList,
  'credential revoke': runCredentialRevoke,
  demo: hook('demo', './demo.js'),
  bench: hook('bench', './bench.js'),
  verify: hook('verify', './verify.js'),
};

// Type-only check (no import at run time): each hook module's run() takes its command's parsed options.
type HookModules = [typeof import('./start.js'), typeof import('./demo.js'), typeof import('./bench.js'), typeof import('./verify.js')];
true satisfies (HookModules extends [CommandModule<'start'>, CommandModule<'demo'>, CommandModule<'bench'>, CommandModule<'verify'>] ? true : false);

async function runCommand(spec: CommandSpec, argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommand(spec, argv);
  if (parsed.help) {
    io.stdout(commandHelp(spec));
    return 0;
  }
  const handler = HANDLERS[spec.name as CommandName] as (args: Parsed<CommandSpec>, io: CliIo) => Promise<number>;
  return handler(parsed, io);
}

const isHelp = (a: string | undefined): boolean => a === '--help' || a === '-h';
const quoted = (names: readonly string[]): string => names.map((n) => `'${n}'`).join(' or ');

/** The help text of `mpc-node help TOPIC...`, the same as `mpc-node TOPIC... --help`. */
function helpOf(topic: readonly string[]): string {
  const [first, sub] = topic;
  const group = GROUPS.find((g) => g.name === first);
  if (group !== undefined && sub === undefined) return groupHelp(group);
  const spec = findCommand(group !== undefined ? `${first} ${sub}` : first!);
  if (spec !== undefined) return commandHelp(spec);
  throw group !== undefined ? unknownSubcommand(group.name, sub!) : unknownCommand(first!);
}

function unknownCommand(cmd: string): UsageError {
  const near = suggest(cmd, commandWords());
  return new UsageError(`unknown command '${cmd}'${near === undefined ? '' : ` (did you mean '${near}'?)`}; run 'mpc-node --help' for the list`);
}

function unknownSubcommand(group: string, sub: string): UsageError {
  const subs = subcommandsOf(group);
  const near = suggest(sub, subs);
  const names = subs.map((s) => `${group} ${s}`);
  return new UsageError(
    `unknown subcommand '${group} ${sub}'${near === undefined ? '' : ` (did you mean '${group} ${near}'?)`}: ` +
      (names.length === 1 ? `the only one is ${quoted(names)}` : `use ${quoted(names)}`),
  );
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    io.stderr(mainHelp());
    return 2;
  }
  if (isHelp(cmd)) {
    io.stdout(mainHelp());
    return 0;
  }
  // `mpc-node --region eu ...`: the default command runs a node.
  if (cmd.startsWith('-')) {
    if (argv.some((a) => a === '--region' || a.startsWith('--region='))) return runCommand(findCommand('start')!, argv, io);
    throw new UsageError(`unknown option ${JSON.stringify(cmd)}: give a command, or --region ID to run a node; run 'mpc-node --help'`);
  }
  if (cmd === 'help') {
    io.stdout(rest.length === 0 ? mainHelp() : helpOf(rest));
    return 0;
  }
  const group = GROUPS.find((g) => g.name === cmd);
  if (group !== undefined) {
    const [sub, ...subRest] = rest;
    if (sub === undefined || isHelp(sub)) {
      (sub === undefined ? io.stderr : io.stdout)(groupHelp(group));
      return sub === undefined ? 2 : 0;
    }
    const spec = findCommand(`${cmd} ${sub}`);
    if (spec !== undefined) return runCommand(spec, subRest, io);
    if (sub.startsWith('-')) {
      const subs = subcommandsOf(cmd);
      throw new UsageError(`'${cmd}' needs a subcommand first: mpc-node ${cmd} ${subs.length === 1 ? subs[0] : `(${subs.join('|')})`} ${rest.join(' ')}`);
    }
    throw unknownSubcommand(cmd, sub);
  }
  const spec = findCommand(cmd);
  if (spec !== undefined) return runCommand(spec, rest, io);
  throw unknownCommand(cmd);
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
