/**
 * Files: safetensors encoding and decoding, and PEFT-layout LoRA adapters.
 *
 * @example
 * const bytes = await io.encodeSafetensors(model.stateDict());
 * @module
 */
export { encodeSafetensors, decodeSafetensors } from './safetensors.js';
export { saveAdapter, loadAdapter, type AdapterFiles, type AdapterConfig } from './peft.js';
