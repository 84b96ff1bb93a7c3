/**
 * The trainer's client: `aggregate()` hands a model update to its region's node and resolves
 * with the global aggregate once the round is over.
 *
 * Every call names its upload with an idempotency key (the caller's, or a random one), so it can
 * be sent again safely: when the connection fails before any byte of the answer arrived (a
 * keep-alive socket the node had just closed: ECONNRESET), the call retries once, with the same
 * key, and the node counts the update once (docs/api.md "Idempotent submissions").
 * @module
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { MpcError, type ErrorCode } from '../errors.js';

export interface AggregateOptions {
  /** The region node's trainer API, e.g. http://127.0.0.1:7201 or https://mpc.eu.example.com:7201 */
  node: string | URL;
  /** Bearer token (the node's data dir api-token file); may be left out when `cert` and `key` identify the trainer. */
  token?: string;
  /** https: only. The CA that issued the node's certificate (PEM text, or the path of a PEM file); default: the system's CAs. */
  ca?: string | Buffer;
  /** https: only. This trainer's client certificate (PEM text or path), for a node started with --tls-client-ca. */
  cert?: string | Buffer;
  /** https: only. The private key of `cert` (PEM text or path). */
  key?: string | Buffer;
  /** Round id shared by every trainer of the round, e.g. 'epoch-7'. */
  round: string;
  update: Float32Array;
  /** Weight of this update (e.g. its number of examples). Default 1. */
  weight?: number;
  /** 'mean' (weighted mean over every contributing trainer) or 'sum' (weighted sum). Default 'mean'. */
  reduce?: 'mean' | 'sum';
  /** This region's node starts the round once this many of its trainers have submitted. */
  expect?: number;
  /**
   * Names this upload (1-128 of `A-Z a-z 0-9 . _ : -`), sent as `x-mpc-idempotency-key`: a call
   * repeated with the same key and update joins the first one's answer instead of counting
   * twice. Default: a random UUID per call (so the call's own retry is deduplicated).
   */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface AggregateResult {
  vector: Float32Array;
  totalWeight: number;
  contributors: string[];
  /**
   * The factor the node scaled this update by: 1, or round.clipL2 / the update's L2 norm when
   * the norm was above clipL2 (see docs/api.md "Clipping"). Below 1, consider a lower learning
   * rate, or a larger clipL2 in the federation file.
   */
  clipFactor: number;
}

/** A refusal or failure reported by the node; `code` is from the catalogue in docs/errors.md. */
export class AggregateError extends MpcError {
  readonly status: number;
  constructor(code: ErrorCode, message: string, status: number) {
    super(code, message);
    this.status = status;
  }
}

/**
 * @returns the aggregate as a Float32Array (see `aggregateDetailed` for metadata).
 * @throws {AggregateError} with the node's error code (round aborted, below minimum
 *   contributors, parameter mismatch, timeout, bad input).
 * @example
 * const mean = await aggregate({ node: 'http://127.0.0.1:7201', token, round: 'epoch-7', update, weight: 1200 });
 */
export async function aggregate(o: AggregateOptions): Promise<Float32Array> {
  return (await aggregateDetailed(o)).vector;
}

export async function aggregateDetailed(o: AggregateOptions): Promise<AggregateResult> {
  if (!(o.update instanceof Float32Array)) throw new TypeError('"update" expected Float32Array');
  const url = new URL('/v1/aggregate', o.node);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`"node" must be an http: or https: URL, got ${url.protocol}`);
  url.searchParams.set('round', o.round);
  url.searchParams.set('weight', String(o.weight ?? 1));
  url.searchParams.set('reduce', o.reduce ?? 'mean');
  if (o.expect !== undefined) url.searchParams.set('expect', String(o.expect));
  const tls = await tlsOptions(o, url);
  const body = Buffer.from(o.update.buffer, o.update.byteOffset, o.update.byteLength);
  const key = o.idempotencyKey ?? randomUUID();
  try {
    return await postOnce(url, o, body, key, tls);
  } catch (e) {
    // nothing of an answer arrived (a reused keep-alive socket the node had closed): once more, same key
    if (!(e instanceof NoAnswer) || o.signal?.aborted) throw e instanceof NoAnswer ? e.error : e;
    try {
      return await postOnce(url, o, body, key, tls);
    } catch (again) {
      throw again instanceof NoAnswer ? again.error : again;
    }
  }
}

/** The request failed before any byte of the answer arrived: safe to send again under the same key. */
class NoAnswer extends Error {
  constructor(readonly error: AggregateError) {
    super(error.message);
  }
}

/** One POST of the update. @throws {NoAnswer} wrapping the error when no response byte was received. */
function postOnce(url: URL, o: AggregateOptions, body: Buffer, key: string, tls: Awaited<ReturnType<typeof tlsOptions>>): Promise<AggregateResult> {
  // node:http rather than fetch: the update goes out as one write from its own memory and the
  // answer lands in one Float32Array of the announced length (measured in bench/RESULTS.md)
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<AggregateResult>((resolve, reject) => {
    let answered = false;
    const req: ClientRequest = send(
      url,
      {
        method: 'POST',
        headers: { ...(o.token !== undefined ? { authorization: `Bearer ${o.token}` } : {}), 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-mpc-idempotency-key': key },
        ...(o.signal ? { signal: o.signal } : {}),
        ...tls,
      },
      (res) => {
        answered = true;
        const status = res.statusCode ?? 0;
        res.on('error', (e) => reject(new AggregateError('TRANSPORT_CLOSED', `the node at ${url.origin} closed the answer: ${e.message}`, status)));
        if (status !== 200) {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.length < 64 && parts.push(c));
          res.on('end', () => reject(errorOf(status, Buffer.concat(parts).toString('utf8'))));
          return;
        }
        const len = Number(res.headers['content-length']);
        if (!Number.isSafeInteger(len) || len % 4 !== 0) {
          res.resume();
          reject(new AggregateError('WIRE_MALFORMED', 'aggregate body is not a whole number of float32 values', status));
          return;
        }
        const vector = new Float32Array(len / 4);
        const dst = new Uint8Array(vector.buffer);
        let got = 0;
        res.on('data', (c: Buffer) => {
          if (got + c.length <= len) dst.set(c, got);
          got += c.length;
        });
        res.on('end', () => {
          if (got !== len) return reject(new AggregateError('WIRE_MALFORMED', `aggregate body of ${got} bytes, announced ${len}`, status));
          resolve({
            vector,
            totalWeight: Number(res.headers['x-mpc-total-weight']),
            contributors: String(res.headers['x-mpc-contributors'] ?? '').split(',').filter(Boolean),
            clipFactor: res.headers['x-mpc-clip-factor'] === undefined ? 1 : Number(res.headers['x-mpc-clip-factor']),
          });
        });
      },
    );
    req.on('error', (e) => {
      const err = new AggregateError('TRANSPORT_CLOSED', `cannot reach the node at ${url.origin}: ${e.message}`, 0);
      reject(answered || e.name === 'AbortError' ? err : new NoAnswer(err));
    });
    req.end(body);
  });
}

/** The `ca`, `cert` and `key` options as node:https takes them: PEM text as is, a path read. */
async function tlsOptions(o: AggregateOptions, url: URL): Promise<{ ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string }> {
  const given = (['ca', 'cert', 'key'] as const).filter((k) => o[k] !== undefined);
  if (given.length === 0) return {};
  if (url.protocol !== 'https:') throw new TypeError(`"${given.join('", "')}" apply to an https: node URL, got ${url.protocol}`);
  if ((o.cert === undefined) !== (o.key === undefined)) throw new TypeError('"cert" and "key" go together');
  const out: { ca?: Buffer | string; cert?: Buffer | string; key?: Buffer | string } = {};
  for (const k of given) {
    const v = o[k]!;
    try {
      out[k] = typeof v !== 'string' || v.includes('-----BEGIN') ? v : await readFile(v);
    } catch (e) {
      throw new TypeError(`"${k}": cannot read ${v} (${(e as NodeJS.ErrnoException).code ?? 'error'}); give PEM text or the path of a PEM file`);
    }
  }
  return out;
}

/** The node's JSON error `{ error: { code, message } }` as an AggregateError (else the status line). */
function errorOf(status: number, text: string): AggregateError {
  let code: ErrorCode = status === 404 ? 'API_NOT_FOUND' : status === 401 ? 'API_UNAUTHORIZED' : 'API_BAD_REQUEST';
  let message = `node answered HTTP ${status}`;
  try {
    const b = JSON.parse(text) as { error?: { code?: ErrorCode; message?: string } };
    if (b.error?.code) code = b.error.code;
    if (b.error?.message) message = b.error.message;
  } catch {
    /* not JSON: keep the status line */
  }
  return new AggregateError(code, message, status);
}
