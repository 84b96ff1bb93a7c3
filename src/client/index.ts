/**
 * The trainer's client: `aggregate()` hands a model update to its region's node and resolves
 * with the global aggregate once the round is over.
 * @module
 */
import { MpcError, type ErrorCode } from '../errors.js';

export interface AggregateOptions {
  /** The region node's trainer API, e.g. http://127.0.0.1:7201 */
  node: string | URL;
  /** Bearer token (the node's data dir api-token file). */
  token: string;
  /** Round id shared by every trainer of the round, e.g. 'epoch-7'. */
  round: string;
  update: Float32Array;
  /** Weight of this update (e.g. its number of examples). Default 1. */
  weight?: number;
  /** 'mean' (weighted mean over every contributing trainer) or 'sum' (weighted sum). Default 'mean'. */
  reduce?: 'mean' | 'sum';
  /** This region's node starts the round once this many of its trainers have submitted. */
  expect?: number;
  signal?: AbortSignal;
}

export interface AggregateResult {
  vector: Float32Array;
  totalWeight: number;
  contributors: string[];
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
  url.searchParams.set('round', o.round);
  url.searchParams.set('weight', String(o.weight ?? 1));
  url.searchParams.set('reduce', o.reduce ?? 'mean');
  if (o.expect !== undefined) url.searchParams.set('expect', String(o.expect));
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/octet-stream' },
      body: new Uint8Array(o.update.buffer, o.update.byteOffset, o.update.byteLength) as unknown as BodyInit,
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } catch (e) {
    throw new AggregateError('TRANSPORT_CLOSED', `cannot reach the node at ${url.origin}: ${(e as Error).message}`, 0);
  }
  if (!res.ok) {
    let code: ErrorCode = 'API_BAD_REQUEST';
    let message = `node answered HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { code?: ErrorCode; message?: string } };
      if (body.error?.code) code = body.error.code;
      if (body.error?.message) message = body.error.message;
    } catch {
      /* not JSON: keep the status line */
    }
    throw new AggregateError(code, message, res.status);
  }
  const body = await res.arrayBuffer(); // a fresh ArrayBuffer of its own: view it, no copy
  if (body.byteLength % 4 !== 0) throw new AggregateError('WIRE_MALFORMED', 'aggregate body is not a whole number of float32 values', res.status);
  const vector = new Float32Array(body);
  return {
    vector,
    totalWeight: Number(res.headers.get('x-mpc-total-weight')),
    contributors: (res.headers.get('x-mpc-contributors') ?? '').split(',').filter(Boolean),
  };
}
