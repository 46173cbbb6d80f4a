export { encodeSafetensors, decodeSafetensors } from './safetensors.js';
export { saveAdapter, loadAdapter, type AdapterFiles, type AdapterConfig } from './peft.js';
