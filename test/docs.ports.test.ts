/**
 * The addresses in the docs and examples are the ones of the example federation file in
 * docs/configuration.md: a snippet that uses region R's token (mpc-data/R/...) talks to R's API
 * port, so a reader who copies the commands reaches the right node.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const read = (p: string) => readFileSync(new URL(`../${p}`, import.meta.url), 'utf8');

function examplePorts(): Map<string, number> {
  const conf = read('docs/configuration.md');
  const json = /```jsonc?\n(\{[\s\S]*?\n\})\n```/.exec(conf)![1]!;
  const fed = JSON.parse(json.replace(/^\s*\/\/.*$/gm, '')) as { regions: { id: string; api?: { port?: number } }[] };
  return new Map(fed.regions.map((r) => [r.id, r.api!.port!]));
}

/** Paragraphs and code blocks: the unit within which a token and an address belong together. */
function snippets(text: string): string[] {
  return text.split(/\n\s*\n|```/);
}

describe('addresses in the docs', () => {
  it('every snippet using region R\'s data dir and an API address uses R\'s API port from the example federation', () => {
    const ports = examplePorts();
    expect(ports.size).toBeGreaterThanOrEqual(3);
    const apiPorts = new Set(ports.values());
    const files = ['README.md', ...readdirSync(new URL('../docs', import.meta.url)).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`), ...readdirSync(new URL('../examples', import.meta.url)).filter((f) => /\.(py|ts|md)$/.test(f)).map((f) => `examples/${f}`)];
    const wrong: string[] = [];
    let checked = 0;
    for (const f of files) {
      for (const s of snippets(read(f))) {
        const regions = new Set([...s.matchAll(/mpc-data\/([a-z0-9-]+)\//g)].map((m) => m[1]!));
        const used = [...s.matchAll(/https?:\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
        for (const p of used) if (!apiPorts.has(p)) wrong.push(`${f}: API address port ${p} is no region's api.port`);
        if (regions.size !== 1 || used.length === 0) continue;
        const [r] = regions;
        checked++;
        for (const p of used) if (p !== ports.get(r!)) wrong.push(`${f}: region ${r}'s token with port ${p} (${r}'s api.port is ${ports.get(r!)})`);
      }
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(2);
  });
});
