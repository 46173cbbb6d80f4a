// The character-level MLP language model of Bengio et al. (2003), as in makemore: the previous
// three characters are embedded (16 numbers each), pass two tanh layers of 256 and give logits
// over the 27 symbols.
import { type Generator, type Tensor, multinomial, nn, noGrad, scope, tensor, yieldToEventLoop } from '../../src/index.js';
import { CONTEXT, type Examples, SYMBOLS } from './data.js';

export class CharMLP extends nn.Module {
  emb = new nn.Embedding(SYMBOLS.length, 16);
  net = new nn.Sequential(
    new nn.Linear(CONTEXT * 16, 256), new nn.Tanh(),
    new nn.Linear(256, 256), new nn.Tanh(),
    new nn.Linear(256, SYMBOLS.length),
  );

  /** Logits [N, 27] for int32 contexts [N, 3]. */
  forward(contexts: Tensor): Tensor {
    return this.net.forward(this.emb.forward(contexts).reshape([contexts.shape[0]!, CONTEXT * 16]));
  }
}

/** The Linear layers LoRA adapts. */
export const LINEARS = ['net.0', 'net.2', 'net.4'];

/** A new model holding a copy of `model`'s weights. */
export function copyOf(model: CharMLP): CharMLP {
  const copy = new CharMLP();
  copy.loadStateDict(model.stateDict());
  return copy;
}

/** Lets the event loop run (timers, I/O, a test runner's messages) between long stretches of compute. */
export function breather(): Promise<void> {
  return yieldToEventLoop();
}

/** Mean cross-entropy in nats per character over every example, in chunks to bound memory. */
export async function meanLoss(model: nn.Module, data: Examples, chunk = 4096): Promise<number> {
  let total = 0;
  for (let at = 0; at < data.count; at += chunk) {
    const n = Math.min(chunk, data.count - at);
    total += n * await noGrad(() => scope(() => {
      const ctx = data.contexts.slice([[at, at + n]]);
      return nn.functional.crossEntropy(model.forward(ctx), data.targets.slice([[at, at + n]]).contiguous());
    })).item();
    await breather();
  }
  return total / data.count;
}

/** Names drawn one character at a time from the model's next-character distribution. */
export async function sampleNames(model: nn.Module, count: number, generator: Generator, maxLength = 20): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const window = new Array<number>(CONTEXT).fill(0);
    let name = '';
    while (name.length < maxLength) {
      const next = await noGrad(() => scope(() => {
        const probs = model.forward(tensor([window], { dtype: 'int32' })).softmax(1);
        return multinomial(probs, 1, { generator });
      })).item();
      if (next === 0) break;
      name += SYMBOLS[next];
      window.shift();
      window.push(next);
    }
    names.push(name);
    await breather();
  }
  return names;
}
