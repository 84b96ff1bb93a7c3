/**
 * Noise sampler benchmark: Skellam noise for 1e6 and 1e7 field elements (src/dp/sampler.ts over
 * the kernel assembly/noise.ts), at the variance a region adds for epsilon 1 per round (delta 1e-6,
 * clipL2 1, maxWeight 1, scaleBits 16, 3 regions, minContributors 2) and at a small variance (the
 * inversion path), from node's CSPRNG and from AES-256-CTR; beside them, in the same run, the
 * uniform field sampling of the same length (what dealing draws), so the ratio says what noise
 * adds to a round's randomness.
 *
 *   npm run bench:dp              a table
 *   npm run bench:dp -- --json    one JSON object per line
 *   options: --reps N (default 7), --quick (1e5 and 1e6 only, 3 reps: a smoke run)
 * `seconds` is the median wall time over the repetitions after one warm-up call, `cpu_seconds`
 * the median CPU time of this process over the same calls (user + system: on a machine shared
 * with other jobs it stays near what a quiet machine's wall time would be, while the wall time
 * grows with the load); the load average is printed with the machine.
 * @module
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { noisePlan, skellamNoise } from '../src/dp/index.js';
import { loadKernels } from '../src/field/node.js';
import { aesCtrRandom, nodeRandom } from '../src/field/random-node.js';
import { sampleField, type RandomFill } from '../src/field/random.js';
import { machineInfo, median, runBench } from './support.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const quick = args.includes('--quick');
const reps = Number(args[args.indexOf('--reps') + 1] ?? 0) || (quick ? 3 : 7);
const sizes = quick ? [1e5, 1e6] : [1e6, 1e7];

runBench('bench:dp', async () => {
  const K = await loadKernels();
  const policy = { mechanism: 'skellam', unit: 'trainer-update', delta: 1e-6, epsilonPerRound: 1, noiseMultiplier: null, budget: { epsilon: 8, run: '' } } as const;
  const plan = noisePlan(policy, { clipL2: 1, maxWeight: 1, scaleBits: 16 }, 1e6, 2);
  const cases: { name: string; variance: number; rng: () => RandomFill; kind: 'noise' | 'uniform' }[] = [
    { name: 'skellam eps1 (nodeRandom)', variance: plan.regionVariance, rng: () => nodeRandom, kind: 'noise' },
    { name: 'skellam eps1 (aes-ctr)', variance: plan.regionVariance, rng: () => aesCtrRandom(), kind: 'noise' },
    { name: 'skellam var 6 (aes-ctr)', variance: 6, rng: () => aesCtrRandom(), kind: 'noise' },
    { name: 'uniform field (aes-ctr)', variance: 0, rng: () => aesCtrRandom(), kind: 'uniform' },
  ];
  const m = machineInfo();
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  if (json) process.stdout.write(JSON.stringify({ op: 'machine', ...m, loadavg: load, regionSd: Math.sqrt(plan.regionVariance) }) + '\n');
  else process.stdout.write(`${m.cpus} x ${m.cpu}, node ${m.node}, ${m.date}, load average ${load}\nregion noise sd at epsilon 1: ${Math.sqrt(plan.regionVariance).toFixed(0)} field units\n`);
  for (const L of sizes) {
    const v = K.alloc(L);
    const base: Record<string, number> = {};
    for (const c of cases) {
      const rng = c.rng();
      const run = (): void => (c.kind === 'noise' ? skellamNoise(K, v, c.variance, rng, { add: true }) : sampleField(K, v.ptr, L, rng));
      run(); // warm-up (baseline tier)
      const times: number[] = [];
      const cpuTimes: number[] = [];
      for (let r = 0; r < reps; r++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        run();
        times.push((performance.now() - t0) / 1000);
        const c1 = process.cpuUsage(c0);
        cpuTimes.push((c1.user + c1.system) / 1e6);
      }
      const seconds = median(times);
      const cpuSeconds = median(cpuTimes);
      base[c.name] = seconds;
      const row = { op: c.name, L, reps, seconds, cpu_seconds: cpuSeconds, elements_per_s: L / seconds };
      if (json) process.stdout.write(JSON.stringify(row) + '\n');
      else
        process.stdout.write(
          `${c.name.padEnd(28)} L=${L.toExponential(0)}  wall ${(seconds * 1000).toFixed(1).padStart(8)} ms  cpu ${(cpuSeconds * 1000).toFixed(1).padStart(8)} ms  ${(L / seconds / 1e6).toFixed(1).padStart(6)} M/s (wall)\n`,
        );
    }
    const ratio = base['skellam eps1 (aes-ctr)']! / base['uniform field (aes-ctr)']!;
    if (json) process.stdout.write(JSON.stringify({ op: 'ratio', L, noise_over_uniform: ratio }) + '\n');
    else process.stdout.write(`  noise / uniform sampling at L=${L.toExponential(0)}: ${ratio.toFixed(2)}\n`);
    K.free(v);
  }
  if (!json) process.stdout.write(`load average after: ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  return 0;
});
