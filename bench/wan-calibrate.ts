/**
 * The WAN benchmark's check of its own instrument: one bulk transfer through one proxy (in its
 * own process, as in the rounds) from and to this process, on an otherwise idle link. It gives
 * the rate the shaper achieves against the configured one and the proxy's CPU time per GB.
 * @module
 */
import { createConnection, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ProxyHost } from './wan-proxy-host.js';
import type { LinkShape } from './wan-proxy.js';

export interface Calibration {
  bytes: number;
  configured_mbit: number;
  /** Bytes after the receiver's first read over the time from that read to the last one. */
  achieved_mbit: number;
  achieved_over_configured: number;
  proxy_cpu_s_per_gb: number;
  bucket_bytes: number;
  high_water_bytes: number;
  /** The proxy process's nice value. */
  proxy_nice: number;
}

/** Sends `bytes` through a fresh proxy shaped by `shape` and times their arrival. */
export async function calibrate(shape: LinkShape, bytes: number): Promise<Calibration> {
  const host = await ProxyHost.start();
  const server = createServer();
  try {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const a = server.address();
    const target = typeof a === 'object' && a ? a.port : 0;
    const { port, shape: full } = await host.startProxy(0, target, shape);
    const got = new Promise<{ firstBytes: number; first: number; last: number }>((resolve, reject) => {
      server.once('connection', (s) => {
        let n = 0;
        let first = 0;
        let firstBytes = 0;
        s.on('data', (b: Buffer) => {
          if (n === 0) {
            first = performance.now();
            firstBytes = b.length;
          }
          n += b.length;
          if (n >= bytes) {
            resolve({ firstBytes, first, last: performance.now() });
            s.destroy();
          }
        });
        s.once('error', reject);
      });
    });
    const before = await host.stats();
    const c = createConnection({ host: '127.0.0.1', port });
    c.on('error', () => {});
    c.write(Buffer.alloc(bytes, 0x5a));
    const r = await got;
    c.destroy();
    const after = await host.stats();
    const achieved = ((bytes - r.firstBytes) * 8) / ((r.last - r.first) / 1000) / 1e6;
    const round4 = (x: number): number => Math.round(x * 1e4) / 1e4;
    return {
      bytes,
      configured_mbit: shape.rateBitsPerSec / 1e6,
      achieved_mbit: round4(achieved),
      achieved_over_configured: round4(achieved / (shape.rateBitsPerSec / 1e6)),
      proxy_cpu_s_per_gb: round4((after.cpuSeconds - before.cpuSeconds) / (bytes / 1e9)),
      bucket_bytes: full.bucketBytes,
      high_water_bytes: full.highWaterBytes,
      proxy_nice: host.priority,
    };
  } finally {
    server.close();
    await host.close().catch(() => host.kill());
  }
}
