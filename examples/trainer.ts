/**
 * A trainer: hands one model update to its region's node and prints the global weighted mean.
 *
 *   node dist/examples/trainer.js --node http://127.0.0.1:7201 --token-file mpc-data/eu/api-token \
 *     --round epoch-1 [--params 1000] [--weight 100] [--seed 1]
 *
 * Every region's trainers use the same round id and the same number of parameters. The update here
 * is synthetic (a sine wave shifted by the seed); a real trainer passes its model delta.
 */
import { readFileSync } from 'node:fs';
import { aggregateDetailed, AggregateError } from '../src/client/index.js';

const arg = (name: string, fallback?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : fallback;
  if (v === undefined) {
    console.error(`trainer: missing --${name}`);
    process.exit(2);
  }
  return v;
};

const params = Number(arg('params', '1000'));
const seed = Number(arg('seed', '1'));
const update = Float32Array.from({ length: params }, (_, k) => Math.sin(0.01 * k + seed));
try {
  const res = await aggregateDetailed({
    node: arg('node'),
    token: readFileSync(arg('token-file'), 'utf8').trim(),
    round: arg('round'),
    update,
    weight: Number(arg('weight', '100')),
    reduce: 'mean',
  });
  const head = Array.from(res.vector.subarray(0, 4), (v) => v.toFixed(6)).join(', ');
  console.log(`mean of ${res.contributors.length} regions (${res.contributors.join(', ')}), total weight ${res.totalWeight}: [${head}, ...]`);
} catch (e) {
  if (e instanceof AggregateError) {
    console.error(`trainer: ${e.code}: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
