/**
 * Help text, generated from the command table (./commands.ts) only: the top-level command list
 * (`mpc-node --help`, `mpc-node help`), a group's subcommands (`mpc-node policy --help`) and a
 * command's usage, options with defaults and positional arguments (`mpc-node CMD --help`,
 * `mpc-node help CMD`: the same text), and the option reference of docs/configuration.md.
 * @module
 */
import { COMMANDS, type CommandSpec, type FlagSpec, type GroupSpec, subcommandsOf } from './commands.js';

/** Top-level help: every command of the table with its usage and summary. */
export function mainHelp(): string {
  return (
    'mpc-node: secure multiparty aggregation of federated-learning updates across regions.\n\n' +
    'Commands:\n' +
    COMMANDS.map((c) => `  mpc-node ${c.usage}\n      ${c.summary}\n`).join('') +
    "\nRun 'mpc-node COMMAND --help' (or 'mpc-node help COMMAND') for a command's options. Configuration: docs/configuration.md\n" +
    'Exit codes: 0 ok, 1 failure, 2 usage error. Set MPC_DEBUG=1 to print stack traces.\n'
  );
}

/** Help of a command group: its subcommands with their summaries. */
export function groupHelp(group: GroupSpec): string {
  const subs = subcommandsOf(group.name);
  const width = Math.max(...subs.map((s) => s.length));
  const specs = subs.map((s) => COMMANDS.find((c) => c.name === `${group.name} ${s}`)!);
  return (
    `Usage: mpc-node ${group.name} ${subs.length === 1 ? specs[0]!.usage.slice(group.name.length + 1) : 'SUBCOMMAND ...'}\n\nSubcommands:\n` +
    specs.map((c, i) => `  ${subs[i]!.padEnd(width)}   ${c.summary}\n`).join('') +
    `\nRun 'mpc-node ${group.name} SUBCOMMAND --help' for options. More: ${group.see}\n`
  );
}

/** `--name VALUE` as shown in help. */
export function flagLabel(f: FlagSpec): string {
  const long = f.kind === 'boolean' ? `--${f.name}` : `--${f.name} ${f.value ?? 'VALUE'}`;
  return f.short === undefined ? long : `-${f.short}, ${long}`;
}

/** The description of an option with its default (or that it is required). */
export function flagDescription(f: FlagSpec): string {
  const notes = [
    ...(f.required === true ? ['required'] : []),
    ...(f.default !== undefined ? [`default: ${f.default}`] : f.defaultNote !== undefined ? [`default: ${f.defaultNote}`] : []),
    ...(f.repeatable === true ? ['may be repeated'] : []),
  ];
  return notes.length === 0 ? f.help : `${f.help} (${notes.join('; ')})`;
}

/** Help text of one command: usage, summary, positional arguments, options, details. */
export function commandHelp(spec: CommandSpec): string {
  const rows: [string, string][] = [...spec.flags.map((f): [string, string] => [flagLabel(f), flagDescription(f)]), ['-h, --help', 'show this help']];
  const operands = spec.operands ?? [];
  const width = Math.max(0, ...rows.map(([l]) => l.length), ...operands.map((o) => o.name.length));
  const lines = [`Usage: mpc-node ${spec.usage}`, '', spec.summary];
  if (operands.length > 0) {
    lines.push('', 'Arguments:');
    for (const o of operands) lines.push(`  ${o.name.padEnd(width)}  ${o.help}`);
  }
  if (spec.details !== undefined) lines.push('', spec.details);
  // a pass-through command's options belong to what it runs (its details say which)
  if (spec.passThrough !== true) {
    lines.push('', 'Options:');
    for (const [l, d] of rows) lines.push(`  ${l.padEnd(width)}  ${d}`);
  }
  return lines.join('\n') + '\n';
}

/**
 * The option reference of docs/configuration.md ("Options of each command"), from the table:
 * test/cli.args.test.ts checks the doc contains exactly this, so the doc cannot drift from it.
 */
export function optionsMarkdown(): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  return COMMANDS.map((c: CommandSpec) => {
    let out = `#### \`mpc-node ${c.name}\`\n\n\`mpc-node ${esc(c.usage)}\`: ${c.summary}\n\n`;
    if ((c.operands?.length ?? 0) > 0) out += c.operands!.map((o) => `- \`${esc(o.name)}\`: ${o.help}\n`).join('') + '\n';
    if (c.passThrough === true) return out + 'Options after the benchmark name are passed to it (e.g. `--json`, `--quick`, `--reps N`).\n';
    out += '| option | default | description |\n| --- | --- | --- |\n';
    for (const f of c.flags) {
      const d = f.required === true ? 'required' : f.default !== undefined ? `\`${f.default}\`` : (f.defaultNote ?? '');
      out += `| \`${esc(flagLabel(f))}\` | ${esc(d)} | ${esc(f.help)} |\n`;
    }
    return out;
  }).join('\n');
}
