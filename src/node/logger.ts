/**
 * Structured logs of one region node: JSON lines on stdout (pino), one event per line,
 * `{"level":"info","time":"2026-…Z","region":"eu","event":"round-done",…}`.
 *
 * Wired in src/cli/start.ts: `RegionNodeOptions.log` takes a plain function
 * `(event: Record<string, unknown>) => void`; {@link NodeLogger.eventSink} is one, so the
 * composition root (src/cli/start.ts) can pass `log: logger.eventSink` and call
 * {@link NodeLogger.violation} where policy refusals happen (docs/policy.md "Telemetry").
 *
 * Secrets never reach the output, by two layers:
 *  1. pino `redact` paths for the documented secret fields ({@link REDACT_PATHS}), at the top
 *     level and one or two levels down (fast, compiled by pino);
 *  2. a scrub of every logged object, at any depth, that replaces the value of any key named in
 *     {@link SECRET_KEYS} (case-insensitive, exact name) and prints byte arrays as their length
 *     only, so a share or key passed under an unexpected name still does not appear.
 * What neither can catch: a secret pasted into a free-text string (`reason`, `msg`). Error
 * messages in this project never contain share values, keys or tokens (src/errors.ts).
 * @module
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { PolicyDecision } from '../policy/index.js';

/** Keys whose values are never logged, wherever they appear (compared case-insensitively). */
export const SECRET_KEYS: readonly string[] = [
  'token',
  'apiToken',
  'authorization',
  'secret',
  'secretKey',
  'privateKey',
  'seed',
  'projSeed',
  'share',
  'shares',
  'data',
  'update',
  'password',
];
const SECRET_SET = new Set(SECRET_KEYS.map((k) => k.toLowerCase()));

/** pino redact paths: the secret keys at the top level and nested one or two levels. */
export const REDACT_PATHS: readonly string[] = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

/** What replaces a secret value. */
export const REDACTED = '[redacted]';

const MAX_DEPTH = 8;

/** Deep copy of `v` with secret keys replaced and byte arrays shown as their length only. */
export function scrub(v: unknown, depth = 0, seen: WeakSet<object> = new WeakSet()): unknown {
  if (typeof v !== 'object' || v === null) return typeof v === 'bigint' ? v.toString() : v;
  if (ArrayBuffer.isView(v)) return `[${v.byteLength} bytes]`;
  if (v instanceof ArrayBuffer) return `[${v.byteLength} bytes]`;
  if (v instanceof Error) return { type: v.name, message: v.message, ...('code' in v ? { code: (v as { code: unknown }).code } : {}) };
  if (seen.has(v)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  seen.add(v);
  if (Array.isArray(v)) return v.map((x) => scrub(x, depth + 1, seen));
  if (v instanceof Map) return scrub(Object.fromEntries(v), depth, seen);
  if (v instanceof Set) return scrub([...v], depth, seen);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = SECRET_SET.has(k.toLowerCase()) ? REDACTED : scrub(x, depth + 1, seen);
  return out;
}

export interface LoggerOptions {
  /** This node's region id, on every line. */
  readonly region: string;
  /** Lowest level written (default `info`; `MPC_LOG_LEVEL` is a natural source). */
  readonly level?: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** Where lines go (default: stdout). Tests pass an in-memory stream. */
  readonly destination?: DestinationStream;
}

export interface NodeLogger {
  /** The underlying pino logger (for child loggers and levels). */
  readonly pino: Logger;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  /**
   * A refused policy decision: a `warn` line with `event: "policy-violation"` and the decision's
   * rule, subject, outcome, reason and grant, plus `context` (e.g. `{ round }`).
   */
  violation(decision: PolicyDecision, context?: Record<string, unknown>): void;
  /**
   * `RegionNode`'s `log` option: takes the node's `{ event, ... }` records; events named
   * `*-failed`, `internal-error`, `refused-*`, `round-aborted` or `credentials-invalid` are logged at warn/error.
   */
  readonly eventSink: (event: Record<string, unknown>) => void;
}

const WARN_EVENTS = /^(refused(-.*)?|round-aborted|send-failed|dropout|policy-violation|credentials-invalid)$/;

/**
 * Creates a node logger writing JSON lines.
 * @example
 * const log = createLogger({ region: 'eu' });
 * log.info('round-done', { round: 'r1', ms: 1200 });
 * log.violation({ rule: 'share-to', subject: 'eu->us', outcome: 'refused', reason: '…', grant: null }, { round: 'r1' });
 */
export function createLogger(opts: LoggerOptions): NodeLogger {
  const p = pino(
    {
      level: opts.level ?? 'info',
      base: { region: opts.region },
      timestamp: pino.stdTimeFunctions.isoTime,
      messageKey: 'msg',
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (b) => scrub(b) as Record<string, unknown>,
        log: (o) => scrub(o) as Record<string, unknown>,
      },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  const line = (level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown> = {}): void => {
    // one `region` key per line, the node's (pino's base): an event's own copy of it is dropped,
    // another region's id is kept as `eventRegion`
    const { region, ...rest } = fields;
    p[level]({ ...rest, ...(region !== undefined && region !== opts.region ? { eventRegion: region } : {}), event });
  };
  return {
    pino: p,
    info: (e, f) => line('info', e, f),
    warn: (e, f) => line('warn', e, f),
    error: (e, f) => line('error', e, f),
    violation(d, context = {}) {
      line('warn', 'policy-violation', { ...context, rule: d.rule, subject: d.subject, outcome: d.outcome, reason: d.reason, grant: d.grant });
    },
    eventSink(e) {
      const { event, ...rest } = e;
      const name = typeof event === 'string' ? event : 'event';
      line(name === 'internal-error' ? 'error' : WARN_EVENTS.test(name) || name.endsWith('-failed') ? 'warn' : 'info', name, rest);
    },
  };
}
