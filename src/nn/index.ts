/**
 * Layers, losses, initialisation and LoRA.
 *
 * @example
 * const model = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2));
 * @module
 */
export * as functional from './functional.js';
export { Parameter } from './parameter.js';
export { Module, type AnyModule, type ChildSlot, type LoadResult, type ModuleOutput } from './module.js';
export {
  Linear, Sequential, Embedding, LayerNorm, Dropout, ReLU, GELU, SiLU, Tanh, Sigmoid, MSELoss, CrossEntropyLoss,
  type LinearOptions,
} from './layers.js';
export { Flatten, Identity } from './shapes.js';
export { Conv1D } from './conv1d.js';
export { Conv2d, ConvTranspose2d, type Conv2dLayerOptions, type ConvTranspose2dLayerOptions } from './conv2d.js';
export { AvgPool2d, MaxPool2d, Upsample } from './pooling.js';
export { GroupNorm, type GroupNormOptions } from './groupNorm.js';
export { ModuleList, ModuleDict } from './containers.js';
export { MultiheadAttention, type MultiheadAttentionOptions, type MultiheadAttentionForwardOptions } from './attention.js';
export type { TensorLike } from './inputs.js';
export type { CrossEntropyOptions, NllLossOptions, Reduction } from './losses.js';
export * as init from './init.js';
export { LoRALayer, LoRALinear, type LoRABase, type LoRATarget, type LoRAOptions, type UnmergeReport } from './lora.js';
export { LoRAConv2d } from './loraConv2d.js';
export { applyLoRA, mergeAndUnload, trainableSummary, type ApplyLoRAOptions, type ApplyLoRAReport, type LoRATargets } from './adapt.js';
export { memoryReport, type MemoryReport, type MemoryCategory } from './memory.js';
export { QuantizedLinear, type QuantizedLinearParts } from './quantizedLinear.js';
export { QuantizedEmbedding, type QuantizedEmbeddingParts } from './quantizedEmbedding.js';
export { quantize, type QuantizeOptions, type QuantizeReport } from './quantize.js';
