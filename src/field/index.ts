/**
 * The field facade: load the WASM kernels once and share them.
 * @module
 */
export { P, HALF_P } from './reference.js';
export { loadFieldWasm, WasmKernels, type FieldVec, type WasmSource } from './wasm.js';
export { webRandom, sampleField, type RandomFill } from './random.js';
export { encodeUpdate, decodeVector, checkOverflowBudget, CHUNK_ELEMS, type EncodeOptions } from './fixed-point.js';
