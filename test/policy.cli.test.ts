/**
 * `mpc-node policy authority-keygen` and `mpc-node policy grant`, run in-process through
 * main() with captured output (the spawned-binary tests live in test/cli.test.ts).
 */
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.js';
import { loadFederation } from '../src/config/federation.js';
import { verifyGrant, type Grant } from '../src/policy/index.js';
import { withPolicy } from './support/federation-file.js';

const run = runCli;

let dir: string;
let fedPath: string;
let authPath: string;
let authPk: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mpc-policy-cli-'));
  authPath = join(dir, 'authority.json');
  const r = await run(['policy', 'authority-keygen', '--out', authPath]);
  expect(r.code).toBe(0);
  authPk = r.stdout.trim();
  fedPath = join(dir, 'federation.json');
  await writeFile(fedPath, JSON.stringify(withPolicy({ regions: { eu: { classification: 'personal', shareTo: ['APAC'] } }, authority: authPk })));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('mpc-node policy authority-keygen', () => {
  it('writes a 0600 key file and prints only the public key', async () => {
    expect(authPk).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(authPath)).mode & 0o777).toBe(0o600);
    const j = JSON.parse(await readFile(authPath, 'utf8')) as { kind: string; publicKey: string; secretKey: string };
    expect(j.kind).toBe('mpc-node policy authority');
    expect(j.publicKey).toBe(authPk);
    const again = await run(['policy', 'authority-keygen', '--out', authPath]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists; refusing to overwrite the authority key');
    expect(again.stdout + again.stderr).not.toContain(j.secretKey);
  });
});

describe('mpc-node policy grant', () => {
  it('prints a signed grant that the federation accepts once pasted in', async () => {
    const r = await run(['policy', 'grant', '--authority-key', authPath, '--config', fedPath, '--from', 'eu', '--to', 'US', '--not-before', '2026-01-01', '--not-after', '2026-12-31']);
    expect(r.code, r.stderr).toBe(0);
    const g = JSON.parse(r.stdout) as Grant;
    expect(g).toMatchObject({
      federation: 'acme-fl',
      id: 'eu-to-US-until-2026-12-31',
      flow: { from: 'eu', toJurisdiction: 'US' },
      notBefore: '2026-01-01T00:00:00Z',
      notAfter: '2026-12-31T23:59:59Z',
    });
    expect(r.stderr).toContain('add this grant to "policy": { "grants": [ ... ] }');
    const p2 = join(dir, 'federation-with-grant.json');
    await writeFile(p2, JSON.stringify(withPolicy({ regions: { eu: { shareTo: ['APAC'] } }, authority: authPk, grants: [g] })));
    const fed = await loadFederation(p2);
    expect(verifyGrant(fed, fed.policy.grants[0]!, Date.parse('2026-07-01T00:00:00Z'))).toEqual({ ok: true });
    expect(verifyGrant(fed, fed.policy.grants[0]!, Date.parse('2027-01-01T00:00:00Z'))).toMatchObject({ ok: false, code: 'expired' });
  });
  it('signs a grant to one region with --to-region and a given --id, without the federation file', async () => {
    const r = await run(['policy', 'grant', '--authority-key', authPath, '--federation', 'acme-fl', '--from', 'eu', '--to-region', 'us', '--not-after', '2026-12-31T12:00:00Z', '--id', 'audit-42']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ id: 'audit-42', flow: { from: 'eu', toRegion: 'us' }, notAfter: '2026-12-31T12:00:00Z' });
  });
  it('refuses a key that is not the federation\'s authority', async () => {
    const other = join(dir, 'other.json');
    expect((await run(['policy', 'authority-keygen', '--out', other])).code).toBe(0);
    const r = await run(['policy', 'grant', '--authority-key', other, '--config', fedPath, '--from', 'eu', '--to', 'US', '--not-after', '2026-12-31']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not the federation's policy.authority");
    expect(r.stdout).toBe('');
  });
  it('refuses a flow the federation does not know', async () => {
    const r = await run(['policy', 'grant', '--authority-key', authPath, '--config', fedPath, '--from', 'eu', '--to', 'CN', '--not-after', '2026-12-31']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('flow.toJurisdiction "CN" is the jurisdiction of no region');
  });
  it('refuses an authority key file that others can read', async () => {
    await chmod(authPath, 0o644);
    try {
      const r = await run(['policy', 'grant', '--authority-key', authPath, '--config', fedPath, '--from', 'eu', '--to', 'US', '--not-after', '2026-12-31']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('run: chmod 600');
    } finally {
      await chmod(authPath, 0o600);
    }
  });
  it('reports usage errors with exit code 2', async () => {
    const cases: [string[], string][] = [
      [['policy', 'grant', '--authority-key', authPath, '--from', 'eu', '--not-after', '2026-12-31'], 'exactly one of --to JURISDICTION and --to-region ID'],
      [['policy', 'grant', '--authority-key', authPath, '--from', 'eu', '--to', 'US', '--not-after', '31/12/2026'], '--not-after "31/12/2026" is not a date'],
      [['policy', 'grant', '--authority-key', authPath, '--from', 'eu', '--to', 'US', '--not-before', '2027-01-01', '--not-after', '2026-12-31'], 'is before the start of validity'],
      [['policy', 'frobnicate'], "unknown subcommand 'policy frobnicate'"],
      [['policy', 'grant', '--from', 'eu', '--to', 'US', '--not-after', '2026-12-31', '--federation', 'x'], 'needs --authority-key PATH'],
    ];
    for (const [argv, msg] of cases) {
      const r = await run(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr).toContain(msg);
    }
  });
  it('lists the policy commands in the main help', async () => {
    const r = await run(['--help']);
    for (const c of ['policy grant', 'policy authority-keygen', 'prune', 'status']) expect(r.stdout).toContain(c);
  });
});
