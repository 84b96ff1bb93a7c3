/**
 * The auditor page (web/, built into dist/web/ by `npm run build:web`), served read-only by every
 * node's trainer API at /audit: no token, only the known files, never a path from the request.
 * @module
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/** The only files served under /audit/, with their content types. */
export const AUDIT_ASSETS: Readonly<Record<string, string>> = Object.freeze({
  'index.html': 'text/html; charset=utf-8',
  'audit.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
});

/** Same policy as the page's meta tag, plus what only a header can say. */
export const AUDIT_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** dist/web/ from src/node (tests run TS) or dist/src/node (built / installed). */
export function auditDir(): string | undefined {
  for (const rel of ['../../dist/web/', '../../web/']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${p}index.html`) && existsSync(`${p}audit.js`)) return p;
  }
  return undefined;
}

/** True if `pathname` is the auditor's (then the response has been sent). */
export async function serveAudit(pathname: string, search: string, res: ServerResponse): Promise<boolean> {
  if (pathname !== '/audit' && !pathname.startsWith('/audit/')) return false;
  if (pathname === '/audit') {
    // relative asset URLs in index.html need the trailing slash
    res.writeHead(301, { location: `/audit/${search}`, 'content-length': 0 });
    res.end();
    return true;
  }
  const name = pathname.slice('/audit/'.length) || 'index.html';
  const type = Object.hasOwn(AUDIT_ASSETS, name) ? AUDIT_ASSETS[name] : undefined;
  const dir = auditDir();
  if (!type || !dir) {
    const msg = !type ? `no such file: /audit/ serves ${Object.keys(AUDIT_ASSETS).join(', ')}` : 'the auditor page is not built: run `npm run build:web`';
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(msg) });
    res.end(msg);
    return true;
  }
  let body: Buffer;
  try {
    body = await readFile(dir + name);
  } catch {
    const msg = `the auditor page is incomplete (${name} missing): run \`npm run build:web\``;
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(msg) });
    res.end(msg);
    return true;
  }
  res.writeHead(200, {
    'content-type': type,
    'content-length': body.length,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': AUDIT_CSP,
  });
  res.end(body);
  return true;
}
