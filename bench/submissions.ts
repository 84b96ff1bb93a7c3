/**
 * Idempotent submissions benchmark: what deduplication costs a round. An upload that has a slot
 * (a named credential, or the api-token with `x-mpc-idempotency-key`, as `aggregate()` always
 * sends) is hashed (SHA-256) as it streams into the node; one without (the api-token, no key)
 * is not. Both kinds of round run on the same 3-node federation on loopback, alternating A/B
 * within each repetition, every region's trainer submitting at once.
 *
 *   npm run bench:submissions [-- --params 1e6,1e7 --reps 5 --json]
 *
 * Per model size: the median round seconds with a key (`keyed_s`) and without (`plain_s`), their
 * ratio, and the in-process SHA-256 rate over the same bytes in 64 KiB chunks (`sha256_mb_s`,
 * MB = 1e6 bytes), which bounds the added time per upload.
 * @module
 */
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { aggregateDetailed } from '../src/client/index.js';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation, type LocalRegion, type NodeProcess } from '../src/node/local-federation.js';
import { median } from './support.js';

const argValue = (argv: string[], name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};

/** One upload through the api-token without an idempotency key (no slot: not hashed). */
function plainUpload(r: LocalRegion, round: string, u: Float32Array): Promise<void> {
  const body = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  return new Promise((resolve, reject) => {
    const req = request(`${r.api}/v1/aggregate?round=${round}&weight=1&reduce=mean&expect=1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${r.token}`, 'content-type': 'application/octet-stream', 'content-length': body.length },
    }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function sha256Rate(u: Float32Array, reps: number): number {
  const b = Buffer.from(u.buffer, u.byteOffset, u.byteLength);
  const times: number[] = [];
  for (let k = 0; k < reps; k++) {
    const t0 = performance.now();
    const h = createHash('sha256');
    for (let o = 0; o < b.length; o += 65536) h.update(b.subarray(o, o + 65536));
    h.digest();
    times.push((performance.now() - t0) / 1000);
  }
  return b.length / 1e6 / median(times);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const json = argv.includes('--json');
  const reps = Number(argValue(argv, 'reps') ?? 5);
  const sizes = (argValue(argv, 'params') ?? '1e6,1e7').split(',').map(Number);
  const dir = await mkdtemp(join(tmpdir(), 'mpc-node-bench-sub-'));
  const fed = await writeLocalFederation(dir, ['eu', 'us', 'apac'], { threshold: 2, round: { clipL2: 1e4, maxWeight: 1e4, collectMs: 5000, maxParams: Math.max(...sizes, 10_000_000) } });
  const nodes: NodeProcess[] = [];
  try {
    for (const r of fed.regions) nodes.push(await startNodeProcess(fed, r.id));
    await waitConnected(fed, 30_000);
    for (const params of sizes) {
      const updates = fed.regions.map((_, k) => Float32Array.from({ length: params }, (_, i) => Math.sin(0.001 * i * (k + 1)) * 0.5));
      const keyed: number[] = [];
      const plain: number[] = [];
      for (let rep = 0; rep <= reps; rep++) {
        for (const mode of rep % 2 ? ['plain', 'keyed'] : ['keyed', 'plain']) {
          const round = `sub-${params}-${rep}-${mode}`;
          const t0 = performance.now();
          await Promise.all(fed.regions.map((r, k) => (mode === 'keyed'
            ? aggregateDetailed({ node: r.api, token: r.token, round, update: updates[k]!, expect: 1 }).then(() => {})
            : plainUpload(r, round, updates[k]!))));
          const s = (performance.now() - t0) / 1000;
          if (rep > 0) (mode === 'keyed' ? keyed : plain).push(s);
          process.stderr.write(`  params=${params} ${rep === 0 ? 'warm-up' : `rep ${rep}`} ${mode}: ${s.toFixed(3)} s\n`);
        }
      }
      const row = { params, reps, keyed_s: +median(keyed).toFixed(4), plain_s: +median(plain).toFixed(4), ratio: +(median(keyed) / median(plain)).toFixed(3), sha256_mb_s: Math.round(sha256Rate(updates[0]!, 5)) };
      process.stdout.write(json ? `${JSON.stringify(row)}\n` : `params ${params}: keyed ${row.keyed_s} s, plain ${row.plain_s} s, ratio ${row.ratio}; SHA-256 ${row.sha256_mb_s} MB/s\n`);
    }
  } finally {
    await Promise.all(nodes.map((p) => stopNode(p)));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
