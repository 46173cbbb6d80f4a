/**
 * Pretrained model families with Hugging Face's module names and files.
 *
 * @example
 * const model = await models.GPT2LMHeadModel.fromPretrained('gpt2-dir');
 * const tok = await models.GPT2Tokenizer.fromPretrained('gpt2-dir');
 * @module
 */
export { GPT2Config, type GPT2ConfigFields, type GPT2Activation } from './gpt2/config.js';
export { GPT2Attention, GPT2Cache, causalMask } from './gpt2/attention.js';
export { GPT2MLP, GPT2Block, GPT2Model, GPT2LMHeadModel, type GPT2ForwardOptions, type GPT2LayerOptions } from './gpt2/modeling.js';
export { gpt2StateShapes, type FromPretrainedOptions } from './gpt2/pretrained.js';
export { warpLogits, type GenerateOptions } from './gpt2/generation.js';
export { GPT2Tokenizer, type GPT2TokenizerOptions, type GPT2TokenizerFiles, type AddedToken, type TokenizerSources } from './gpt2/tokenizer.js';
