/**
 * The command table (src/cli/commands.ts) drives parsing and help: every command has help that
 * names each of its options, `help CMD`, `CMD --help` and `CMD -h` print the same text, and the
 * node:util parseArgs errors come out in the CLI's words (did-you-mean, "needs a value", no
 * stack, no parseArgs wording). Run in-process through main(); no command is executed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseArgs, parseCommand, UsageError } from '../src/cli/args.js';
import { COMMANDS, GROUPS, commandSpec, subcommandsOf, type CommandSpec } from '../src/cli/commands.js';
import { commandHelp, mainHelp, optionsMarkdown } from '../src/cli/help.js';
import { runCli } from './support/cli.js';

const run = runCli;

const TABLE: readonly CommandSpec[] = COMMANDS;
const words = (c: CommandSpec): string[] => c.name.split(' ');

describe('the command table', () => {
  it('names every command once, and each option once per command', () => {
    expect(new Set(TABLE.map((c) => c.name)).size).toBe(TABLE.length);
    for (const c of TABLE) {
      expect(new Set(c.flags.map((f) => f.name)).size, c.name).toBe(c.flags.length);
      expect(c.flags.map((f) => f.name), c.name).not.toContain('help');
      expect(c.usage.startsWith(c.name) || c.usage.startsWith(`[${c.name}]`), c.name).toBe(true);
      for (const f of c.flags) expect(f.default === undefined || f.defaultNote === undefined, `${c.name} --${f.name}`).toBe(true);
    }
  });
  it('every group has subcommands in the table', () => {
    for (const g of GROUPS) expect(subcommandsOf(g.name).length, g.name).toBeGreaterThan(0);
  });
});

describe('help generated from the table', () => {
  it('the top-level help lists every command with its summary, from --help, -h and help alike', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(mainHelp());
    for (const c of TABLE) {
      expect(r.stdout).toContain(`mpc-node ${c.usage}\n`);
      expect(r.stdout).toContain(c.summary);
    }
    expect((await run(['-h'])).stdout).toBe(r.stdout);
    expect((await run(['help'])).stdout).toBe(r.stdout);
  });
  it('every command has help, the same from `help CMD`, `CMD --help` and `CMD -h`', async () => {
    for (const c of TABLE) {
      const viaFlag = await run([...words(c), '--help']);
      expect(viaFlag.code, c.name).toBe(0);
      expect(viaFlag.stderr, c.name).toBe('');
      expect(viaFlag.stdout.startsWith(`Usage: mpc-node ${c.usage}\n`), c.name).toBe(true);
      expect(viaFlag.stdout, c.name).toBe(commandHelp(c));
      expect((await run(['help', ...words(c)])).stdout, `help ${c.name}`).toBe(viaFlag.stdout);
      expect((await run([...words(c), '-h'])).stdout, `${c.name} -h`).toBe(viaFlag.stdout);
    }
  });
  it("a command's help names each of its options with its value, default and description", async () => {
    for (const c of TABLE) {
      const { stdout } = await run([...words(c), '--help']);
      expect(stdout, c.name).toContain(c.summary);
      for (const f of c.flags) {
        const line = stdout.split('\n').find((l) => l.trimStart().startsWith(`--${f.name}${f.kind === 'string' ? ` ${f.value ?? 'VALUE'}` : ''} `));
        expect(line, `${c.name} --${f.name}`).toBeDefined();
        expect(line, `${c.name} --${f.name}`).toContain(f.help);
        if (f.default !== undefined) expect(line).toContain(`default: ${f.default}`);
        if (f.defaultNote !== undefined) expect(line).toContain(`default: ${f.defaultNote}`);
        if (f.required === true) expect(line).toContain('required');
      }
      for (const o of c.operands ?? []) expect(stdout, c.name).toContain(o.name);
    }
  });
  it('a group lists its subcommands, the same from `help GROUP` and `GROUP --help`', async () => {
    for (const g of GROUPS) {
      const r = await run([g.name, '--help']);
      expect(r.code).toBe(0);
      for (const s of subcommandsOf(g.name)) expect(r.stdout).toContain(commandSpec(`${g.name} ${s}` as 'config check').summary);
      expect((await run(['help', g.name])).stdout).toBe(r.stdout);
    }
  });
});

describe('option errors in the CLI’s words', () => {
  it('an unknown option suggests the nearest, for every option of every command', async () => {
    for (const c of TABLE) {
      if (c.passThrough === true) continue;
      for (const f of c.flags) {
        const r = await run([...words(c), `--${f.name}x`]);
        expect(r.code, `${c.name} --${f.name}x`).toBe(2);
        expect(r.stderr).toBe(`mpc-node: unknown flag --${f.name}x for '${c.name}' (did you mean --${f.name}?); see 'mpc-node ${c.name} --help'\n`);
      }
    }
    expect((await run(['status', '--frobnicate'])).stderr).toBe("mpc-node: unknown flag --frobnicate for 'status'; see 'mpc-node status --help'\n");
  });
  it('a missing option value names the option and what to write, for every string option', async () => {
    for (const c of TABLE) {
      for (const f of c.flags.filter((x) => x.kind === 'string')) {
        const want = `mpc-node: --${f.name} needs a value: --${f.name} ${f.value ?? 'VALUE'}`;
        for (const argv of [[...words(c), `--${f.name}`], [...words(c), `--${f.name}=`], [...words(c), `--${f.name}`, '--help']]) {
          const r = await run(argv);
          expect(r.code, argv.join(' ')).toBe(2);
          expect(r.stderr.startsWith(want), `${argv.join(' ')}: ${r.stderr}`).toBe(true);
        }
      }
    }
    expect((await run(['demo', '--params', '-5'])).stderr).toContain('written --params=-5');
  });
  it('a missing required option names it', async () => {
    for (const c of TABLE) {
      const f = c.flags.find((x) => x.required === true);
      if (f === undefined) continue;
      const r = await run([...words(c), ...(c.name === 'verify' ? ['t.jsonl'] : [])]);
      expect(r.code, c.name).toBe(2);
      expect(r.stderr, c.name).toBe(`mpc-node: '${c.name}' needs --${f.name} ${f.value}; see 'mpc-node ${c.name} --help'\n`);
    }
  });
  it('never shows parseArgs wording or a stack', async () => {
    for (const argv of [['keygen', '--region', '--force'], ['keygen', '-x'], ['init', 'stray'], ['init', '--force=1'], ['status', '--json', '--json']]) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(/^mpc-node: [^\n]*\n$/);
      expect(r.stderr).not.toMatch(/ERR_PARSE_ARGS|Unknown option|ambiguous|\n\s+at /);
    }
  });
  it('unknown commands and subcommands suggest the nearest', async () => {
    expect((await run(['verfy'])).stderr).toBe("mpc-node: unknown command 'verfy' (did you mean 'verify'?); run 'mpc-node --help' for the list\n");
    expect((await run(['help', 'kegen'])).stderr).toContain("(did you mean 'keygen'?)");
    const r = await run(['policy', 'grnt']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("mpc-node: unknown subcommand 'policy grnt' (did you mean 'policy grant'?): use 'policy authority-keygen' or 'policy grant'\n");
  });
});

describe('parseCommand', () => {
  it('applies the defaults of the table and types the options', () => {
    const p = parseCommand(commandSpec('init'), ['--name', 'acme']);
    expect(p.opts).toEqual({ out: 'federation.json', regions: 'eu,us,apac', name: 'acme', force: false });
    expect(parseCommand(commandSpec('keygen'), ['--help']).help).toBe(true); // no "needs --region" with --help
  });
  it('collects a repeatable option and refuses repeating any other', () => {
    const spec = { name: 't', summary: '', usage: 't', flags: [{ name: 'peer', kind: 'string', value: 'ID', help: '', repeatable: true }, { name: 'x', kind: 'string', help: '' }] } as const satisfies CommandSpec;
    expect(parseCommand(spec, ['--peer', 'a', '--peer=b']).opts.peer).toEqual(['a', 'b']);
    expect(parseCommand(spec, []).opts.peer).toEqual([]);
    expect(() => parseArgs(['--x', '1', '--x', '2'], spec)).toThrow(new UsageError('--x given more than once'));
  });
  it('accepts a short alias from the table', () => {
    const spec = { name: 't', summary: '', usage: 't', flags: [{ name: 'out', short: 'o', kind: 'string', value: 'PATH', help: '' }] } as const satisfies CommandSpec;
    expect(parseCommand(spec, ['-o', 'f']).opts.out).toBe('f');
    expect(commandHelp(spec)).toContain('-o, --out PATH');
  });
});

describe('the docs agree with the table', () => {
  const doc = (p: string): string => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  it('docs/configuration.md lists every command with its usage and holds the option reference generated from the table', () => {
    const conf = doc('docs/configuration.md');
    for (const c of TABLE) expect(conf, c.name).toContain(`| \`mpc-node ${esc(c.usage)}\``);
    expect(conf).toContain(optionsMarkdown());
  });
  it('README.md names every command', () => {
    const readme = doc('README.md');
    for (const c of TABLE) expect(readme, c.name).toContain(`mpc-node ${c.name === 'start' ? '--region' : c.name}`);
  });
  it('every `mpc-node CMD --option` example in README.md and docs/ uses options of that command', () => {
    const docs = readdirSync(new URL('../docs', import.meta.url)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
    for (const file of ['README.md', ...docs]) {
      for (const line of doc(file).split('\n')) {
        const m = /mpc-node((?: [a-z][a-z-]*){0,2})([^`|#'"]*)/.exec(line);
        if (m === null) continue;
        const spec = findSpec(m[1]!.trim());
        if (spec === undefined || spec.passThrough === true) continue;
        for (const [, name] of (m[2] ?? '').matchAll(/--([a-z][a-z-]*)/g)) {
          if (name === 'help') continue;
          expect(spec.flags.map((f) => f.name), `${file}: ${line.trim()}`).toContain(name);
        }
      }
    }
  });
});

/** The table entry a doc line's `mpc-node WORDS` refers to (`mpc-node --region` is start). */
function findSpec(words: string): CommandSpec | undefined {
  const [a, b] = words.split(' ');
  return TABLE.find((c) => c.name === `${a} ${b}`) ?? TABLE.find((c) => c.name === a) ?? (words === '' ? TABLE.find((c) => c.name === 'start') : undefined);
}
