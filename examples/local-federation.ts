/**
 * Starts a federation of three regions (eu, us, apac) on this machine and keeps it running until
 * Ctrl-C, so that trainers (examples/trainer.ts, examples/trainer.py, curl) can be tried against it.
 *
 *   npm run build && node dist/examples/local-federation.js [--dir DIR]
 *
 * It prints, per region, the trainer API URL and the file holding its bearer token.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startNodeProcess, stopNode, waitConnected, writeLocalFederation } from '../src/node/local-federation.js';

const i = process.argv.indexOf('--dir');
const dir = i >= 0 ? resolve(process.argv[i + 1]!) : await mkdtemp(join(tmpdir(), 'mpc-node-example-'));
const fed = await writeLocalFederation(dir, ['eu', 'us', 'apac'], {
  threshold: 2,
  round: { clipL2: 1e4, maxWeight: 1e4, maxTrainersPerRound: 100, collectMs: 3000 },
});
const nodes = [];
for (const r of fed.regions) nodes.push(await startNodeProcess(fed, r.id));
await waitConnected(fed);
console.log(`federation ${fed.config} (threshold 2), nodes up:`);
for (const r of fed.regions) console.log(`  ${r.id.padEnd(5)} trainer API ${r.api}  token file ${join(r.dataDir, 'api-token')}`);
console.log('Ctrl-C to stop.');
await new Promise<void>((done) => process.once('SIGINT', () => done()));
await Promise.all(nodes.map((n) => stopNode(n)));
