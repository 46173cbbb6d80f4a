/**
 * Pretrained models in Hugging Face's layouts.
 *
 * @example
 * import { models } from 'tsgrad';
 * const tok = await models.GPT2Tokenizer.fromPretrained('gpt2-files');
 * @module
 */
export { GPT2Tokenizer, type GPT2TokenizerOptions, type GPT2TokenizerFiles, type AddedToken, type TokenizerSources } from './gpt2/tokenizer.js';
