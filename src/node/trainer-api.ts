/**
 * The trainer-facing HTTP API of a region node (loopback by default, bearer credentials). Beyond
 * loopback it is HTTPS only (src/node/tls.ts), where a verified client certificate is a trainer's
 * credential too (mTLS, `--tls-client-ca`).
 *
 *   POST /v1/aggregate?round=ID&weight=W&reduce=mean|sum[&expect=N]
 *        Authorization: Bearer <token>; Content-Type: application/octet-stream
 *        [x-mpc-idempotency-key: KEY]
 *        body: the update as raw little-endian float32
 *     200: body = the aggregate as raw little-endian float32;
 *          headers x-mpc-total-weight, x-mpc-contributors, x-mpc-holders, x-mpc-round
 *     4xx/5xx: JSON { "error": { "code", "message" } }
 *   GET /healthz            -> { ok, region, peersConnected }   (no token)
 *   GET /v1/status          -> the node's view (right `read`)
 *   GET /metrics            -> Prometheus text format 0.0.4 (right `read`; src/node/metrics.ts)
 *   GET /transcripts/ROUND  -> the round's transcript, application/x-ndjson (no token)
 *   GET /federation         -> the federation file as the node read it (no token)
 *
 * The last two are public and read-only: a transcript holds only digests, signatures and public
 * round metadata (docs/transcript.md), and the federation file is shared by every region anyway.
 * They carry `access-control-allow-origin: *` so the browser auditor page can fetch them.
 *   GET /audit, /audit/<file> -> the auditor page (no token; src/node/audit-assets.ts)
 *
 * Who may do what is the role of the caller's credential ({@link TrainerApi.authenticate},
 * src/node/credentials.ts RIGHTS): POST /v1/aggregate needs `aggregate` (trainer, operator),
 * the node's views need `read` (auditor, operator); a wrong role is 403 API_FORBIDDEN. Every
 * request that needs a credential is logged (`api-request`) with the credential's name, never
 * its token; the trainer's pseudonymous id goes into the round's transcript.
 *
 * Documented with a curl example in docs/api.md. Errors never echo update values.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { MpcError } from '../errors.js';
import type { AggregateAnswer, RegionNode, UpdateUpload } from './region-node.js';
import { transcriptPath } from './transcript-file.js';
import { isRoundId, ROUND_ID_RULE } from '../core/ids.js';
import { serveAudit } from './audit-assets.js';
import { noteMoved } from './gc-pacer.js';
import { checkUpdateLength, maxUpdateBytes } from './trainer-intake.js';
import { bodyChunks, DEFAULT_BODY_TIMEOUT_MS, DEFAULT_UNSIZED_BODY_BYTES, streamExact, UnsizedBodies } from './upload-body.js';
import { MANIFEST_LIMITS } from '../core/tensor-manifest.js';
import { readTensorsHead, TENSORS_MEDIA_TYPE } from './tensor-upload.js';
import { writeAnswer } from './answer-stream.js';
import type { Socket } from 'node:net';
import { mayDo, SHARED_CREDENTIAL, type CredentialStore, type Principal, type Right } from './credentials.js';
import type { Logger } from './node-options.js';
import { IDEMPOTENCY_HEADER, IDEMPOTENCY_KEY_RE } from './submissions.js';
import { peerCertificateIdentity, requireTlsBeyondLoopback, type ServerTls } from './tls.js';

const STATUS: Record<string, number> = {
  API_UNAUTHORIZED: 401,
  API_FORBIDDEN: 403,
  API_DUPLICATE_UPDATE: 409,
  API_BAD_REQUEST: 400,
  API_NOT_FOUND: 404,
  WIRE_TOO_LARGE: 413,
  FIELD_LENGTH_MISMATCH: 400,
  ENCODE_NOT_FINITE: 400,
  ENCODE_OUT_OF_BOUND: 400,
  PROTOCOL_TIMEOUT: 504,
  // the round aborted under the policy, like the PROTOCOL_* aborts (409)
  POLICY_FLOW_REFUSED: 409,
  POLICY_MIN_TRAINERS: 409,
  // too many rounds open at once: retry when one ends
  POLICY_ROUNDS_IN_FLIGHT: 429,
  // the node's memory budget is in use by other rounds: retry later
  RESOURCE_MEMORY_BUDGET: 503,
  STORAGE_CONFLICT: 409,
  STORAGE_FAILED: 500,
  API_UNSUPPORTED_MEDIA_TYPE: 415,
  API_BODY_TIMEOUT: 408,
  API_LENGTH_REQUIRED: 411,
  API_HEADERS_TOO_LARGE: 431,
};

/** The reason phrases of the statuses written straight to a socket (replies to unparsable requests). */
const REASON: Record<number, string> = { 400: 'Bad Request', 408: 'Request Timeout', 431: 'Request Header Fields Too Large' };

/**
 * The update being read on a connection. Bytes that follow its body and do not parse as a
 * request (a body longer than its Content-Length) make the HTTP parser fail on that connection:
 * while the update is not committed it is refused (never counted); once committed, its answer is
 * still sent, and the connection is closed after it.
 */
interface UploadOnSocket {
  committed: boolean;
  refused: MpcError | undefined;
}
const uploads = new WeakMap<Socket, UploadOnSocket>();

/** The name prefix of a client certificate's principal (never a credential name: those have no `:`). */
const CERT_PREFIX = 'cert:';

/** The right each credentialed route needs (others answer 404 to any credential). */
const ROUTE_RIGHTS: Record<string, Right> = { 'GET /v1/status': 'read', 'GET /metrics': 'read', 'POST /v1/aggregate': 'aggregate' };

export interface TrainerApiOptions {
  node: RegionNode;
  /** The credentials the API accepts (the node's api-token among them). */
  credentials: CredentialStore;
  /** Where each credentialed request is logged (event `api-request`). */
  log?: Logger;
  host: string;
  port: number;
  /** The node's transcripts directory, served read-only at GET /transcripts/ROUND. */
  transcriptsDir?: string;
  /** The federation file's text as read from disk, served at GET /federation (default: the parsed form). */
  federationFile?: string;
  /** Idle time allowed between two chunks of an update body (default DEFAULT_BODY_TIMEOUT_MS). */
  bodyTimeoutMs?: number;
  /** Bytes of bodies of unknown length held at once, node-wide (default DEFAULT_UNSIZED_BODY_BYTES). */
  unsizedBodyBytes?: number;
  /** Serve HTTPS with these files, reloaded when they change; required beyond loopback. */
  tls?: ServerTls;
}

export class TrainerApi {
  private server: Server | HttpsServer | undefined;
  private readonly unsized: UnsizedBodies;
  /** @throws {ConfigError} CONFIG_TLS_REQUIRED for a host beyond loopback without `tls`. */
  constructor(private readonly o: TrainerApiOptions) {
    requireTlsBeyondLoopback(o.host, o.tls);
    this.unsized = new UnsizedBodies(o.unsizedBodyBytes ?? DEFAULT_UNSIZED_BODY_BYTES);
  }

  async start(): Promise<{ port: number }> {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const tls = this.o.tls;
    const server = tls ? createHttpsServer(tls.serverOptions(), handler) : createServer(handler);
    server.requestTimeout = 0; // a round may take minutes; deadlines are the protocol's
    server.headersTimeout = 30_000;
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => clientError(err, socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => resolve());
    });
    // a rotated certificate is presented from the next handshake on
    tls?.watch((ctx) => (server as HttpsServer).setSecureContext(ctx));
    const addr = server.address();
    return { port: typeof addr === 'object' && addr ? addr.port : this.o.port };
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.o.tls?.close();
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /**
   * Who sent `req`: the credential its bearer token stands for (name and role), else its verified
   * client certificate (a trainer named `cert:<CN or sha256:fingerprint>`), else undefined. The
   * one place a request is authenticated.
   * @throws {MpcError} API_UNAUTHORIZED for a client certificate that does not verify, whatever else the request carries.
   */
  authenticate(req: IncomingMessage): Principal | undefined {
    const cert = peerCertificateIdentity(req);
    const m = /^Bearer (\S{1,512})$/.exec(req.headers.authorization ?? '');
    const byToken = m ? this.o.credentials.authenticate(m[1]!) : undefined;
    return byToken ?? (cert ? { name: `${CERT_PREFIX}${cert.name}`, role: cert.role } : undefined);
  }

  /** Refuses a request without a known credential, or whose role lacks the route's right. @throws {MpcError} API_UNAUTHORIZED, API_FORBIDDEN. */
  private admit(who: Principal | undefined, route: string): asserts who is Principal {
    if (!who) {
      const cert = this.o.tls?.mutual ? ", or a client certificate issued by the node's --tls-client-ca" : '';
      throw new MpcError('API_UNAUTHORIZED', `missing, wrong or revoked bearer token: send "Authorization: Bearer <token>" (a credential from 'mpc-node credential add', or the node data dir api-token file)${cert}`);
    }
    const right = ROUTE_RIGHTS[route];
    if (right && !mayDo(who.role, right)) throw new MpcError('API_FORBIDDEN', `credential '${who.name}' has the role ${who.role}, which may not use ${route}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // set once the request reached the credential check: then its outcome is logged
    let attributed: { route: string; who: Principal | undefined } | undefined;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && url.pathname === '/healthz') {
        const s = this.o.node.status();
        return json(res, 200, { ok: true, region: s.region, peersConnected: s.peersConnected });
      }
      // the auditor page (read-only, no token): see src/node/audit-assets.ts
      if (req.method === 'GET' && (await serveAudit(url.pathname, url.search, res))) return;
      if (req.method === 'GET' && url.pathname === '/federation') {
        const body = this.o.federationFile ?? JSON.stringify(this.o.node.federation);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'access-control-allow-origin': '*' });
        return void res.end(body);
      }
      if (req.method === 'GET' && url.pathname.startsWith('/transcripts/')) return await this.transcript(res, decodeURIComponent(url.pathname.slice('/transcripts/'.length)));
      const route = `${req.method} ${url.pathname}`;
      const who = this.authenticate(req);
      attributed = { route: ROUTE_RIGHTS[route] ? route : `${req.method} (other)`, who };
      this.admit(who, route);
      if (req.method === 'GET' && url.pathname === '/v1/status') return json(res, 200, this.o.node.status());
      if (req.method === 'GET' && url.pathname === '/metrics') {
        const body = await this.o.node.metrics.metricsText();
        res.writeHead(200, { 'content-type': this.o.node.metrics.contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
        res.end(body);
        return;
      }
      if (req.method === 'POST' && url.pathname === '/v1/aggregate') return await this.aggregate(req, res, url, who);
      throw new MpcError('API_NOT_FOUND', `no route ${req.method} ${url.pathname}: use POST /v1/aggregate`);
    } catch (e) {
      const err = e instanceof MpcError ? e : new MpcError('API_BAD_REQUEST', (e as Error).message);
      // a connection whose request stream is not clean (a body cut or stalled, bytes after it) is closed after the reply
      const close = err.code === 'API_BODY_TIMEOUT' || err.code === 'API_LENGTH_REQUIRED' || uploads.get(req.socket)?.refused !== undefined || !req.complete;
      if (!res.headersSent) json(res, STATUS[err.code] ?? (err.code.startsWith('PROTOCOL') ? 409 : 400), { error: { code: err.code, message: err.message } }, close ? { connection: 'close' } : {});
      else res.destroy();
    } finally {
      res.once('finish', () => {
        if (attributed) this.o.log?.({ event: 'api-request', route: attributed.route, credential: attributed.who?.name ?? null, role: attributed.who?.role ?? null, status: res.statusCode });
        const up = uploads.get(req.socket);
        if (up && (up.refused || up.committed && !req.socket.readable)) req.socket.destroy();
        uploads.delete(req.socket);
      });
    }
  }

  private async transcript(res: ServerResponse, round: string): Promise<void> {
    const dir = this.o.transcriptsDir;
    if (!isRoundId(round)) return json(res, 400, { error: { code: 'API_BAD_REQUEST', message: ROUND_ID_RULE } });
    let body: Buffer;
    try {
      if (!dir) throw Object.assign(new Error('no transcripts'), { code: 'ENOENT' });
      body = await readFile(transcriptPath(dir, round));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return json(res, 404, { error: { code: 'API_NOT_FOUND', message: `no transcript of round ${round} on this node` } }, { 'access-control-allow-origin': '*' });
    }
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': body.length, 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
    res.end(body);
  }

  private async aggregate(req: IncomingMessage, res: ServerResponse, url: URL, who: Principal): Promise<void> {
    const q = (k: string): string | undefined => url.searchParams.get(k) ?? (req.headers[`x-mpc-${k}`] as string | undefined);
    const round = q('round');
    if (!round) throw new MpcError('API_BAD_REQUEST', 'missing round (query ?round=ID or header x-mpc-round)');
    const weight = Number(q('weight') ?? '1');
    const reduce = q('reduce') ?? 'mean';
    if (reduce !== 'mean' && reduce !== 'sum') throw new MpcError('API_BAD_REQUEST', `reduce must be 'mean' or 'sum', got ${JSON.stringify(reduce.slice(0, 16))}`);
    const expectRaw = q('expect');
    const expect = expectRaw === undefined ? undefined : Number(expectRaw);
    if (expect !== undefined && (!Number.isInteger(expect) || expect < 1)) throw new MpcError('API_BAD_REQUEST', 'expect must be a positive integer');
    // the media type first: a JSON array or a form is never read as float32
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/octet-stream' && type !== TENSORS_MEDIA_TYPE) {
      throw new MpcError('API_UNSUPPORTED_MEDIA_TYPE', `Content-Type must be application/octet-stream (the update as raw little-endian float32) or ${TENSORS_MEDIA_TYPE} (named tensors), got ${type ? JSON.stringify(type.slice(0, 64)) : 'none'}`);
    }
    const cfg = this.o.node.federation.round;
    const maxBytes = maxUpdateBytes(cfg);
    const timeoutMs = this.o.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
    if (type === TENSORS_MEDIA_TYPE) return this.aggregateTensors(req, res, { round, weight, reduce, expect, who, timeoutMs });
    const len = Number(req.headers['content-length'] ?? NaN);
    // refused before a byte of the body is read: the node's one length rule, on the announced length
    if (len > maxBytes) checkUpdateLength(cfg, Math.ceil(len / 4));
    // A body of announced length (Content-Length, or x-mpc-params on a chunked body) streams
    // straight into WASM memory as it arrives; one of unknown length is gathered first, within
    // the node-wide UnsizedBodies budget.
    const announced = q('params');
    const known = Number.isSafeInteger(len) && len >= 0;
    if (!known && announced !== undefined) {
      const n = Number(announced);
      if (!Number.isSafeInteger(n)) throw new MpcError('API_BAD_REQUEST', 'x-mpc-params must be the number of float32 values in the body');
      checkUpdateLength(cfg, n);
    }
    const pre = known || announced !== undefined ? null : await this.unsized.gather(req, maxBytes, timeoutMs, (b) => checkUpdateLength(cfg, Math.ceil(b / 4)));
    let upload: UpdateUpload;
    let pending: Promise<AggregateAnswer>;
    try {
      const bytes = known ? len : pre ? pre.total : Number(announced) * 4;
      if (bytes % 4 !== 0) throw new MpcError('API_BAD_REQUEST', `body of ${bytes} bytes is not a whole number of float32 values`);
      upload = this.o.node.submit({ round, params: bytes / 4, weight, reduce, ...(expect !== undefined ? { expect } : {}), trainer: this.trainerOf(req, who) });
      ({ answer: pending } = await this.receive(req, upload, async (take) => {
        if (pre) for (const c of pre.chunks) take(c);
        else await streamExact(bodyChunks(req, timeoutMs), bytes, take);
      }));
    } finally {
      if (pre) this.unsized.release(pre.chunks);
    }
    await this.answer(res, round, upload, await pending);
  }

  /**
   * POST /v1/aggregate with Content-Type TENSORS_MEDIA_TYPE: u32 little-endian manifest length,
   * the manifest (src/core/tensor-manifest.ts), then the float32 values of its tensors in order.
   * The manifest is read first and checked; the values then stream like a plain update.
   */
  private async aggregateTensors(req: IncomingMessage, res: ServerResponse, o: { round: string; weight: number; reduce: 'mean' | 'sum'; expect: number | undefined; who: Principal; timeoutMs: number }): Promise<void> {
    const cfg = this.o.node.federation.round;
    const len = Number(req.headers['content-length'] ?? NaN);
    if (!Number.isSafeInteger(len) || len < 4) throw new MpcError('API_LENGTH_REQUIRED', `a ${TENSORS_MEDIA_TYPE} body needs its Content-Length`);
    if (len > maxUpdateBytes(cfg) + 4 + MANIFEST_LIMITS.maxBytes) checkUpdateLength(cfg, Math.ceil(len / 4));
    const body = bodyChunks(req, o.timeoutMs);
    const { manifest, bytes, rest } = await readTensorsHead(body, len);
    checkUpdateLength(cfg, bytes / 4);
    const upload = this.o.node.submit({ round: o.round, params: bytes / 4, weight: o.weight, reduce: o.reduce, ...(o.expect !== undefined ? { expect: o.expect } : {}), trainer: this.trainerOf(req, o.who), manifest });
    const { answer } = await this.receive(req, upload, (take) => streamExact(body, bytes, take, rest));
    await this.answer(res, o.round, upload, await answer, { 'x-mpc-manifest-digest': manifest.digest });
  }

  /**
   * Streams an update's body into `upload` (`stream` hands every chunk to its `take`) and commits
   * it; bytes after the body that do not parse as a request refuse it while it is uncommitted.
   * @returns the answer to come (wrapped, so it is not awaited here).
   */
  private async receive(req: IncomingMessage, upload: UpdateUpload, stream: (take: (b: Buffer) => void) => Promise<void>): Promise<{ answer: Promise<AggregateAnswer> }> {
    const inFlight: UploadOnSocket = { committed: false, refused: undefined };
    uploads.set(req.socket, inFlight);
    const take = (b: Buffer): void => {
      if (inFlight.refused) throw inFlight.refused;
      upload.write(b);
      noteMoved(b.length);
      b.fill(0); // secret: trainer input
    };
    try {
      await stream(take);
      // the parser may still be reading what followed the body in the same packet
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (inFlight.refused) throw inFlight.refused;
      const answer = upload.commit();
      inFlight.committed = true;
      return { answer };
    } catch (e) {
      upload.abort();
      throw e;
    }
  }

  /** Writes the aggregate to the trainer, with the round's headers. */
  private async answer(res: ServerResponse, round: string, upload: UpdateUpload, answer: AggregateAnswer, extra: Record<string, string> = {}): Promise<void> {
    try {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': answer.params * 4,
        'x-mpc-round': round,
        'x-mpc-total-weight': String(answer.totalWeight),
        'x-mpc-contributors': answer.contributors.join(','),
        'x-mpc-holders': answer.holders.join(','),
        // this trainer's own update: 1, or clipL2 / its norm when it was clipped
        'x-mpc-clip-factor': String(Number((upload.clipFactor ?? 1).toPrecision(6))),
        ...extra,
      });
      await writeAnswer(res, answer);
    } finally {
      answer.release();
    }
  }

  /**
   * The submitting trainer: its pseudonymous id, and the slot that deduplicates its uploads
   * (src/node/submissions.ts): the id itself for a named credential (one update per round), the
   * id with the idempotency key for the shared api-token (no slot without a key).
   * @throws {MpcError} API_BAD_REQUEST for a malformed idempotency key.
   */
  private trainerOf(req: IncomingMessage, who: Principal): { id: string; slot?: string } {
    const id = this.o.credentials.pseudonym(who.name);
    const key = req.headers[IDEMPOTENCY_HEADER];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY_RE.test(key))) throw new MpcError('API_BAD_REQUEST', `${IDEMPOTENCY_HEADER} must be 1-128 characters of A-Z a-z 0-9 . _ : -`);
    if (who.name !== SHARED_CREDENTIAL) return { id, slot: id };
    return key === undefined ? { id } : { id, slot: `${id}\0${key}` };
  }
}

/**
 * A request the HTTP parser could not read (malformed, headers too large, timed out): the JSON
 * error of docs/api.md, written straight to the socket, then the connection is closed. Bytes that
 * follow an update's body are the update's business (see UploadOnSocket).
 */
function clientError(err: NodeJS.ErrnoException, socket: Socket): void {
  const up = uploads.get(socket);
  if (up) {
    if (!up.committed) up.refused = new MpcError('API_BAD_REQUEST', 'bytes after the body that are not an HTTP request (a body longer than its Content-Length?): the update was not counted');
    return; // the update's own reply follows, then the connection is closed
  }
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'API_HEADERS_TOO_LARGE', 'request headers are too large'] as const
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'API_BODY_TIMEOUT', 'the request headers did not arrive in time'] as const
    : [400, 'API_BAD_REQUEST', `not a valid HTTP/1.1 request (${/^[A-Z_]{1,40}$/.test(err.code ?? '') ? err.code : 'parse error'})`] as const;
  const body = JSON.stringify({ error: { code, message } });
  socket.end(`HTTP/1.1 ${status} ${REASON[status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const s = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(s), ...headers });
  res.end(s);
}
