/**
 * The auditor page in real Chromium (playwright-core driving the Debian `chromium` package):
 * a real round between three node processes, its transcripts loaded from the node and as files,
 * every check passes; a transcript with one byte flipped inside an entry fails, and the page
 * names the failing check. A version-2 round (a committed vector) shows the version-2 checks and
 * passes, its tampered copy fails. Also: the page works opened from file:// with no network at all.
 *
 * Without /usr/bin/chromium the browser part is skipped (install: apt-get install -y chromium),
 * unless MPC_REQUIRE_BROWSER=1 (set by .ci/run), which makes it fail instead.
 * The /audit route checks need no browser and always run.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type LocalFederation, type NodeProcess } from '../src/node/local-federation.js';
import { buildWeb } from '../web/build.mjs';

/** The Debian package's binary; MPC_CHROMIUM overrides it (e.g. to try the skip path). */
const CHROMIUM = process.env.MPC_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const REQUIRE = process.env.MPC_REQUIRE_BROWSER === '1';
const INSTALL = 'install it with `sudo apt-get install -y chromium` (Debian/Ubuntu), or set MPC_REQUIRE_BROWSER=1 to make its absence an error';
if (!HAVE_CHROMIUM && !REQUIRE) console.warn(`browser.audit.test: ${CHROMIUM} not found, the Chromium tests are skipped: ${INSTALL}`);

const REGIONS = ['eu', 'us', 'apac'];
const ROUND = 'audit-1';

let fed: LocalFederation;
let procs: NodeProcess[] = [];
let dir: string;
let started: Promise<void> | undefined;

/** One real round, shared by both describes (started lazily, so a skipped suite costs nothing). */
function round(): Promise<void> {
  started ??= (async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpc-node-audit-'));
    fed = await writeLocalFederation(dir, REGIONS, { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 300, phaseTimeoutMs: 3000, roundTimeoutMs: 30_000 } });
    procs = await Promise.all(REGIONS.map((r) => startNodeProcess(fed, r)));
    await waitConnected(fed);
    const L = 4000;
    await Promise.all(
      fed.regions.map((r, k) =>
        aggregateDetailed({ node: r.api, token: r.token, round: ROUND, update: Float32Array.from({ length: L }, (_, i) => Math.sin(i * 0.01 + k)), weight: 10 * (k + 1), expect: 1 }),
      ),
    );
  })();
  return started;
}

afterAll(async () => {
  await Promise.all(procs.map((p) => stopNode(p)));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('GET /audit on a node', () => {
  beforeAll(async () => {
    await buildWeb({ quiet: true });
    await round();
  }, 90_000);

  it('redirects /audit to /audit/ and serves only the known files, with their types, without a token', async () => {
    const api = fed.regions[0]!.api;
    const r0 = await fetch(`${api}/audit?round=x`, { redirect: 'manual' });
    expect(r0.status).toBe(301);
    expect(r0.headers.get('location')).toBe('/audit/?round=x');
    const types: Record<string, string> = { '': 'text/html', 'index.html': 'text/html', 'audit.js': 'text/javascript', 'style.css': 'text/css' };
    for (const [name, type] of Object.entries(types)) {
      const r = await fetch(`${api}/audit/${name}`);
      expect(r.status, name).toBe(200);
      expect(r.headers.get('content-type')!.split(';')[0]).toBe(type);
      expect(r.headers.get('content-security-policy')).toContain("script-src 'self';");
      await r.arrayBuffer();
    }
    for (const bad of ['package.json', '..%2fpackage.json', '..%2f..%2fpackage.json', 'audit.js.map', 'mpc-field.wasm', 'index.html/', 'sub/index.html', '__proto__', 'constructor', 'toString']) {
      const r = await fetch(`${api}/audit/${bad}`);
      expect(r.status, bad).toBe(404);
      await r.arrayBuffer();
    }
    // dot segments are resolved before routing: they leave /audit/ and meet the token check
    const up = await fetch(`${api}/audit/%2e%2e/%2e%2e/package.json`);
    expect(up.status).toBe(401);
    await up.arrayBuffer();
    const html = await (await fetch(`${api}/audit/`)).text();
    expect(html).not.toMatch(/https?:\/\//); // nothing from the web: no CDN, no fonts
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
  });
});

// .ci/run sets MPC_REQUIRE_BROWSER=1: there, a missing Chromium is a failed test, not a skip
it.runIf(!HAVE_CHROMIUM && REQUIRE)(`Chromium is required (MPC_REQUIRE_BROWSER=1) at ${CHROMIUM}`, () => {
  throw new Error(`MPC_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: ${INSTALL.split(', or')[0]}`);
});

describe.skipIf(!HAVE_CHROMIUM)(`auditor page in Chromium (${HAVE_CHROMIUM ? CHROMIUM : `skipped without ${CHROMIUM}: ${INSTALL}`})`, () => {
  let ctx: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  beforeAll(async () => {
    await buildWeb({ quiet: true });
    await round();
    const { chromium } = await import('playwright-core');
    profile = await mkdtemp(join(tmpdir(), 'mpc-node-chromium-'));
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 1280, height: 900 },
    });
    page = ctx.pages()[0] ?? (await ctx.newPage());
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
  }, 120_000);

  afterAll(async () => {
    await ctx?.close();
    if (profile) await rm(profile, { recursive: true, force: true });
  });

  async function verdict(): Promise<{ ok: string | null; text: string; checks: { name: string; ok: string; detail: string }[] }> {
    await page.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 30_000 });
    const state = await page.getAttribute('body', 'data-state');
    if (state === 'error') throw new Error(`the page reported: ${await page.textContent('#status')}`);
    return {
      ok: await page.getAttribute('#verdict', 'data-ok'),
      text: (await page.textContent('#verdict')) ?? '',
      checks: await page.$$eval('#checks .check', (lis) => lis.map((li) => ({ name: li.getAttribute('data-name') ?? '', ok: li.getAttribute('data-ok') ?? '', detail: li.querySelector('.detail')?.textContent ?? '' }))),
    };
  }

  async function transcriptFiles(): Promise<string[]> {
    const paths: string[] = [];
    for (const r of fed.regions) {
      const res = await fetch(`${r.api}/transcripts/${ROUND}`);
      expect(res.status, `GET /transcripts/${ROUND} on ${r.id}`).toBe(200);
      // as on the nodes' disks: every region's file of a round has the same name
      await mkdir(join(dir, 'picked', r.id), { recursive: true });
      const p = join(dir, 'picked', r.id, `${ROUND}.jsonl`);
      await writeFile(p, new Uint8Array(await res.arrayBuffer()));
      paths.push(p);
    }
    return paths;
  }

  it('served by a node: loads the federation and the round from it, every check passes', async () => {
    await page.goto(`${fed.regions[0]!.api}/audit`);
    expect(page.url()).toMatch(/\/audit\/$/);
    await page.fill('#round-id', ROUND);
    await page.click('#node-load');
    const v = await verdict();
    expect(v.checks.length).toBeGreaterThan(0);
    expect(v.checks.filter((c) => c.ok !== 'true')).toEqual([]);
    expect(v.ok).toBe('true');
    // the picture: a box per region, arrows with byte counts, the result
    expect(await page.locator('#diagrams .region').count()).toBe(REGIONS.length * 2);
    expect(await page.locator('#diagrams .flow').count()).toBeGreaterThan(0);
    expect(await page.locator('#diagrams .flow-label').first().textContent()).toMatch(/\d+(\.\d+)? (B|kB|MB)/);
    expect(await page.textContent('#result-box')).toContain('digest');
    await page.screenshot({ path: join(dir, 'audit.png'), fullPage: true });
    expect(problems).toEqual([]);
  }, 60_000);

  it('files picked with the file input: all transcripts and the federation, every check passes', async () => {
    const files = await transcriptFiles();
    await page.click('#clear');
    await page.setInputFiles('#files', [fed.config, ...files]);
    const v = await verdict();
    expect(v.checks.filter((c) => c.ok !== 'true')).toEqual([]);
    expect(v.ok).toBe('true');
    expect(await page.locator('#file-list .kind-transcript').count()).toBe(REGIONS.length);
    expect(problems).toEqual([]);
  }, 60_000);

  it('one byte flipped inside an entry: verification fails and the page names the failing check', async () => {
    const [first, ...rest] = await transcriptFiles();
    const text = await readFile(first!, 'utf8');
    const lines = text.split('\n');
    // a hex digit inside the body of the second entry (keeps the line valid JSON)
    const line = lines[1]!;
    const from = Math.max(0, line.indexOf('"body":'));
    const hexRun = /[0-9a-f]{16,}/.exec(line.slice(from));
    expect(hexRun, 'the second entry has a hex field in its body').not.toBeNull();
    const at = from + hexRun!.index + 5;
    lines[1] = line.slice(0, at) + (line[at] === '0' ? '1' : '0') + line.slice(at + 1);
    const tampered = join(dir, 'tampered.jsonl');
    await writeFile(tampered, lines.join('\n'));
    await page.click('#clear');
    await page.setInputFiles('#files', [fed.config, tampered, ...rest]);
    const v = await verdict();
    expect(v.ok).toBe('false');
    const failed = v.checks.filter((c) => c.ok === 'false');
    expect(failed.length).toBeGreaterThan(0);
    for (const c of failed) {
      expect(c.name).not.toBe('');
      expect(v.text).toContain(c.name); // the verdict names it
      await expect(page.locator(`#checks .check[data-ok="false"][data-name="${c.name}"]`).isVisible()).resolves.toBe(true);
    }
    expect(problems).toEqual([]);
  }, 60_000);

  /** A committed transcript vector (test/vectors/transcript/v2/) as files: the federation and every transcript. */
  async function vectorFiles(name: string): Promise<string[]> {
    const vec = JSON.parse(await readFile(join(import.meta.dirname, 'vectors/transcript/v2', `${name}.json`), 'utf8')) as { federation: unknown; transcripts: { name: string; text: string }[] };
    const d = join(dir, 'vectors', name);
    await mkdir(d, { recursive: true });
    const fedPath = join(d, 'federation.json');
    await writeFile(fedPath, JSON.stringify(vec.federation));
    const paths = vec.transcripts.map((t) => join(d, t.name));
    await Promise.all(vec.transcripts.map((t, i) => writeFile(paths[i]!, t.text)));
    return [fedPath, ...paths];
  }

  it('a version-2 round (5 regions, a wrong aggregate share corrected): the version-2 checks are shown and pass; with the check hiding its culprit the page names consistency', async () => {
    await page.click('#clear');
    await page.setInputFiles('#files', await vectorFiles('good_v2_corrected'));
    const v = await verdict();
    expect(v.checks.filter((c) => c.ok !== 'true')).toEqual([]);
    expect(v.ok).toBe('true');
    const detail = (name: string) => v.checks.find((c) => c.name === name)?.detail ?? '';
    expect(detail('dealer-consistency')).toMatch(/decided dealer\(s\) dealt the decided holders shares on one polynomial of degree 2/);
    expect(detail('consistency')).toMatch(/us off it, left out: the result was corrected/);
    expect(detail('fan-in')).toMatch(/combined 3 aggregate shares by the fan-in rule/);
    expect(detail('sealed')).toMatch(/culprit us did not seal/);
    expect(await page.textContent('#diagrams')).toContain('Fan-in');
    // seeds are 32-byte transfers in the deal panel
    expect(await page.locator('#flows tbody td.num', { hasText: /^32$/ }).count()).toBeGreaterThan(0);

    await page.click('#clear');
    await page.setInputFiles('#files', await vectorFiles('bad_v2_check_culprits_consistency'));
    const bad = await verdict();
    expect(bad.ok).toBe('false');
    expect(bad.checks.find((c) => c.name === 'consistency')?.ok).toBe('false');
    expect(bad.text).toContain('consistency');
    await expect(page.locator('#checks .check[data-ok="false"][data-name="consistency"]').isVisible()).resolves.toBe(true);
    expect(problems).toEqual([]);
  }, 60_000);

  it('works offline from the file: dist/web/index.html with every http(s) request refused', async () => {
    const off = await ctx.newPage();
    const requests: string[] = [];
    await off.route(/^(https?|wss?):/, (route) => {
      requests.push(route.request().url());
      return route.abort();
    });
    off.on('pageerror', (e) => problems.push(`page error (file://): ${e.message}`));
    const files = await transcriptFiles();
    await off.goto(pathToFileURL(join(process.cwd(), 'dist/web/index.html')).href);
    expect(await off.isHidden('#node-form')).toBe(true);
    await off.setInputFiles('#files', [fed.config, ...files]);
    await off.waitForSelector('body[data-state="done"], body[data-state="error"]', { timeout: 30_000 });
    expect(await off.getAttribute('#verdict', 'data-ok')).toBe('true');
    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
    await off.close();
  }, 60_000);
});
