/**
 * A small, strict command-line parser (no dependency). Each command declares its flags; anything
 * else is a {@link UsageError} that says what was wrong and where to look (`--help`).
 *
 * Accepted forms: `--name value`, `--name=value`, boolean `--name`, `-h`/`--help`, and `--` to
 * end flags. A value may not start with `--` (so `--out --force` reports the missing value
 * instead of writing a file named "--force"). A flag given twice is an error.
 * @module
 */
import { ConfigError } from '../errors.js';
import { suggest } from '../federation/index.js';

/** A command-line mistake: printed as `mpc-node: <message>`, exit code 2. */
export class UsageError extends ConfigError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

export interface FlagSpec {
  /** Long name without dashes, e.g. `out`. */
  readonly name: string;
  readonly kind: 'string' | 'boolean';
  /** Shown in help, e.g. `PATH`. */
  readonly value?: string;
  readonly help: string;
}

export interface CommandSpec {
  /** As typed, e.g. `keygen` or `config check`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Usage line without the program name, e.g. `keygen --region ID [--out PATH] [--force]`. */
  readonly usage: string;
  readonly flags: readonly FlagSpec[];
  /** Extra help paragraphs. */
  readonly details?: string;
  /** Whether positional arguments are accepted (default: no). */
  readonly positionals?: boolean;
}

export interface ParsedArgs {
  /** Flag values by long name; boolean flags are `true` when given. Absent flags are absent. */
  readonly flags: Readonly<Record<string, string | true>>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

/**
 * Parses `argv` (without the program and command names) against `spec`.
 * @throws {UsageError} for an unknown flag, a missing or unexpected value, a repeated flag or
 *   an unexpected positional argument.
 * @example
 * parseArgs(['--region', 'eu'], KEYGEN).flags.region; // 'eu'
 */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  const flags: Record<string, string | true> = {};
  const positionals: string[] = [];
  let help = false;
  const seeHelp = `see 'mpc-node ${spec.name} --help'`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    if (!arg.startsWith('--')) {
      throw new UsageError(`unknown option ${JSON.stringify(arg)} for '${spec.name}': options are spelled --name; ${seeHelp}`);
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    const flag = spec.flags.find((f) => f.name === name);
    if (flag === undefined) {
      const near = suggest(name, spec.flags.map((f) => f.name));
      throw new UsageError(
        `unknown flag --${name} for '${spec.name}'` + (near === undefined ? '' : ` (did you mean --${near}?)`) + `; ${seeHelp}`,
      );
    }
    if (Object.hasOwn(flags, name)) throw new UsageError(`--${name} given more than once`);
    if (flag.kind === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} is a switch and takes no value (write just --${name})`);
      flags[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        value = next;
        i++;
      }
    }
    if (value === undefined || value === '') {
      throw new UsageError(`--${name} needs a value: --${name} ${flag.value ?? 'VALUE'}`);
    }
    flags[name] = value;
  }
  if (positionals.length > 0 && spec.positionals !== true && !help) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} for '${spec.name}'; ${seeHelp}`);
  }
  return { flags, positionals, help };
}

/** The value of a string flag, or a UsageError naming it. */
export function requireFlag(args: ParsedArgs, spec: CommandSpec, name: string): string {
  const v = args.flags[name];
  if (typeof v !== 'string') {
    const flag = spec.flags.find((f) => f.name === name);
    throw new UsageError(`'${spec.name}' needs --${name} ${flag?.value ?? 'VALUE'}; see 'mpc-node ${spec.name} --help'`);
  }
  return v;
}

/** The value of an optional string flag. */
export function optionalFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** Help text of one command. */
export function commandHelp(spec: CommandSpec): string {
  const width = Math.max(0, ...spec.flags.map((f) => flagLabel(f).length));
  const lines = [`Usage: mpc-node ${spec.usage}`, '', spec.summary];
  if (spec.details !== undefined) lines.push('', spec.details);
  if (spec.flags.length > 0) {
    lines.push('', 'Options:');
    for (const f of spec.flags) lines.push(`  ${flagLabel(f).padEnd(width)}  ${f.help}`);
    lines.push(`  ${'-h, --help'.padEnd(width)}  show this help`);
  }
  return lines.join('\n') + '\n';
}

function flagLabel(f: FlagSpec): string {
  return f.kind === 'boolean' ? `--${f.name}` : `--${f.name} ${f.value ?? 'VALUE'}`;
}
