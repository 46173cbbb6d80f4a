// What the crash tests' writer saves, alternately, and the tests expect to find on disk: one
// version or the other, never a mix.
import { manualSeed, nn, noGrad, randn } from '../../src/index.js';

const net = () => new nn.Sequential(new nn.Linear(16, 16), new nn.Tanh(), new nn.Linear(16, 4));

/**
 * A base network; the same layers adapted at lora_alpha 8 and at 16 (different weights too);
 * and two larger models holding all 1s and all 2s. The same in every process (fixed seed).
 */
export function versions(): { base: nn.Module; adapters: nn.Module[]; models: nn.Module[] } {
  manualSeed(7);
  const base = net();
  const adapters = [8, 16].map((alpha) => {
    const m = net();
    m.loadStateDict(base.stateDict());
    nn.applyLoRA(m, { targets: ['0', '2'], rank: 4, alpha });
    noGrad(() => {
      for (const l of m.modules()) if (l instanceof nn.LoRALinear) l.loraB.copy_(randn(l.loraB.shape));
    });
    return m;
  });
  const models = [1, 2].map((v) => {
    const m = new nn.Sequential(new nn.Linear(256, 256), new nn.Linear(256, 256));
    noGrad(() => m.parameters().forEach((p) => p.copy_(p.onesLike().mul(v))));
    return m;
  });
  return { base, adapters, models };
}

