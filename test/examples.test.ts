/**
 * The examples work: a TypeScript trainer and a Python (standard library) trainer in two regions
 * of a real three-node federation get the weighted mean of both updates.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startNodeProcess, waitConnected } from '../src/node/local-federation.js';
import { useFederations } from './support/federation.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HAVE_PYTHON = spawnSync('python3', ['--version']).status === 0;

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const c = spawn(cmd, args, { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

const fx = useFederations('mpc-node-examples-');

describe.skipIf(!HAVE_PYTHON)(`examples/trainer.ts and examples/trainer.py${HAVE_PYTHON ? '' : ' (skipped: no python3 on this machine)'}`, () => {
  it('two regions\' trainers, one in TypeScript and one in Python, both receive the weighted mean', async () => {
    const fed = await fx.federation(['eu', 'us', 'apac'], { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 1000 } });
    for (const r of fed.regions) fx.procs.push(await startNodeProcess(fed, r.id));
    await waitConnected(fed);
    const [eu, us] = fed.regions;
    const common = ['--round', 'epoch-1', '--params', '500', '--weight', '100'];
    const [ts, py] = await Promise.all([
      run(process.execPath, ['dist/examples/trainer.js', '--node', eu!.api, '--token-file', join(eu!.dataDir, 'api-token'), '--seed', '1', ...common]),
      run('python3', ['examples/trainer.py', '--node', us!.api, '--token-file', join(us!.dataDir, 'api-token'), '--seed', '2', ...common]),
    ]);
    expect(ts.stderr).toBe('');
    expect(py.stderr).toBe('');
    // mean_k = (sin(0.01 k + 1) + sin(0.01 k + 2)) / 2 (equal weights); apac had no trainer
    const want = [0, 1, 2, 3].map((k) => (Math.sin(0.01 * k + 1) + Math.sin(0.01 * k + 2)) / 2);
    const printed = (out: string) => (/\[([^\]]*), \.\.\.\]/.exec(out)?.[1] ?? '').split(', ').map(Number);
    expect(ts.stdout).toMatch(/^mean of 2 regions \(eu, us\), total weight 200: \[/);
    expect(py.stdout).toMatch(/^mean of regions eu,us, total weight 200: \[/);
    for (const out of [ts.stdout, py.stdout]) {
      const got = printed(out);
      expect(got).toHaveLength(4);
      got.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThan(1e-4)); // fixed point 2^-16, 6 printed decimals
    }
    expect(ts.code).toBe(0);
    expect(py.code).toBe(0);
  }, 60_000);
});
