/**
 * tsgrad: reverse-mode autodiff tensors in TypeScript with pluggable backends.
 *
 * @example
 * import { tensor } from 'tsgrad';
 * const x = tensor([1, 2, 3], { requiresGrad: true });
 * x.mul(x).sum().backward(); // x.grad = [2, 4, 6]
 */
import { registerBuiltinBackends } from './backends/index.js';

// A value import rather than a side-effect import: declaration files keep side-effect imports,
// which would hand every consumer's type check the CPU kernels' WebAssembly declarations.
registerBuiltinBackends();

// Each op file defines its Tensor methods; a side-effect import on purpose, so the declaration
// files carry the methods' types (declared beside each op) to consumers too.
import './core/ops/index.js';

export { Tensor, type NestedArray } from './core/tensor.js';
export { TsgradError } from './core/errors.js';
export type { DType, HalfDType, StorageArray, TypedArray } from './core/dtype.js';
export { float16Bits, float16Value, bfloat16Bits, bfloat16Value } from './core/half.js';
export { tensor, zeros, ones, full, randn, rand, uniform, arange, fromTypedArray, type TensorOptions } from './core/creation.js';
export { eye, fromHalfBits } from './core/creation.js';
export { oneHot } from './core/ops/oneHot.js';
export { clamp } from './core/ops/clamp.js';
export type { ValuesIndices } from './core/ops/sort.js';
export type { VarOptions } from './core/ops/stats.js';
export { manualSeed, Generator, defaultGenerator } from './core/random.js';
export { multinomial, bernoulli, randint, randperm, type SamplingOptions, type RandintOptions } from './core/sampling.js';
export { noGrad, grad, isGradEnabled, type GradNode, type BackwardOptions } from './core/autograd.js';
export { detectAnomaly } from './core/anomaly.js';
export { setLeakWarnings } from './core/leaks.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradcheckResult } from './core/inspect/gradcheck.js';
export { scope, keep } from './core/scope.js';
export { yieldToEventLoop } from './core/yieldToEventLoop.js';
export { printGraph, toDot, type GraphOptions, type TensorRole } from './core/inspect/graph.js';
export { toSvg } from './core/inspect/graphSvg.js';
export { traceBackward, formatTrace, type TraceStep, type InputKind, type SkipReason } from './core/inspect/trace.js';
export { cat, stack } from './core/ops/join.js';
export type { Nested } from './core/creation.js';
export { where, maximum, minimum } from './core/ops/elementwise.js';
export {
  setBackend, getBackend, getBackendInfo, initBackend, listBackends, registerBackend, backendStats, resetStats, removeBackend,
  type Backend, type BackendImplementation, type BackendStats, type View,
} from './core/backend.js';
export type { BackendInfo, BackendInfos, InfoOf } from './core/backend.js';
export type { CpuInfo, CpuOptions } from './backends/cpu/options.js';
export type { ArgReduceOp, BackendFactory, BackendOptions, BackendPlugin, BinaryOp, FusedKernels, OptionsOf, ReduceOp, UnaryOp } from './core/backend.js';
export type { AttentionArgs } from './core/backend.js';
export type { BackwardFn } from './core/autograd.js';
export type { HasStateTensors } from './nn/memory.js';
export * as nn from './nn/index.js';
export type { WebGPUInfo, WebGPUOptions } from './backends/webgpu/options.js';
export type { GpuJsBackend } from './backends/gpujs/index.js';
export type { GpuJsInfo, GpuJsOptions } from './backends/gpujs/options.js';
export * as optim from './optim/index.js';
export * as data from './data/index.js';
export { memoryReport, type MemoryReport } from './nn/memory.js';
export * as io from './io/index.js';
export * as models from './models/index.js';
