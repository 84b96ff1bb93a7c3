/**
 * Fuzz target over a live node's trainer API: raw HTTP/1.1 requests written byte by byte on a
 * TCP socket (so they can lie: wrong or doubled Content-Length, bad chunking, bodies longer or
 * shorter than announced, foreign Content-Types, garbage instead of a request line), and a check
 * of each reply against docs/api.md. Shared by test/fuzz.http.multiprocess.test.ts (a small count)
 * and the soak runner bench/fuzz.ts.
 *
 * A finding is:
 * - a refusal (status >= 400) that is not the JSON error `{ "error": { "code", "message" } }`
 *   with a stable code (a bare `400 Bad Request` included);
 * - a reply that quotes the node's bearer token or a server path;
 * - a 2xx to a request the API must refuse (no or wrong token, a foreign Content-Type, a body
 *   that is not what it announced);
 * - no reply at all where the API must answer at once (anything but an authorized aggregate
 *   upload, which legitimately waits for its round, or a body still announced as coming);
 * - and, checked by the caller after the run: the node process died or stopped serving.
 * @module
 */
import fc from 'fast-check';
import { connect } from 'node:net';
import { FuzzFinding } from './fuzz-targets.js';

/** How the body is framed on the wire. */
type Framing = 'exact' | 'short' | 'long' | 'none' | 'chunked' | 'bad-chunked' | 'huge' | 'garbage' | 'double';

export interface HttpCase {
  /** Raw bytes instead of a request (the parser's error path). */
  raw?: Uint8Array;
  method: string;
  path: string;
  query: [string, string][];
  auth: 'right' | 'wrong' | 'none' | 'malformed';
  contentType: string | null;
  framing: Framing;
  body: Uint8Array;
  extraHeaders: [string, string][];
}

const roundIds = fc.oneof(fc.stringMatching(/^fz-[a-z0-9]{1,8}$/), fc.constantFrom('', '..', 'a/b', 'x'.repeat(200), '%00', 'r 1'));
const numberish = fc.oneof(fc.integer({ min: -5, max: 1e9 }).map(String), fc.constantFrom('NaN', 'Infinity', '-0', '1e308', '0x10', '', '1.5', ' 2'));
const queryArb: fc.Arbitrary<[string, string][]> = fc.array(
  fc.oneof(
    roundIds.map((v): [string, string] => ['round', v]),
    numberish.map((v): [string, string] => ['weight', v]),
    numberish.map((v): [string, string] => ['expect', v]),
    fc.constantFrom('mean', 'sum', 'max', '').map((v): [string, string] => ['reduce', v]),
    fc.tuple(fc.stringMatching(/^[a-z]{1,6}$/), fc.string({ maxLength: 10 })),
  ),
  { maxLength: 5 },
);

/** A float32 body of `n` values in [-1, 1] (a plausible update), or random bytes. */
const bodyArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.integer({ min: 0, max: 256 }).map((n) => new Uint8Array(new Float32Array(n).map((_, i) => Math.sin(i + n))).buffer).map((b) => new Uint8Array(b)),
  fc.uint8Array({ maxLength: 1024 }),
  fc.constant(new TextEncoder().encode('[1,2,3,4]')),
);

export const httpCaseArb: fc.Arbitrary<HttpCase> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'),
      path: fc.constantFrom('/v1/aggregate', '/v1/aggregate', '/v1/aggregate', '/healthz', '/v1/status', '/metrics', '/federation', '/transcripts/fz-1', '/transcripts/..%2f..%2fetc', '/audit', '/audit/../../x', '/', '/v1/aggregate/x', '//v1/aggregate', '/%ff'),
      query: queryArb,
      auth: fc.constantFrom('right' as const, 'right' as const, 'wrong' as const, 'none' as const, 'malformed' as const),
      contentType: fc.constantFrom('application/octet-stream', 'application/octet-stream', 'application/json', 'text/plain', 'application/octet-stream; charset=x', 'multipart/form-data', null),
      framing: fc.constantFrom<Framing>('exact', 'exact', 'exact', 'short', 'long', 'none', 'chunked', 'bad-chunked', 'huge', 'garbage', 'double'),
      body: bodyArb,
      extraHeaders: fc.array(
        fc.oneof(
          fc.tuple(fc.constantFrom('x-mpc-round', 'x-mpc-weight', 'x-mpc-expect', 'x-mpc-reduce'), fc.string({ maxLength: 12 }).filter((s) => !/[\r\n\0]/.test(s))),
          fc.tuple(fc.constantFrom('expect'), fc.constantFrom('100-continue')),
          fc.tuple(fc.constantFrom('connection'), fc.constantFrom('close', 'keep-alive', 'upgrade')),
        ),
        { maxLength: 3 },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ raw: fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.constantFrom(...['GET / HTTP/9.9\r\n\r\n', 'GET\r\n\r\n', 'POST /v1/aggregate HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', 'GET /healthz HTTP/1.1\r\nHost: x\r\nX: \u0001\r\n\r\n', `GET /${'a'.repeat(20000)} HTTP/1.1\r\n\r\n`].map((s) => new TextEncoder().encode(s)))) }).map((r) => ({ ...r, method: 'RAW', path: '', query: [], auth: 'none' as const, contentType: null, framing: 'exact' as const, body: new Uint8Array(0), extraHeaders: [] })) },
);

/** The request's bytes; a short read is what a lying client sends before it stops. */
export function requestBytes(c: HttpCase, token: string): Uint8Array {
  if (c.raw) return c.raw;
  const qs = c.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const lines = [`${c.method} ${c.path}${qs ? `?${qs}` : ''} HTTP/1.1`, 'Host: 127.0.0.1'];
  if (c.auth === 'right') lines.push(`Authorization: Bearer ${token}`);
  if (c.auth === 'wrong') lines.push(`Authorization: Bearer ${token.slice(0, -2)}xx`);
  if (c.auth === 'malformed') lines.push('Authorization: Basic Zm9vOmJhcg==');
  if (c.contentType) lines.push(`Content-Type: ${c.contentType}`);
  for (const [k, v] of c.extraHeaders) lines.push(`${k}: ${v}`);
  let body: Uint8Array = c.body;
  switch (c.framing) {
    case 'exact':
      lines.push(`Content-Length: ${body.length}`);
      break;
    case 'short': // announces more than it sends: the server must time the body out, not hang
      lines.push(`Content-Length: ${body.length + 8}`);
      break;
    case 'long': // sends more than it announces: the excess is the next "request"
      lines.push(`Content-Length: ${Math.max(0, body.length - 4)}`);
      break;
    case 'none':
      body = new Uint8Array(0);
      break;
    case 'chunked': {
      lines.push('Transfer-Encoding: chunked');
      const hex = body.length.toString(16);
      body = body.length ? concat(enc(`${hex}\r\n`), body, enc('\r\n0\r\n\r\n')) : enc('0\r\n\r\n');
      break;
    }
    case 'bad-chunked':
      lines.push('Transfer-Encoding: chunked');
      body = concat(enc('zz\r\n'), body);
      break;
    case 'huge':
      lines.push('Content-Length: 99999999999');
      break;
    case 'garbage':
      lines.push('Content-Length: 12abc');
      break;
    case 'double':
      lines.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 4}`);
      break;
  }
  return concat(enc(lines.join('\r\n') + '\r\n\r\n'), body);
}

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const concat = (...p: Uint8Array[]): Uint8Array => Uint8Array.from(p.flatMap((x) => [...x]));

export interface RawReply {
  /** The first reply's status (undefined: none came). */
  status?: number;
  head: string;
  body: Buffer;
  /** The connection ended (by the server) before the timeout. */
  closed: boolean;
}

/** Writes `bytes` on a fresh connection and reads the first reply until the timeout or close. */
export function sendRaw(port: number, bytes: Uint8Array, timeoutMs: number): Promise<RawReply> {
  return new Promise((resolve) => {
    const sock = connect({ host: '127.0.0.1', port });
    const got: Buffer[] = [];
    let closed = false;
    /** The bytes after any interim 1xx replies (100 Continue to an `Expect`). */
    const final = (): Buffer => {
      let all = Buffer.concat(got);
      while (/^HTTP\/1\.1 1\d\d /.test(all.subarray(0, 13).toString('latin1'))) {
        const end = all.indexOf('\r\n\r\n');
        if (end < 0) break;
        all = all.subarray(end + 4);
      }
      return all;
    };
    const done = (): void => {
      clearTimeout(timer);
      sock.destroy();
      const all = final();
      const end = all.indexOf('\r\n\r\n');
      const head = end < 0 ? all.toString('latin1') : all.subarray(0, end).toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      let body = end < 0 ? Buffer.alloc(0) : all.subarray(end + 4);
      const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
      if (cl) body = body.subarray(0, Number(cl[1]));
      resolve({ ...(m ? { status: Number(m[1]) } : {}), head, body, closed });
    };
    const timer = setTimeout(done, timeoutMs);
    sock.on('data', (d: Buffer) => {
      got.push(d);
      const all = final();
      const end = all.indexOf('\r\n\r\n');
      const cl = end < 0 ? null : /\r\ncontent-length: *(\d+)/i.exec(all.subarray(0, end).toString('latin1'));
      if (cl && all.length >= end + 4 + Number(cl[1])) done(); // the first reply is complete
    });
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
      done();
    });
    sock.write(bytes);
  });
}

/** Whether the API may legitimately keep this request waiting past the timeout. */
function mayWait(c: HttpCase): boolean {
  if (c.raw) return false;
  if (c.framing === 'short') return true; // the body timeout answers later
  return c.method === 'POST' && c.path === '/v1/aggregate' && c.auth === 'right';
}

/** Checks one reply; throws a FuzzFinding naming what the API did wrong. */
export function checkReply(c: HttpCase, r: RawReply, secrets: readonly string[]): void {
  const text = r.head + '\n' + r.body.toString('latin1');
  for (const s of secrets) if (s && text.includes(s)) throw new FuzzFinding(`a reply quotes a secret or server path (${s.length} chars)`);
  if (r.status === undefined) {
    if (r.closed && r.head.length > 0) throw new FuzzFinding(`a reply that is not HTTP/1.1: ${JSON.stringify(r.head.slice(0, 60))}`);
    if (!mayWait(c)) throw new FuzzFinding(`no reply to ${describe(c)}${r.closed ? ' (connection closed)' : ' (timed out)'}`);
    return;
  }
  if (r.status >= 400) {
    if (c.method === 'HEAD') return; // a HEAD reply has no body
    let code: unknown;
    try {
      code = (JSON.parse(r.body.toString('utf8')) as { error?: { code?: unknown; message?: unknown } }).error?.code;
    } catch {
      throw new FuzzFinding(`a ${r.status} refusal that is not JSON to ${describe(c)}: ${JSON.stringify(r.body.toString('latin1').slice(0, 60))}`);
    }
    if (typeof code !== 'string' || !/^[A-Z][A-Z0-9_]{2,63}$/.test(code)) throw new FuzzFinding(`a ${r.status} refusal without a stable code to ${describe(c)}`);
    if (r.status >= 500 && !['STORAGE_FAILED', 'PROTOCOL_TIMEOUT', 'NODE_MEMORY_BUDGET', 'MEMORY_BUDGET_EXCEEDED'].includes(code)) throw new FuzzFinding(`an internal error ${r.status} ${code} to ${describe(c)}`);
    return;
  }
  // a success: only for what the API accepts
  if (c.raw) throw new FuzzFinding(`a ${r.status} to raw bytes`);
  const authed = c.auth === 'right';
  const open = ['/healthz', '/federation'].includes(c.path) || c.path.startsWith('/audit') || c.path.startsWith('/transcripts/');
  if (!authed && !open) throw new FuzzFinding(`a ${r.status} without the right token to ${describe(c)}`);
  if (c.method === 'POST' && c.path === '/v1/aggregate') {
    if (c.contentType !== 'application/octet-stream') throw new FuzzFinding(`an aggregate accepted with Content-Type ${c.contentType}`);
    if (!['exact', 'chunked', 'none'].includes(c.framing)) throw new FuzzFinding(`an aggregate accepted with ${c.framing} framing`);
  }
}

function describe(c: HttpCase): string {
  return c.raw ? `raw bytes (${c.raw.length})` : `${c.method} ${c.path} auth=${c.auth} type=${c.contentType} framing=${c.framing} body=${c.body.length}`;
}
