/**
 * Option parsing for every command, in one place: `node:util` parseArgs (strict) configured from
 * a command's entry in the table (./commands.ts), with its errors reworded in the CLI's terms
 * (which option, what to write, `see 'mpc-node CMD --help'`) as a {@link UsageError}, and the
 * result typed from the table ({@link parseCommand}).
 *
 * Accepted forms: `--name value`, `--name=value`, boolean `--name`, a table's short alias
 * (`-h` for `--help` in every command), and `--` to end options. On top of parseArgs: a value
 * may not be empty or start with `-` unless written `--name=-x` (so `--out --force` reports the
 * missing value instead of writing a file named "--force"), an option not marked repeatable may
 * be given once, required options are checked (not when help is asked for).
 * @module
 */
import { parseArgs as nodeParseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../errors.js';
import { suggest } from '../federation/index.js';
import type { CommandSpec, FlagSpec } from './commands.js';

export type { CommandSpec, FlagSpec } from './commands.js';

/** A command-line mistake: printed as `mpc-node: <message>`, exit code 2. */
export class UsageError extends ConfigError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
  }
}

export interface ParsedArgs {
  /** Option values by long name, as given (no defaults); switches are `true`. Absent options are absent. */
  readonly flags: Readonly<Record<string, string | true | readonly string[]>>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

type ArgToken = NonNullable<ReturnType<typeof nodeParseArgs>['tokens']>[number];
type OptionToken = Extract<ArgToken, { kind: 'option' }>;

const HELP_FLAG = 'help';

function config(spec: CommandSpec, argv: readonly string[], strict: boolean): ParseArgsConfig {
  const options: NonNullable<ParseArgsConfig['options']> = { [HELP_FLAG]: { type: 'boolean', short: 'h', multiple: true } };
  for (const f of spec.flags) {
    options[f.name] = { type: f.kind, ...(f.short !== undefined ? { short: f.short } : {}), ...(f.repeatable === true ? { multiple: true } : {}) };
  }
  return { args: [...argv], options, strict, allowPositionals: !strict || spec.positionals === true || (spec.operands?.length ?? 0) > 0, tokens: true };
}

const placeholder = (f: FlagSpec | undefined): string => (f?.kind === 'boolean' ? '' : ` ${f?.value ?? 'VALUE'}`);
const seeHelp = (spec: CommandSpec): string => `see 'mpc-node ${spec.name} --help'`;

/** The first mistake among the tokens, in the CLI's words; undefined if there is none. */
function mistake(spec: CommandSpec, tokens: readonly ArgToken[]): UsageError | undefined {
  const seen = new Set<string>();
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (t.name === HELP_FLAG) continue;
    const flag = spec.flags.find((f) => f.name === t.name && (t.rawName.startsWith('--') || f.short !== undefined));
    if (flag === undefined) return unknownOption(spec, t);
    if (flag.kind === 'boolean') {
      if (t.inlineValue === true) return new UsageError(`--${flag.name} is a switch and takes no value (write just --${flag.name})`);
    } else if (t.value === undefined || t.value === '' || (t.inlineValue !== true && t.value.startsWith('-'))) {
      const dash = t.value !== undefined && t.value.startsWith('-') && !t.value.startsWith('--') ? ` (a value starting with "-" is written --${flag.name}=${t.value})` : '';
      return new UsageError(`--${flag.name} needs a value: --${flag.name}${placeholder(flag)}${dash}`);
    }
    if (flag.repeatable !== true && seen.has(flag.name)) return new UsageError(`--${flag.name} given more than once`);
    seen.add(flag.name);
  }
  return undefined;
}

function unknownOption(spec: CommandSpec, t: OptionToken): UsageError {
  if (!t.rawName.startsWith('--')) {
    const shorts = spec.flags.filter((f) => f.short !== undefined).map((f) => `-${f.short}`);
    return new UsageError(
      `unknown option ${JSON.stringify(t.rawName)} for '${spec.name}': options are spelled --name` + (shorts.length > 0 ? ` (short forms: -h, ${shorts.join(', ')})` : '') + `; ${seeHelp(spec)}`,
    );
  }
  const near = suggest(t.name, spec.flags.map((f) => f.name));
  return new UsageError(`unknown flag --${t.name} for '${spec.name}'` + (near === undefined ? '' : ` (did you mean --${near}?)`) + `; ${seeHelp(spec)}`);
}

/**
 * Parses `argv` (without the program and command names) against `spec` with node:util parseArgs.
 * @throws {UsageError} for an unknown option, a missing or unexpected value, a repeated option
 *   or an unexpected positional argument; never parseArgs' own error.
 * @example
 * parseArgs(['--region', 'eu'], commandSpec('keygen')).flags.region; // 'eu'
 */
export function parseArgs(argv: readonly string[], spec: CommandSpec): ParsedArgs {
  if (spec.passThrough === true) {
    const help = argv[0] === '-h' || argv[0] === '--help';
    return { flags: {}, positionals: help ? argv.slice(1) : [...argv], help };
  }
  let tokens: readonly ArgToken[];
  let positionals: readonly string[];
  try {
    const r = nodeParseArgs(config(spec, argv, true));
    tokens = r.tokens ?? [];
    positionals = r.positionals;
  } catch (err) {
    // Reword: find the mistake in a lenient parse of the same arguments.
    const lenient = nodeParseArgs(config(spec, argv, false));
    const found = mistake(spec, lenient.tokens ?? []);
    if (found !== undefined) throw found;
    const code = (err as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      // as before: `CMD stray --help` shows the help
      if ((lenient.tokens ?? []).some((t) => t.kind === 'option' && t.name === HELP_FLAG)) return { flags: {}, positionals: lenient.positionals, help: true };
      throw new UsageError(`unexpected argument ${JSON.stringify(lenient.positionals[0] ?? '')} for '${spec.name}'; ${seeHelp(spec)}`);
    }
    throw new UsageError(`${(err as Error).message.split('\n')[0]}; ${seeHelp(spec)}`);
  }
  const found = mistake(spec, tokens);
  if (found !== undefined) throw found;
  const flags: Record<string, string | true | string[]> = {};
  let help = false;
  for (const t of tokens) {
    if (t.kind !== 'option') continue;
    if (t.name === HELP_FLAG) {
      help = true;
      continue;
    }
    const flag = spec.flags.find((f) => f.name === t.name)!;
    const v = flag.kind === 'boolean' ? true : t.value!;
    if (flag.repeatable === true) flags[flag.name] = [...((flags[flag.name] as string[] | undefined) ?? []), ...(v === true ? [] : [v])];
    else flags[flag.name] = v;
  }
  return { flags, positionals, help };
}

/** The type a handler sees for one option of the table. */
type FlagValue<F> = F extends { readonly kind: 'boolean' }
  ? boolean
  : F extends { readonly repeatable: true }
    ? readonly string[]
    : F extends { readonly default: string } | { readonly required: true }
      ? string
      : string | undefined;

/** A command's options, typed from its table entry: `opts['data-dir']` is `string | undefined`, `opts.force` a boolean. */
export type OptionValues<S extends CommandSpec> = { readonly [F in S['flags'][number] as F['name']]: FlagValue<F> };

/** What a command's handler receives. */
export interface Parsed<S extends CommandSpec> {
  readonly spec: S;
  readonly opts: OptionValues<S>;
  readonly positionals: readonly string[];
  readonly help: boolean;
}

/**
 * {@link parseArgs}, then the table's defaults and required options: the shared front of every
 * command. With `help`, required options are not checked (the caller prints the help).
 * @throws {UsageError} as parseArgs, and `'CMD' needs --NAME VALUE` for a missing required option.
 */
export function parseCommand<S extends CommandSpec>(spec: S, argv: readonly string[]): Parsed<S> {
  const args = parseArgs(argv, spec);
  const opts: Record<string, string | boolean | readonly string[] | undefined> = {};
  for (const f of spec.flags) {
    const v = args.flags[f.name];
    if (f.kind === 'boolean') opts[f.name] = v === true;
    else if (f.repeatable === true) opts[f.name] = (v as readonly string[] | undefined) ?? (f.default === undefined ? [] : [f.default]);
    else opts[f.name] = (v as string | undefined) ?? f.default;
    if (!args.help && f.required === true && opts[f.name] === undefined) {
      throw new UsageError(`'${spec.name}' needs --${f.name}${placeholder(f)}; ${seeHelp(spec)}`);
    }
  }
  return { spec, opts: opts as OptionValues<S>, positionals: args.positionals, help: args.help };
}
