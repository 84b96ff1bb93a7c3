// Writes schema/federation.schema.json, the JSON Schema of the federation file, generated from
// its zod schema (src/federation/schema.ts) as compiled into dist/ by `npm run build:ts`. Run by
// `npm run build:schema` (part of `npm run build`); test/federation.schema.test.ts checks the
// committed file equals a fresh generation. `--check` fails instead of writing when it differs.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}schema/federation.schema.json`;
const { federationJsonSchemaText } = await import(`${root}dist/src/federation/json-schema.js`);
const text = federationJsonSchemaText();

if (process.argv.includes('--check')) {
  const old = await readFile(out, 'utf8').catch(() => '');
  if (old !== text) {
    console.error(`${out} is out of date: run npm run build:schema`);
    process.exit(1);
  }
} else {
  await mkdir(`${root}schema`, { recursive: true });
  await writeFile(out, text);
  console.log(`wrote ${out}`);
}
