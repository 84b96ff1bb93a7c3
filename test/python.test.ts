/**
 * The Python side, run by `npm test`: pytest over clients/python/tests (the `mpc_node` client)
 * and examples/fedavg-pytorch/tests (the FedAvg example against real node processes), with the
 * Debian interpreter /usr/bin/python3 (torch, numpy, scikit-learn, matplotlib, pytest). Every
 * pytest case becomes one vitest case here, so the CI count includes them: the cases are listed
 * with `pytest --collect-only` when this file loads, the suite runs once, and each case reads
 * its outcome from pytest's JUnit XML.
 *
 * Without that interpreter or its packages the cases are skipped (with the reason), unless
 * MPC_REQUIRE_PYTHON=1 (set by .ci/run), which makes it fail instead.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The Debian interpreter; MPC_PYTHON overrides it (e.g. to try the skip path). */
const PYTHON = process.env.MPC_PYTHON ?? '/usr/bin/python3';
const REQUIRE = process.env.MPC_REQUIRE_PYTHON === '1';
const SUITES = ['clients/python/tests', 'examples/fedavg-pytorch/tests'];
const MODULES = ['torch', 'torchvision', 'sklearn', 'numpy', 'matplotlib', 'pytest'];
const INSTALL = 'install them with `sudo apt-get install -y python3-torch python3-torchvision python3-sklearn python3-numpy python3-matplotlib python3-pytest` (Debian)';
const ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1' };

/** Why the Python tests cannot run here, or null. */
function missing(): string | null {
  const r = spawnSync(PYTHON, ['-c', `import ${MODULES.join(', ')}`], { encoding: 'utf8' });
  if (r.error) return `${PYTHON} not found`;
  if (r.status !== 0) return `${PYTHON} lacks a package (${r.stderr.trim().split('\n').pop()})`;
  return null;
}

/** pytest node ids of every case, e.g. clients/python/tests/test_core.py::test_x[a]. */
function collect(): string[] {
  const r = spawnSync(PYTHON, ['-m', 'pytest', '--collect-only', '-q', '-p', 'no:cacheprovider', ...SUITES], { cwd: ROOT, encoding: 'utf8', env: ENV });
  if (r.status !== 0) throw new Error(`pytest --collect-only failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l.includes('::'));
}

interface Outcome {
  status: 'passed' | 'failed' | 'skipped';
  detail: string;
}

const unescape = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#10;/g, '\n').replace(/&amp;/g, '&');

/** Outcome per node id from pytest's JUnit XML (classname is the file path, dotted, without .py). */
function parseJunit(xml: string): Map<string, Outcome> {
  const out = new Map<string, Outcome>();
  for (const m of xml.matchAll(/<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const attrs = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((a) => [a[1]!, unescape(a[2]!)]));
    const body = m[2] ?? '';
    const bad = /<(failure|error)\b([^>]*)>([\s\S]*?)<\/\1>|<(failure|error)\b([^>]*)\/>/.exec(body);
    const status = bad ? 'failed' : /<skipped\b/.test(body) ? 'skipped' : 'passed';
    out.set(`${attrs.classname}::${attrs.name}`, { status, detail: bad ? unescape(bad[3] ?? bad[5] ?? bad[2] ?? '') : '' });
  }
  return out;
}

/** The JUnit key of a node id: clients/python/tests/test_core.py::test_x -> clients.python.tests.test_core::test_x. */
const keyOf = (id: string) => {
  const [file, ...rest] = id.split('::');
  return `${file!.replace(/\.py$/, '').replace(/\//g, '.')}::${rest.join('::')}`;
};

const why = missing();
if (why && !REQUIRE) console.warn(`python.test: ${why}, the Python tests are skipped: ${INSTALL}, or set MPC_REQUIRE_PYTHON=1 to make their absence an error`);

describe.runIf(why !== null && REQUIRE)('Python trainers (required by MPC_REQUIRE_PYTHON=1)', () => {
  it('has /usr/bin/python3 with torch, torchvision, sklearn, numpy, matplotlib and pytest', () => {
    expect.fail(`${why}: ${INSTALL}`);
  });
});

describe.runIf(why === null)('Python trainers: pytest of clients/python and examples/fedavg-pytorch', () => {
  const ids = why === null ? collect() : [];
  let results = new Map<string, Outcome>();
  let log = '';
  let dir = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpc-node-pytest-'));
    const xml = join(dir, 'junit.xml');
    const code = await new Promise<number | null>((resolve) => {
      const c = spawn(PYTHON, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', `--junitxml=${xml}`, ...SUITES], { cwd: ROOT, env: ENV });
      c.stdout.on('data', (d: Buffer) => (log += d.toString()));
      c.stderr.on('data', (d: Buffer) => (log += d.toString()));
      c.once('exit', resolve);
    });
    try {
      results = parseJunit(await readFile(xml, 'utf8'));
    } catch {
      throw new Error(`pytest wrote no JUnit XML (exit ${code}):\n${log.slice(-4000)}`);
    }
  }, 20 * 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('collects the client and example suites', () => {
    expect(ids.some((id) => id.startsWith('clients/python/tests/'))).toBe(true);
    expect(ids.some((id) => id.startsWith('examples/fedavg-pytorch/tests/'))).toBe(true);
  });

  for (const id of ids) {
    it(id, (ctx) => {
      const r = results.get(keyOf(id));
      if (!r) expect.fail(`pytest reported no outcome for ${id}:\n${log.slice(-4000)}`);
      if (r.status === 'failed') expect.fail(r.detail.slice(0, 8000));
      if (r.status === 'skipped') ctx.skip();
      expect(r.status).toBe('passed');
    });
  }
});
