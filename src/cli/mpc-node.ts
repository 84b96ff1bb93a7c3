#!/usr/bin/env node
/**
 * The `mpc-node` executable (package.json "bin"). Everything happens in ./main.ts.
 * @module
 */
import { processIo } from './io.js';
import { main } from './main.js';

// `mpc-node keygen ... | head -1` closes stdout early: that is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

process.exitCode = await main(process.argv.slice(2), processIo());
