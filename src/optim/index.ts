/**
 * Optimizers (SGD, Adam, AdamW), gradient clipping and learning-rate schedules.
 *
 * @example
 * const opt = new optim.Adam(model, { lr: 1e-3 });
 * @module
 */
export { Optimizer, type ParamState, type ParamGroup, type ParamsInput, type ParameterSource, type OptimizerStateDict } from './optimizer.js';
export { SGD, type SGDOptions } from './sgd.js';
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { clipGradNorm } from './clip.js';
export { LRScheduler, StepLR, CosineAnnealingLR, LinearLR, LambdaLR, SequentialLR, type SchedulerStateDict, type WithLr } from './lrScheduler.js';
