// Builds the auditor page into dist/web/: index.html, style.css, audit.js (one classic script, no
// imports, so the page also works opened from a file:// URL) and mpc-field.wasm.
import { build } from 'esbuild';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/web`;

export async function buildWeb({ quiet = false } = {}) {
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [`${root}web/audit.ts`],
    outfile: `${out}/audit.js`,
    bundle: true,
    // ES module scripts do not load from file:// in Chromium (origin "null"), so the bundle is a
    // self-contained classic script (esm in, iife out).
    format: 'iife',
    platform: 'browser',
    target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
    // embedded, so that field arithmetic works offline from a file:// URL too
    loader: { '.wasm': 'binary' },
    // the field loader's Node-only branch (file: URLs) is never taken in a browser
    external: ['node:*'],
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'info',
  });
  await copyFile(`${root}web/index.html`, `${out}/index.html`);
  await copyFile(`${root}web/style.css`, `${out}/style.css`);
  if (existsSync(`${root}build/mpc-field.wasm`)) await copyFile(`${root}build/mpc-field.wasm`, `${out}/mpc-field.wasm`);
  const js = await readFile(`${out}/audit.js`, 'utf8');
  if (/\bimport\s*\(|^import\s/m.test(js) && !quiet) console.warn('dist/web/audit.js still contains an import: it will not run from file://');
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildWeb();
}
