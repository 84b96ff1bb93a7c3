#!/usr/bin/env node
/**
 * The `mpc-node` executable (package.json "bin"). Everything happens in ./main.ts; this file only
 * tunes the V8 heap first, which is why main.ts and io.ts are imported dynamically (static imports
 * would be evaluated, and their allocations made, before the first line of this body).
 * @module
 */
import { setFlagsFromString } from 'node:v8';

// Keep V8's young generation at its initial size (1 MiB per semi-space) instead of letting it
// grow 2x per step up to 16 MiB: loading the modules and the first handshakes survive enough
// scavenges to grow it to ~8 MiB per semi-space, and V8 keeps those pages committed while the
// node sits idle. Measured with 3 connected region nodes: idle RSS ~75 -> ~67 MiB; 1e7-parameter
// round time and peak RSS unchanged within run-to-run noise (the round's bulk is WASM memory and
// Buffers, outside the JS heap). --max-semi-space-size would be the documented knob, but V8 reads
// it only when the isolate is created (too late from here, and the bin is started as
// `#!/usr/bin/env node` without flags); the growth factor is read each time the space grows.
setFlagsFromString('--semi-space-growth-factor=1');

const { processIo } = await import('./io.js');
const { main } = await import('./main.js');

// `mpc-node keygen ... | head -1` closes stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

process.exitCode = await main(process.argv.slice(2), processIo());
