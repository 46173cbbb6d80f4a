// The GPT demo's model: transformers' GPT-2 architecture at a size a CPU trains in minutes, over
// the 96 characters of the demo's vocabulary, and text drawn from it.
import { type Generator, models } from '../../src/index.js';
import { SYMBOLS, decode, encode } from './data.js';

/** 2 blocks of width 64 with 4 heads, 64 characters of context, no dropout: 110,336 parameters. */
export const CONFIG = {
  vocabSize: SYMBOLS.length, nPositions: 64, nEmbd: 64, nLayer: 2, nHead: 4,
  residPdrop: 0, embdPdrop: 0, attnPdrop: 0,
  // The vocabulary has no <|endoftext|>: generation runs to its length.
  bosTokenId: null, eosTokenId: null,
} satisfies Partial<models.GPT2ConfigFields>;

/** A new model with transformers' initialization, drawn from the global generator. */
export function newModel(): models.GPT2LMHeadModel {
  return new models.GPT2LMHeadModel(CONFIG);
}

/** A new model of `model`'s config holding a copy of its weights. */
export function copyOf(model: models.GPT2LMHeadModel): models.GPT2LMHeadModel {
  const copy = new models.GPT2LMHeadModel(model.config);
  copy.loadStateDict(model.stateDict());
  return copy;
}

/** What the model writes after `prompt`, up to its context, sampled at temperature 0.8 from the 20 likeliest characters. */
export async function sample(model: models.GPT2LMHeadModel, prompt: string, generator: Generator): Promise<string> {
  const ids = Array.from(encode(prompt));
  const out = await model.generate([ids], { maxNewTokens: model.config.nPositions - ids.length, temperature: 0.8, topK: 20, generator });
  try {
    return decode((await out.data()).slice(ids.length));
  } finally {
    out.dispose();
  }
}
