/**
 * The package's entry points, resolved the way a user's code resolves them: by the package name
 * through package.json "exports" (Node's self-reference), in a separate Node process on the
 * built dist/. Each must load and offer what docs promise.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

function load(spec: string, expr: string): string {
  const code = `const m = await import(${JSON.stringify(spec)}); console.log(JSON.stringify(${expr}));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`import('${spec}') failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim()) as string;
}

describe('package exports', () => {
  it('mpc-node/verifier: verifyRound and the check names, for auditors embedding the verifier', () => {
    expect(load('mpc-node/verifier', "[typeof m.verifyRound, Array.isArray(m.CHECK_NAMES)].join(',')")).toBe('function,true');
  });
  it('mpc-node, mpc-node/client and mpc-node/field load', () => {
    expect(load('mpc-node', "[typeof m.parseFederation, typeof m.loadFederation, typeof m.RegionNode].join(',')")).toBe('function,function,function');
    expect(load('mpc-node/client', 'typeof m.aggregate')).toBe('function');
    expect(load('mpc-node/field', 'Object.keys(m).length > 0')).toBe(true);
  });
});
