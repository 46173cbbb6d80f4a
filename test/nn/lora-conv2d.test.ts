// LoRA on Conv2d (PEFT's lora.Conv2d): a fresh layer is its base, the update equals a merged
// weight's convolution, merge / unmerge / mergeAndUnload are exact, frozen masking shows in the
// kernel counts, applyLoRA wraps Conv2d layers, and bad settings are refused.
import { describe, expect, it } from 'vitest';
import { backendStats, manualSeed, nn, noGrad, optim, randn, resetStats, scope } from '../../src/index.js';
import { errorOf } from '../errorOf.js';

const F = nn.functional;
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

/** A float64 LoRAConv2d whose B is non-zero, so the update shows. */
function randomLoRA(opts: nn.Conv2dLayerOptions, lora: nn.LoRAOptions = {}) {
  const l = new nn.LoRAConv2d(new nn.Conv2d(4, 6, 3, { dtype: 'float64', ...opts }), { rank: 2, alpha: 6, ...lora });
  noGrad(() => l.loraB.copy_(randn(l.loraB.shape, { dtype: 'float64' })));
  return l;
}

describe('nn.LoRAConv2d', () => {
  it('has PEFT\'s shapes (A: the base\'s kernel down to rank channels, B: 1×1 back up) and starts as its base', () => {
    manualSeed(0);
    const l = new nn.LoRAConv2d(new nn.Conv2d(4, 6, [3, 2], { padding: 1 }), { rank: 2 });
    expect(l.loraA.shape).toEqual([2, 4, 3, 2]);
    expect(l.loraB.shape).toEqual([6, 2, 1, 1]);
    expect(l.loraB.dataSync().every((v) => v === 0)).toBe(true);
    // kaiming_uniform(a = √5) over fanIn = 4·3·2, as PEFT's reset_lora_parameters
    expect(Math.max(...Array.from(l.loraA.dataSync(), Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(24));
    const x = randn([2, 4, 5, 5]);
    expect(maxDiff(l.forward(x).dataSync(), l.base.forward(x).dataSync())).toBe(0);
    expect(l.base.weight.requiresGrad).toBe(false);
    expect(l.parameters().filter((p) => p.requiresGrad)).toEqual([l.loraA, l.loraB]);
  });

  it.each([
    ['stride 2, padding 1', { stride: 2, padding: 1 }],
    ["padding 'same'", { padding: 'same' }],
    ['a 1×1 kernel', { padding: 0 }],
  ] as [string, nn.Conv2dLayerOptions][])('equals the convolution with W0 + scaling·B·A, %s; merge and unmerge are exact', (_, opts) => {
    manualSeed(1);
    const l = randomLoRA(opts);
    const x = randn([2, 4, 7, 6], { dtype: 'float64' });
    const y = noGrad(() => l.forward(x)).dataSync();
    const delta = noGrad(() => l.loraB.reshape([6, 2]).matmul(l.loraA.reshape([2, -1])).mul(l.scaling).reshape(l.weight.shape));
    const w0 = l.weight.dataSync().slice();
    const want = noGrad(() => F.conv2d(x, l.weight.add(delta), l.bias, { stride: l.base.stride, padding: l.base.padding })).dataSync();
    expect(maxDiff(y, want)).toBeLessThan(1e-12);
    l.merge();
    expect(maxDiff(l.weight.dataSync(), noGrad(() => delta.add(l.weight.sub(delta))).dataSync())).toBe(0);
    expect(maxDiff(noGrad(() => l.forward(x)).dataSync(), y)).toBeLessThan(1e-12);
    expect(() => l.forward(x.requiresGrad_()).sum().backward()).toThrow(/this LoRAConv2d is merged/);
    expect(l.unmerge().maxDrift).toBeLessThan(1e-15);
    expect(maxDiff(l.weight.dataSync(), w0)).toBeLessThan(1e-15);
    const conv = l.mergeAndUnload();
    expect(conv).toBeInstanceOf(nn.Conv2d);
    expect(maxDiff(noGrad(() => conv.forward(x)).dataSync(), y)).toBeLessThan(1e-12);
  });

  it('backward with W0 frozen runs no dW0 matmul and no col2im for the input: 3 matmuls, 4 when W0 trains', () => {
    manualSeed(2);
    const l = new nn.LoRAConv2d(new nn.Conv2d(16, 16, 3, { padding: 1 }), { rank: 4 });
    const x = randn([4, 16, 12, 12]), target = randn([4, 16, 12, 12]);
    const backwardKernels = () => scope(() => {
      const loss = F.mseLoss(l.forward(x), target);
      resetStats();
      loss.backward();
      return { matmul: backendStats().byOp.get('matmul') ?? 0, scatterAdd: backendStats().byOp.get('scatterAdd') ?? 0 };
    });
    resetStats();
    scope(() => l.forward(x));
    // base and A: pad, im2col, matmul each; B (1×1): a matmul on A's output as it is.
    expect(backendStats().byOp.get('matmul')).toBe(3);
    expect((backendStats().byOp.get('copy') ?? 0) + (backendStats().byOp.get('fused:im2col') ?? 0)).toBe(4); // im2col may be a backend's fused kernel
    expect(backwardKernels()).toEqual({ matmul: 3, scatterAdd: 0 }); // dB, d(A's output), dA
    expect(l.base.weight.grad).toBeNull();
    expect(l.base.bias!.grad).toBeNull();
    l.base.weight.requiresGrad = true;
    expect(backwardKernels()).toEqual({ matmul: 4, scatterAdd: 0 }); // + dW0
  });

  it('trains only A and B under Adam: W0 stays bit-identical', () => {
    manualSeed(3);
    const l = new nn.LoRAConv2d(new nn.Conv2d(3, 4, 3, { padding: 1 }), { rank: 2 });
    const opt = new optim.Adam(l.parameters(), { lr: 1e-2 });
    const x = randn([2, 3, 6, 6]), target = randn([2, 4, 6, 6]);
    const w0 = l.weight.dataSync().slice();
    const losses: number[] = [];
    for (let i = 0; i < 4; i++) {
      scope(() => {
        const loss = F.mseLoss(l.forward(x), target);
        loss.backward();
        losses.push(loss.itemSync());
        opt.step();
        opt.zeroGrad();
      });
    }
    expect(losses[3]).toBeLessThan(losses[0]!);
    expect(l.weight.dataSync()).toEqual(w0);
    expect(opt.stateTensors().reduce((n, t) => n + t.size, 0)).toBe(2 * (2 * 3 * 9 + 4 * 2));
  });

  it('is what applyLoRA puts on a model\'s Conv2d layers, beside LoRALinear on its Linear layers', () => {
    class Net extends nn.Module {
      conv = new nn.Conv2d(3, 8, 3, { padding: 1 });
      pool = new nn.AvgPool2d(4);
      head = new nn.Linear(8, 2);
      forward(x: nn.TensorLike) { return this.head.forward(this.pool.forward(this.conv.forward(x as never)).flatten(1)); }
    }
    const m = new Net();
    const report = nn.applyLoRA(m, { targets: ['conv', 'head'], rank: 2 });
    expect(report.replaced).toEqual(['conv', 'head']);
    expect(m.conv).toBeInstanceOf(nn.LoRAConv2d);
    expect(m.head).toBeInstanceOf(nn.LoRALinear);
    expect(report.trainable).toBe(2 * 3 * 9 + 8 * 2 + 2 * 8 + 2 * 2);
    expect(m.forward(randn([1, 3, 4, 4])).shape).toEqual([1, 2]);
    expect(nn.mergeAndUnload(m)).toEqual(['conv', 'head']);
    expect(m.conv).toBeInstanceOf(nn.Conv2d);
  });

  it('refuses what PEFT cannot line up or merge, naming the setting', () => {
    expect(errorOf(() => new nn.LoRAConv2d(new nn.Conv2d(4, 4, 3, { dilation: 2 }))).message).toMatch(/LoRAConv2d: the Conv2d has dilation \[2,2\]; PEFT's lora_A takes/);
    expect(errorOf(() => new nn.LoRAConv2d(new nn.Conv2d(4, 4, 3, { groups: 2 }))).message).toMatch(/LoRAConv2d: the Conv2d has groups 2/);
    expect(errorOf(() => new nn.LoRAConv2d(new nn.Conv2d(2, 3, 1), { rank: 3 })).message).toMatch(/LoRAConv2d: rank must be an integer in \[1, min\(in, out\) = 2\]/);
    expect(errorOf(() => new nn.LoRAConv2d(new nn.Linear(2, 3) as never)).message).toMatch(/LoRAConv2d: expects an nn.Conv2d/);
    const m = new nn.Sequential(new nn.Conv2d(4, 4, 3, { groups: 2 }));
    expect(errorOf(() => nn.applyLoRA(m, { targets: ['0'], rank: 2 })).message).toMatch(/applyLoRA: layer '0': the Conv2d has groups 2/);
    expect(m.at(0)).toBeInstanceOf(nn.Conv2d);
    expect(errorOf(() => new nn.LoRAConv2d(new nn.Conv2d(4, 4, 3), { rank: 2 }).forward(randn([1, 3, 5, 5]))).message).toMatch(/LoRAConv2d: input \[1,3,5,5\] must be \[N, 4, H, W\]/);
  });
});
