export { encodeSafetensors, decodeSafetensors } from './safetensors.js';
export { saveAdapter, loadAdapter, type AdapterFiles, type AdapterConfig } from './peft.js';
export { encodeStateDict, decodeStateDict, type Checkpointable } from './checkpoint.js';
export { writeFileAtomic, saveSafetensors, loadSafetensors, saveStateDict, loadStateDict, saveAdapterDir, loadAdapterDir } from './disk.js';
