/**
 * The layout rules of docs/architecture.md, checked on the source: the folders of src/ import
 * each other in one direction only (no cycle between folders), the browser-safe rooms import no
 * `node:*` module, and the rooms named there keep out of the ones they must not reach.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The room of a file: its first folder under src/ ('.' for src/index.ts and src/errors.ts). */
function roomOf(file: string): string {
  const rel = relative(SRC, file).split('/');
  return rel.length === 1 ? '.' : rel[0]!;
}

interface Import {
  from: string;
  spec: string;
  to: string | null;
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;
  for (const m of text.matchAll(re)) {
    const spec = (m[1] ?? m[2])!;
    const to = spec.startsWith('.') ? roomOf(resolve(dirname(file), spec)) : null;
    out.push({ from: roomOf(file), spec, to });
  }
  return out;
}

const all = files(SRC);

/** The layer table of docs/architecture.md: room -> layer (a room imports only lower layers). */
function layers(): Map<string, number> {
  const doc = readFileSync(resolve(SRC, '../docs/architecture.md'), 'utf8');
  const m = new Map<string, number>();
  for (const row of doc.matchAll(/^\| (\d+) \| `([a-z-]+)\/` \|/gm)) m.set(row[2]!, Number(row[1]));
  return m;
}
const imports = all.flatMap((f) => importsOf(f).map((i) => ({ ...i, file: relative(SRC, f) })));

/** room -> rooms it imports (other than itself and the root files). */
function roomGraph(): Map<string, Set<string>> {
  const g = new Map<string, Set<string>>();
  for (const i of imports) {
    if (i.to === null || i.to === i.from || i.to === '.') continue;
    if (!g.has(i.from)) g.set(i.from, new Set());
    g.get(i.from)!.add(i.to);
  }
  return g;
}

/** Rooms the browser auditor and the pure protocol are built from: no Node built-ins. */
const BROWSER_SAFE = ['core', 'field', 'dp', 'sharing', 'wire', 'transcript', 'protocol', 'policy', 'federation', 'verifier'];
/** Files of a browser-safe room that are Node-only by design (named in their headers). */
const NODE_ONLY_FILES = new Set(['field/node.ts', 'field/random-node.ts']);

describe('source layout (docs/architecture.md)', () => {
  it('reads a real tree', () => {
    expect(all.length).toBeGreaterThan(40);
    expect(imports.length).toBeGreaterThan(100);
  });

  it('no two folders of src/ import each other, directly or through others', () => {
    const g = roomGraph();
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const path: string[] = [];
    const visit = (r: string): void => {
      if (state.get(r) === 'done') return;
      if (state.get(r) === 'open') {
        cycles.push([...path.slice(path.indexOf(r)), r].join(' -> '));
        return;
      }
      state.set(r, 'open');
      path.push(r);
      for (const n of g.get(r) ?? []) visit(n);
      path.pop();
      state.set(r, 'done');
    };
    for (const r of g.keys()) visit(r);
    expect(cycles).toEqual([]);
  });

  it('every folder of src/ has a layer in docs/architecture.md, and imports only lower layers', () => {
    const L = layers();
    const rooms = [...new Set(all.map(roomOf))].filter((r) => r !== '.');
    expect(rooms.filter((r) => !L.has(r))).toEqual([]);
    const up = imports.filter((i) => i.from !== '.' && i.to !== null && i.to !== '.' && i.to !== i.from && (L.get(i.to) ?? Infinity) >= (L.get(i.from) ?? -1));
    expect(up.map((i) => `${i.file} (layer ${L.get(i.from)}): ${i.spec} (layer ${L.get(i.to!)})`)).toEqual([]);
  });

  it('the trainer client imports no other room but the bottom layer (it ships alone)', () => {
    const bad = imports.filter((i) => i.from === 'client' && i.to !== null && i.to !== 'client' && i.to !== '.' && i.to !== 'core');
    expect(bad.map((i) => `${i.file}: ${i.spec}`)).toEqual([]);
  });

  it('the browser-safe rooms import no node:* module', () => {
    const bad = imports.filter((i) => BROWSER_SAFE.includes(i.from) && !NODE_ONLY_FILES.has(i.file) && (i.spec.startsWith('node:') || ['fs', 'path', 'crypto', 'os'].includes(i.spec)));
    expect(bad.map((i) => `${i.file}: ${i.spec}`)).toEqual([]);
  });

  it('the verifier and the wire codec do not reach into the node, the CLI or the node configuration', () => {
    const bad = imports.filter((i) => (i.from === 'verifier' || i.from === 'wire') && i.to !== null && ['config', 'node', 'cli', 'transport'].includes(i.to));
    expect(bad.map((i) => `${i.file}: ${i.spec}`)).toEqual([]);
  });

  it('the bottom layer (core) imports only itself and the error catalogue', () => {
    const bad = imports.filter((i) => i.from === 'core' && i.to !== null && i.to !== 'core' && i.to !== '.');
    expect(bad.map((i) => `${i.file}: ${i.spec}`)).toEqual([]);
  });

  it('no file in src/ is longer than 400 lines unless its header says why', () => {
    const long = all
      .map((f) => ({ f: relative(SRC, f), text: readFileSync(f, 'utf8') }))
      .filter(({ text }) => text.split('\n').length > 400 && !/^\s*\*\s*Length:/m.test(text.slice(0, 3000)));
    expect(long.map((l) => l.f)).toEqual([]);
  });
});
