/**
 * Telemetry: the Prometheus series of src/node/metrics.ts and the JSON-lines logger of
 * src/node/logger.ts (which must never print a secret field).
 */
import { describe, expect, it } from 'vitest';
import { createNodeMetrics } from '../src/node/metrics.js';
import { createLogger, REDACTED, scrub, SECRET_KEYS } from '../src/node/logger.js';

/** The value of series `name` with exactly these labels (any label order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = Object.fromEntries([...m[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const want = { region: 'eu', ...labels };
    if (Object.keys(got).length === Object.keys(want).length && Object.entries(want).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return undefined;
}

describe('node metrics', () => {
  it('exposes every series, at zero, before any event', async () => {
    const m = createNodeMetrics({ region: 'eu', peers: ['us', 'apac'] });
    const text = await m.metricsText();
    for (const name of [
      'mpc_node_rounds_total',
      'mpc_node_round_duration_seconds',
      'mpc_node_peer_bytes_sent_total',
      'mpc_node_peer_bytes_received_total',
      'mpc_node_peer_drain_timeouts_total',
      'mpc_node_policy_violations_total',
      'mpc_node_refused_connections_total',
      'mpc_node_active_trainers',
      'mpc_node_rounds_in_flight',
      'mpc_node_peers_connected',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain('mpc_node_rounds_total{outcome="done",region="eu"} 0');
    expect(text).toContain('mpc_node_peer_bytes_sent_total{peer="us",region="eu"} 0');
    expect(m.contentType).toMatch(/^text\/plain/);
  });

  it('counts rounds by outcome with their durations', async () => {
    const m = createNodeMetrics({ region: 'eu', peers: ['us'] });
    m.roundEnded('done', 1.5);
    m.roundEnded('done', 0.2);
    m.roundEnded('aborted', 30, 'PROTOCOL_BELOW_MIN_CONTRIBUTORS');
    m.roundEnded('aborted', 1, 'not a code');
    m.roundEnded('refused', 0);
    const text = await m.metricsText();
    expect(sample(text, 'mpc_node_round_aborts_total', { code: 'PROTOCOL_BELOW_MIN_CONTRIBUTORS' })).toBe(1);
    expect(sample(text, 'mpc_node_round_aborts_total', { code: 'OTHER' })).toBe(1);
    expect(text).toContain('mpc_node_rounds_total{outcome="done",region="eu"} 2');
    expect(text).toContain('mpc_node_rounds_total{outcome="aborted",region="eu"} 2');
    expect(text).toContain('mpc_node_rounds_total{outcome="refused",region="eu"} 1');
    expect(sample(text, 'mpc_node_round_duration_seconds_count', { outcome: 'done' })).toBe(2);
    expect(sample(text, 'mpc_node_round_duration_seconds_sum', { outcome: 'done' })).toBeCloseTo(1.7, 10);
    expect(sample(text, 'mpc_node_round_duration_seconds_bucket', { outcome: 'done', le: '0.25' })).toBe(1);
    expect(sample(text, 'mpc_node_round_duration_seconds_bucket', { outcome: 'done', le: '+Inf' })).toBe(2);
    expect(sample(text, 'mpc_node_round_duration_seconds_count', { outcome: 'aborted' })).toBe(2);
  });

  it('counts policy violations by kind and refused connections by code', async () => {
    const m = createNodeMetrics({ region: 'eu', peers: ['us'] });
    m.policyViolation('share-to');
    m.policyViolation('share-to');
    m.policyViolation('grant-expired');
    m.refusedConnection('TRANSPORT_UNKNOWN_PEER');
    m.refusedConnection('not a code {"x"}');
    const text = await m.metricsText();
    expect(text).toContain('mpc_node_policy_violations_total{kind="share-to",region="eu"} 2');
    expect(text).toContain('mpc_node_policy_violations_total{kind="grant-expired",region="eu"} 1');
    expect(text).toContain('mpc_node_refused_connections_total{code="TRANSPORT_UNKNOWN_PEER",region="eu"} 1');
    expect(text).toContain('mpc_node_refused_connections_total{code="OTHER",region="eu"} 1');
  });

  it('reads gauges and cumulative per-peer bytes from the snapshot at scrape time', async () => {
    let sent: Record<string, number> = { us: 100, apac: 7 };
    const m = createNodeMetrics({
      region: 'eu',
      peers: ['us', 'apac'],
      snapshot: () => ({ peersConnected: 2, roundsInFlight: 1, activeTrainers: 12, bytesSent: sent, bytesReceived: { us: 5, intruder: 9 } }),
    });
    let text = await m.metricsText();
    expect(text).toContain('mpc_node_peers_connected{region="eu"} 2');
    expect(text).toContain('mpc_node_rounds_in_flight{region="eu"} 1');
    expect(text).toContain('mpc_node_active_trainers{region="eu"} 12');
    expect(text).toContain('mpc_node_peer_bytes_sent_total{peer="us",region="eu"} 100');
    expect(text).toContain('mpc_node_peer_bytes_sent_total{peer="apac",region="eu"} 7');
    // An id that is not a federation peer cannot create its own series.
    expect(text).toContain('mpc_node_peer_bytes_received_total{peer="other",region="eu"} 9');
    expect(text).not.toContain('intruder');
    sent = { us: 250, apac: 7 };
    text = await m.metricsText();
    expect(text).toContain('mpc_node_peer_bytes_sent_total{peer="us",region="eu"} 250');
  });

  it('keeps nodes in one process apart (one registry each)', async () => {
    const a = createNodeMetrics({ region: 'eu', peers: ['us'] });
    const b = createNodeMetrics({ region: 'us', peers: ['eu'] });
    a.roundEnded('done', 1);
    expect(await b.metricsText()).toContain('mpc_node_rounds_total{outcome="done",region="us"} 0');
  });
});

/** A logger writing into an array of parsed lines. */
function captured(level?: 'debug' | 'info'): { lines: Record<string, unknown>[]; raw: string[]; log: ReturnType<typeof createLogger> } {
  const raw: string[] = [];
  const log = createLogger({ region: 'eu', ...(level ? { level } : {}), destination: { write: (s: string) => void raw.push(s) } });
  return {
    raw,
    log,
    get lines() {
      return raw.map((s) => JSON.parse(s) as Record<string, unknown>);
    },
  };
}

describe('node logger', () => {
  it('writes one JSON line per event with level, ISO time, region and event', () => {
    const c = captured();
    c.log.info('round-done', { round: 'r1', ms: 1200 });
    expect(c.raw).toHaveLength(1);
    expect(c.raw[0]!.endsWith('\n')).toBe(true);
    const l = c.lines[0]!;
    expect(l).toMatchObject({ level: 'info', region: 'eu', event: 'round-done', round: 'r1', ms: 1200 });
    expect(typeof l['time']).toBe('string');
    expect(Number.isFinite(Date.parse(l['time'] as string))).toBe(true);
  });

  it('writes the region key once per line, even when an event carries its own (the peer network\'s do)', () => {
    const c = captured();
    c.log.eventSink({ event: 'peer-up', region: 'eu', peer: 'us' });
    c.log.eventSink({ event: 'about', region: 'us' });
    expect(c.raw[0]!.match(/"region":/g)).toHaveLength(1);
    expect(c.lines[0]).toMatchObject({ region: 'eu', event: 'peer-up', peer: 'us' });
    expect(c.raw[1]!.match(/"region":/g)).toHaveLength(1);
    expect(c.lines[1]).toMatchObject({ region: 'eu', eventRegion: 'us' });
  });

  it('logs a policy violation as a warn line with the decision', () => {
    const c = captured();
    c.log.violation({ rule: 'share-to', subject: 'eu->us', outcome: 'refused', reason: 'US is not in policy.regions.eu.shareTo', grant: null }, { round: 'r7' });
    expect(c.lines[0]).toMatchObject({
      level: 'warn',
      event: 'policy-violation',
      round: 'r7',
      rule: 'share-to',
      subject: 'eu->us',
      outcome: 'refused',
      reason: 'US is not in policy.regions.eu.shareTo',
      grant: null,
    });
  });

  it('never prints a secret field, at any depth and under any case', () => {
    const c = captured();
    const SECRET = 'S3CR3T-VALUE-0123456789abcdef';
    c.log.info('test', {
      token: SECRET,
      secretKey: SECRET,
      share: SECRET,
      data: SECRET,
      nested: { Token: SECRET, deeper: { shares: [SECRET], even: { deeper: { SecretKey: SECRET, apiToken: SECRET } } } },
      list: [{ authorization: `Bearer ${SECRET}` }, { seed: SECRET }],
      bytes: new Uint8Array([0xde, 0xad, 0xbe, 0xef]),
      keep: 'visible',
      shareTo: ['US'],
    });
    c.log.eventSink({ event: 'update-accepted', update: SECRET, password: SECRET });
    c.log.pino.child({ token: SECRET }).info({ event: 'child' });
    const all = c.raw.join('');
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('deadbeef');
    // 0xde as a number (outside the timestamps, which may contain any digits)
    expect(c.lines.map(({ time: _t, ...rest }) => JSON.stringify(rest)).join('')).not.toMatch(/\b222\b/);
    const l = c.lines[0]!;
    expect(l['token']).toBe(REDACTED);
    expect((l['nested'] as Record<string, unknown>)['Token']).toBe(REDACTED);
    expect(l['bytes']).toBe('[4 bytes]');
    expect(l['keep']).toBe('visible');
    expect(l['shareTo']).toEqual(['US']); // a policy field that merely contains "share" is not secret
  });

  it('scrub() replaces every listed key and survives cycles', () => {
    const o: Record<string, unknown> = Object.fromEntries(SECRET_KEYS.map((k) => [k, 'x']));
    o['self'] = o;
    const s = scrub(o) as Record<string, unknown>;
    for (const k of SECRET_KEYS) expect(s[k]).toBe(REDACTED);
    expect(s['self']).toBe('[circular]');
    expect(scrub(10n)).toBe('10');
  });

  it('eventSink maps node events to levels', () => {
    const c = captured();
    c.log.eventSink({ event: 'round-done', round: 'r' });
    c.log.eventSink({ event: 'round-aborted', round: 'r' });
    c.log.eventSink({ event: 'refused-message', from: 'us' });
    c.log.eventSink({ event: 'send-failed', to: 'us' });
    c.log.eventSink({ event: 'internal-error' });
    expect(c.lines.map((l) => l['level'])).toEqual(['info', 'warn', 'warn', 'warn', 'error']);
  });

  it('honours the level', () => {
    const c = captured();
    c.log.pino.debug({ event: 'hidden' });
    expect(c.raw).toHaveLength(0);
  });
});
