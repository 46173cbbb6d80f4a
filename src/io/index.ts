/**
 * Files: safetensors encoding and decoding, and PEFT-layout LoRA adapters.
 *
 * @example
 * const bytes = await io.encodeSafetensors(model.stateDict());
 * @module
 */
export { encodeSafetensors, decodeSafetensors, safetensorsHeader } from './safetensors.js';
export { saveAdapter, loadAdapter, PEFT_TASK_TYPES, type AdapterFiles, type AdapterConfig, type AdapterModelInfo, type PeftTaskType, type SaveAdapterOptions } from './peft.js';
export { encodeStateDict, decodeStateDict, type Checkpointable } from './checkpoint.js';
export { writeFileAtomic, saveSafetensors, loadSafetensors, saveStateDict, loadStateDict, saveAdapterDir, loadAdapterDir } from './disk.js';
