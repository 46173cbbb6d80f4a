// A few Adam steps of next-token cross-entropy on fixed ids: what the LoRA-over-a-frozen-base
// tests train before they compare adapters with PEFT.
import { type models, nn, optim, scope } from '../../src/index.js';

/** Trains `model`'s trainable parameters for `steps` steps on `ids` (each row's targets: the next id, then 0). */
export function trainNextToken(model: models.GPT2LMHeadModel, ids: number[][], steps = 4, lr = 1e-2): void {
  const opt = new optim.Adam(model.parameters().filter((p) => p.requiresGrad), { lr });
  const targets = ids.flatMap((row) => [...row.slice(1), 0]);
  for (let step = 0; step < steps; step++) {
    scope(() => {
      nn.functional.crossEntropy(model.forward(ids).reshape([-1, model.config.vocabSize]), targets).backward();
      opt.step();
      opt.zeroGrad();
    });
  }
}
