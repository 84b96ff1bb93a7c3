/**
 * The mpc-node command line, run for real as a child process from the compiled output
 * (`dist/src/cli/mpc-node.js`; `npm test` builds it first via the "pretest" script), plus
 * in-process tests of the argument parser.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFederation } from '../src/config/federation.js';
import { federationDigestHex } from '../src/federation/index.js';
import { type CommandSpec, UsageError, parseArgs } from '../src/cli/args.js';

const ROOT = resolve(fileURLToPath(new URL('..', import.meta.url)));
const BIN = join(ROOT, 'dist/src/cli/mpc-node.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let cwd: string;
// Each run spawns node (~0.3 s), so spawning tests get a longer timeout than vitest's 5 s default.

function run(args: string[], env: Record<string, string> = {}): Run {
  const { MPC_DEBUG: _drop, ...baseEnv } = process.env;
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, env: { ...baseEnv, ...env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  // Fail with instructions rather than test stale or missing output.
  if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run 'npm run build:ts' (npm test does it via pretest)`);
  const built = statSync(BIN).mtimeMs;
  for (const dir of ['src/cli', 'src/config']) {
    for (const f of readdirSync(join(ROOT, dir))) {
      if (f.endsWith('.ts') && statSync(join(ROOT, dir, f)).mtimeMs > built + 1000) {
        throw new Error(`${dir}/${f} is newer than ${BIN}: run 'npm run build:ts' (npm test does it via pretest)`);
      }
    }
  }
  cwd = await mkdtemp(join(tmpdir(), 'mpc-cli-test-'));
});

afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe('mpc-node: help and usage errors', { timeout: 60_000 }, () => {
  it('prints help listing every command', () => {
    const r = run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['--region ID', 'keygen', 'init', 'config check', 'demo', 'bench', 'verify']) expect(r.stdout).toContain(c);
  });
  it('prints help to stderr and exits 2 without a command', () => {
    const r = run([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Commands:');
  });
  it('has --help for each command', () => {
    for (const args of [['keygen', '--help'], ['init', '-h'], ['config', 'check', '--help'], ['config', '--help'], ['help', 'keygen']]) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toMatch(/Usage: mpc-node/);
    }
  });
  it('exits 2 on an unknown command, suggesting the nearest', () => {
    const r = run(['kegen']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("mpc-node: unknown command 'kegen' (did you mean 'keygen'?); run 'mpc-node --help' for the list\n");
    expect(run(['frobnicate']).stderr).toMatch(/^mpc-node: unknown command 'frobnicate'; run 'mpc-node --help'/);
  });
  it('exits 2 on an unknown flag, suggesting the nearest', () => {
    const r = run(['keygen', '--regoin', 'eu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("mpc-node: unknown flag --regoin for 'keygen' (did you mean --region?); see 'mpc-node keygen --help'\n");
  });
  it('exits 2 on a missing value, a missing required flag, a repeated flag and a stray argument', () => {
    const cases: [string[], string][] = [
      [['keygen', '--region'], 'mpc-node: --region needs a value: --region ID'],
      [['keygen', '--region', '--force'], 'mpc-node: --region needs a value: --region ID'],
      [['keygen'], "mpc-node: 'keygen' needs --region ID"],
      [['keygen', '--region', 'eu', '--region', 'us'], 'mpc-node: --region given more than once'],
      [['keygen', '--region', 'eu', '--force=yes'], 'mpc-node: --force is a switch and takes no value'],
      [['keygen', '--region', 'eu', 'extra'], 'mpc-node: unexpected argument "extra" for \'keygen\''],
      [['keygen', '--region', 'EU'], 'mpc-node: --region "EU" is not a valid region id'],
      [['config', 'lint'], "mpc-node: unknown subcommand 'config lint'"],
      [['--regoin', 'eu'], 'mpc-node: unknown option "--regoin"'],
      [['init', '--regions', 'eu'], 'mpc-node: --regions needs at least 2 regions'],
      [['init', '--regions', 'eu,eu'], 'mpc-node: --regions lists "eu" twice'],
    ];
    for (const [args, msg] of cases) {
      const r = run(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.startsWith(msg), `${args.join(' ')}: ${r.stderr}`).toBe(true);
    }
  });
  it('prints no stack trace unless MPC_DEBUG=1', () => {
    const quiet = run(['config', 'check', '--config', 'missing.json']);
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toMatch(/^mpc-node: missing\.json: cannot read federation file: no such file/);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    const loud = run(['config', 'check', '--config', 'missing.json'], { MPC_DEBUG: '1' });
    expect(loud.code).toBe(1);
    expect(loud.stderr).toMatch(/\n\s+at /);
  });
  it('bench: lists the benchmarks and refuses an unknown one', () => {
    const help = run(['bench', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/field .*\n.*round .*\n.*verify /s);
    const bad = run(['bench', 'nope']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^mpc-node: unknown benchmark 'nope': use one of field, round, verify/);
  });
});

describe('mpc-node keygen', { timeout: 60_000 }, () => {
  it('writes a 0600 identity and prints its public key, never the secret', async () => {
    const r = run(['keygen', '--region', 'eu', '--endpoint', 'wss://eu.example.com:7101']);
    expect(r.code).toBe(0);
    const path = join(cwd, 'mpc-data/eu/identity.json');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(cwd, 'mpc-data/eu'))).mode & 0o777).toBe(0o700);
    const file = JSON.parse(await readFile(path, 'utf8')) as { region: string; publicKey: string; secretKey: string };
    expect(Object.keys(file).sort()).toEqual(['publicKey', 'region', 'secretKey']);
    expect(file.region).toBe('eu');
    expect(bytesToHex(ed25519.getPublicKey(hexToBytes(file.secretKey)))).toBe(file.publicKey);
    const [first, ...snippet] = r.stdout.split('\n');
    expect(first).toBe(file.publicKey);
    expect(JSON.parse(snippet.join('\n'))).toEqual({
      id: 'eu',
      jurisdiction: 'EU',
      endpoint: 'wss://eu.example.com:7101',
      publicKey: file.publicKey,
      api: { host: '127.0.0.1', port: 7201 },
    });
    expect(r.stdout + r.stderr).not.toContain(file.secretKey);
    expect(r.stderr).toContain('mode 0600');
  });

  it('refuses to overwrite an identity, and replaces it with --force', async () => {
    const path = join(cwd, 'mpc-data/eu/identity.json');
    const before = await readFile(path, 'utf8');
    const r = run(['keygen', '--region', 'eu']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^mpc-node: .*identity\.json already exists; refusing to overwrite an identity key .* Pass --force to replace it\n$/);
    expect(await readFile(path, 'utf8')).toBe(before);
    const forced = run(['keygen', '--region', 'eu', '--force']);
    expect(forced.code).toBe(0);
    const after = await readFile(path, 'utf8');
    expect(after).not.toBe(before);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('writes to --out and rejects --out with --data-dir', async () => {
    const r = run(['keygen', '--region', 'us-east', '--out', 'keys/us.json']);
    expect(r.code).toBe(0);
    expect((await stat(join(cwd, 'keys/us.json'))).mode & 0o777).toBe(0o600);
    const both = run(['keygen', '--region', 'us', '--out', 'a.json', '--data-dir', 'd']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('either --out or --data-dir');
  });
});

describe('mpc-node init and config check', { timeout: 60_000 }, () => {
  it('writes a template that fails validation until keys are filled in, then passes', async () => {
    const init = run(['init', '--out', 'fed.json', '--regions', 'eu,us,apac', '--name', 'acme-fl']);
    expect(init.code).toBe(0);
    expect(init.stderr).toContain('mpc-node keygen --region us');
    const template = JSON.parse(await readFile(join(cwd, 'fed.json'), 'utf8')) as { threshold: number; regions: { id: string; publicKey: string }[] };
    expect(template.threshold).toBe(2);

    const bad = run(['config', 'check', '--config', 'fed.json']);
    expect(bad.code).toBe(1);
    // every problem at once
    expect(bad.stderr).toBe(
      'mpc-node: fed.json: 3 problems:\n' +
        template.regions.map((r, i) => `  regions[${i}].publicKey: still the placeholder from 'mpc-node init': run 'mpc-node keygen --region ${r.id}' on the ${r.id} node and paste the publicKey it prints here\n`).join(''),
    );

    // Refuses to overwrite without --force.
    const again = run(['init', '--out', 'fed.json']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists; pass --force');

    // Each region runs keygen; its printed key goes into the file.
    for (const r of template.regions) {
      const k = run(['keygen', '--region', r.id, '--data-dir', `nodes/${r.id}`]);
      expect(k.code).toBe(0);
      r.publicKey = k.stdout.split('\n')[0]!;
    }
    await writeFile(join(cwd, 'fed.json'), JSON.stringify(template, null, 2));
    const ok = run(['config', 'check', '--config', 'fed.json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('fed.json: OK');
    expect(ok.stdout).toContain('threshold   2 of 3 regions');
    expect(ok.stdout).toContain(`digest      ${federationDigestHex(await loadFederation(join(cwd, 'fed.json')))}`);
    expect(ok.stderr).toBe('');

    // With --region, the node's identity file is checked against its entry.
    const mine = run(['config', 'check', '--config', 'fed.json', '--region', 'us', '--data-dir', 'nodes/us']);
    expect(mine.code, mine.stderr).toBe(0);
    expect(mine.stdout).toContain("matches region 'us'");
    const wrong = run(['config', 'check', '--config', 'fed.json', '--region', 'us', '--data-dir', 'nodes/eu']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("is the identity of region 'eu', not 'us'");
    expect(wrong.stdout).toBe('');
    const missing = run(['config', 'check', '--config', 'fed.json', '--region', 'apac', '--data-dir', 'nowhere']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("create it with 'mpc-node keygen --region apac'");
    const unknown = run(['config', 'check', '--config', 'fed.json', '--region', 'mars']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown region "mars"');
  });

  it('reports an invalid file with its path and the field', async () => {
    await writeFile(join(cwd, 'typo.json'), JSON.stringify({ federation: 'x', version: 1, treshold: 2, regions: [] }));
    const r = run(['config', 'check', '--config', 'typo.json']);
    expect(r.code).toBe(1);
    // the typo first, then what it causes
    expect(r.stderr).toMatch(/^mpc-node: typo\.json: \d+ problems:\n {2}treshold: unknown key "treshold" \(did you mean "threshold"\?\)/);
    expect(r.stderr).toMatch(/^ {2}threshold: missing/m);
  });
});

describe('parseArgs', () => {
  const SPEC: CommandSpec = {
    name: 'demo-cmd',
    summary: 's',
    usage: 'demo-cmd',
    flags: [
      { name: 'out', kind: 'string', value: 'PATH', help: '' },
      { name: 'force', kind: 'boolean', help: '' },
    ],
    positionals: true,
  };
  it('accepts --name value, --name=value, switches and --', () => {
    expect(parseArgs(['--out', 'a', '--force', 'p'], SPEC)).toEqual({ flags: { out: 'a', force: true }, positionals: ['p'], help: false });
    expect(parseArgs(['--out=a=b'], SPEC).flags).toEqual({ out: 'a=b' });
    expect(parseArgs(['--', '--force'], SPEC)).toEqual({ flags: {}, positionals: ['--force'], help: false });
    expect(parseArgs(['-h'], SPEC).help).toBe(true);
  });
  it('throws UsageError for mistakes', () => {
    expect(() => parseArgs(['--out='], SPEC)).toThrow(UsageError);
    expect(() => parseArgs(['-o', 'x'], SPEC)).toThrow(/options are spelled --name/);
    expect(() => parseArgs(['p'], { ...SPEC, positionals: false })).toThrow(/unexpected argument "p"/);
  });
});
