/**
 * `mpc-node demo` as a newcomer runs it: three real node processes, one verified round; the
 * temp folder with the nodes' secret keys and API tokens is removed unless --keep is given.
 * Needs the built CLI (npm test builds it first).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { cliPath } from '../src/node/local-federation.js';

function demo(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cliPath(), 'demo', '--params', '2000', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('mpc-node demo', () => {
  it('runs one verified round and removes its folder (keys, tokens) afterwards', async () => {
    const r = await demo([]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^OK: private aggregation matched/m);
    expect(r.stdout).toMatch(/transcripts verified: \d+ checks passed/);
    const dir = /in (\/\S+mpc-node-demo-\w+)\n/.exec(r.stdout)![1]!;
    expect(existsSync(dir)).toBe(false);
    expect(r.stdout).toContain(`removed ${dir}`);
  }, 120_000);

  it('--keep --json keeps the folder and says where everything is', async () => {
    const r = await demo(['--keep', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { ok: boolean; kept: boolean; dir: string; transcripts: string[]; transcripts_verified: boolean };
    try {
      expect(out).toMatchObject({ ok: true, kept: true, transcripts_verified: true });
      for (const f of out.transcripts) expect(existsSync(f)).toBe(true);
    } finally {
      await rm(out.dir, { recursive: true, force: true });
    }
  }, 120_000);
});
