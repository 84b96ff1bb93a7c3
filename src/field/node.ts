/**
 * Node entry for the field: finds build/mpc-field.wasm next to the package and loads it once.
 * @module
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { loadFieldWasm, type WasmKernels } from './wasm.js';

let shared: Promise<WasmKernels> | undefined;

/** Path of the release build: from src/field (tests) or dist/src/field (installed). */
export function wasmPath(): string {
  for (const rel of ['../../build/mpc-field.wasm', '../../../build/mpc-field.wasm']) {
    const p = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('build/mpc-field.wasm not found: run `npm run build:wasm` (npm install does it)');
}

/** One kernel instance per process (each instance owns its own linear memory). */
export function loadKernels(): Promise<WasmKernels> {
  shared ??= loadKernelsFresh();
  return shared;
}

/** A fresh instance with its own memory (for workers, or to isolate a test). */
export function loadKernelsFresh(): Promise<WasmKernels> {
  return readFile(wasmPath()).then(loadFieldWasm);
}
