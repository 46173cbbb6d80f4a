/**
 * Files: safetensors encoding and decoding, and PEFT-layout LoRA adapters.
 *
 * @example
 * const bytes = await io.encodeSafetensors(model.stateDict());
 * @module
 */
export { encodeSafetensors, decodeSafetensors, safetensorsHeader } from './safetensors.js';
export { saveAdapter, loadAdapter, type AdapterFiles, type AdapterConfig } from './peft.js';
export { encodeStateDict, decodeStateDict, type Checkpointable } from './checkpoint.js';
export { writeFileAtomic, saveSafetensors, loadSafetensors, saveStateDict, loadStateDict, saveAdapterDir, loadAdapterDir } from './disk.js';
