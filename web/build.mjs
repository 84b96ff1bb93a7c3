// Builds the auditor page into dist/web/: index.html, style.css, audit.js (one classic script, no
// imports, so the page also works opened from a file:// URL). The verifier needs no WASM (its
// few field operations use the BigInt reference), so no .wasm is shipped with the page.
import { build } from 'esbuild';
import { copyFile, mkdir, rm } from 'node:fs/promises';
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
    minify: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: quiet ? 'error' : 'info',
  });
  await copyFile(`${root}web/index.html`, `${out}/index.html`);
  await copyFile(`${root}web/style.css`, `${out}/style.css`);
  await rm(`${out}/mpc-field.wasm`, { force: true }); // shipped by earlier builds
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildWeb();
}
