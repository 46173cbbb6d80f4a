// conv2d, convTranspose2d, the pools, interpolate, groupNorm and silu against PyTorch's
// torch.nn.functional (float64, outputs and every input's gradient) over a grid of strides,
// paddings, dilations and groups; conv_reference.py runs them from .venv-hf.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Tensor, grad, manualSeed, nn, randn } from '../../src/index.js';
import type { AvgPool2dOptions, Conv2dOptions, InterpolateOptions, MaxPool2dOptions, Size2d } from '../../src/nn/functional.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';

const F = nn.functional;
const skip = hfUnavailable('test/core/conv-torch.test.ts');

interface Case {
  label: string;
  /** Input shapes (null: an absent optional input, such as bias). */
  shapes: (number[] | null)[];
  run: (...xs: (Tensor | null)[]) => Tensor;
  /** torch.nn.functional's name and keyword arguments for the same call. */
  op: string;
  kwargs: Record<string, unknown>;
  /** The inputs' keyword names, where PyTorch takes other arguments between them. */
  names?: string[];
}

const cases: Case[] = [];
for (const stride of [1, 2]) {
  for (const padding of [0, 1, [2, 1], 'same', 'valid'] as const) {
    for (const dilation of [1, 2]) {
      for (const groups of [1, 2]) {
        if (padding === 'same' && stride !== 1) continue;
        const bias = (stride + dilation + groups) % 2 === 0;
        cases.push({
          label: `conv2d stride ${stride} padding ${JSON.stringify(padding)} dilation ${dilation} groups ${groups} bias ${bias}`,
          shapes: [[2, 4, 7, 6], [6, 4 / groups, 3, 2], bias ? [6] : null],
          run: (x, w, b) => F.conv2d(x!, w!, b, { stride, padding: padding as Conv2dOptions['padding'], dilation, groups }),
          op: 'conv2d',
          kwargs: { stride, padding, dilation, groups },
        });
      }
    }
  }
}
cases.push({
  label: 'conv2d unbatched, stride [2, 1], dilation [1, 2], even kernel with padding same',
  shapes: [[3, 6, 7], [2, 3, 2, 4], [2]],
  run: (x, w, b) => F.conv2d(x!, w!, b, { dilation: [1, 2], padding: 'same' }),
  op: 'conv2d',
  kwargs: { dilation: [1, 2], padding: 'same' },
});
for (const stride of [1, 2, 3]) {
  for (const padding of [0, 1]) {
    for (const dilation of [1, 2]) {
      for (const groups of [1, 2]) {
        const outputPadding = stride > 1 ? stride - 1 : 0;
        const bias = (stride + groups) % 2 === 0;
        cases.push({
          label: `convTranspose2d stride ${stride} padding ${padding} outputPadding ${outputPadding} dilation ${dilation} groups ${groups} bias ${bias}`,
          shapes: [[2, 4, 4, 3], [4, 3, 3, 2], bias ? [3 * groups] : null],
          run: (x, w, b) => F.convTranspose2d(x!, w!, b, { stride, padding, outputPadding, dilation, groups }),
          op: 'conv_transpose2d',
          kwargs: { stride, padding, output_padding: outputPadding, dilation, groups },
        });
      }
    }
  }
}
for (const [k, opts] of [[2, {}], [3, { stride: 2, padding: 1 }], [[3, 2], { stride: [1, 2], padding: [1, 0] }], [3, { stride: 1, padding: 1, dilation: 2 }]] as const) {
  cases.push({
    label: `maxPool2d kernel ${JSON.stringify(k)} ${JSON.stringify(opts)}`,
    shapes: [[2, 3, 7, 6]],
    run: (x) => F.maxPool2d(x!, k as Size2d, opts as MaxPool2dOptions),
    op: 'max_pool2d',
    kwargs: { kernel_size: k, ...opts },
  });
}
for (const [k, opts] of [[2, {}], [3, { stride: 2, padding: 1 }], [3, { stride: 1, padding: 1, countIncludePad: false }], [[2, 3], { padding: [1, 1], divisorOverride: 4 }]] as const) {
  const { countIncludePad, divisorOverride, ...rest } = opts as AvgPool2dOptions;
  cases.push({
    label: `avgPool2d kernel ${JSON.stringify(k)} ${JSON.stringify(opts)}`,
    shapes: [[2, 3, 7, 6]],
    run: (x) => F.avgPool2d(x!, k as Size2d, opts as AvgPool2dOptions),
    op: 'avg_pool2d',
    kwargs: { kernel_size: k, ...rest, ...(countIncludePad !== undefined ? { count_include_pad: countIncludePad } : {}), ...(divisorOverride ? { divisor_override: divisorOverride } : {}) },
  });
}
for (const opts of [
  { scaleFactor: 2 }, { size: [7, 4] }, { scaleFactor: [1.5, 0.7] }, { size: [3, 9] },
  { scaleFactor: 2, mode: 'bilinear' }, { size: [7, 4], mode: 'bilinear' }, { scaleFactor: [1.5, 0.7], mode: 'bilinear' },
  { size: [9, 3], mode: 'bilinear', alignCorners: true }, { scaleFactor: 2, mode: 'bilinear', alignCorners: true },
] as InterpolateOptions[]) {
  cases.push({
    label: `interpolate ${JSON.stringify(opts)}`,
    shapes: [[2, 2, 5, 6]],
    run: (x) => F.interpolate(x!, opts),
    op: 'interpolate',
    kwargs: { size: opts.size, scale_factor: opts.scaleFactor, mode: opts.mode ?? 'nearest', ...(opts.alignCorners !== undefined ? { align_corners: opts.alignCorners } : {}) },
  });
}
for (const [shape, groups, affine] of [[[2, 6, 3, 4], 3, true], [[3, 4, 5], 2, false], [[2, 4, 2, 2], 4, true], [[2, 6], 1, true]] as const) {
  cases.push({
    label: `groupNorm ${JSON.stringify(shape)} groups ${groups} affine ${affine}`,
    shapes: [[...shape], affine ? [shape[1]] : null, affine ? [shape[1]] : null],
    run: (x, w, b) => F.groupNorm(x!, groups, w, b, 1e-5),
    op: 'group_norm',
    kwargs: { num_groups: groups, eps: 1e-5 },
    names: ['input', 'weight', 'bias'],
  });
}
cases.push({ label: 'silu', shapes: [[3, 4]], run: (x) => F.silu(x!), op: 'silu', kwargs: {} });

interface Reference { shape: number[]; out: number[]; grads: number[][] }

/** Largest |a − b| relative to 1 + |b|. */
function maxErr(a: ArrayLike<number>, b: readonly number[]): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
  return m;
}

describe.skipIf(skip)('convolution and friends against PyTorch 2.13 (float64)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsgrad-conv-'));
  const drawn: { inputs: (Tensor | null)[]; out: Tensor; w: Tensor }[] = [];
  let refs: Reference[];

  beforeAll(async () => {
    manualSeed(7);
    const json = cases.map((c) => {
      const inputs = c.shapes.map((s) => (s ? randn(s, { dtype: 'float64', requiresGrad: true }) : null));
      const out = c.run(...inputs);
      const w = randn(out.shape, { dtype: 'float64' });
      drawn.push({ inputs, out, w });
      const wire = (t: Tensor) => ({ data: Array.from(t.dataSync()), shape: t.shape });
      return { op: c.op, inputs: inputs.map((t) => (t ? wire(t) : null)), kwargs: c.kwargs, names: c.names, w: wire(w) };
    });
    writeFileSync(join(dir, 'cases.json'), JSON.stringify(json));
    refs = await runHfPython<Reference[]>(join(import.meta.dirname, 'conv_reference.py'), [join(dir, 'cases.json')]);
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(cases.map((c, i) => [c.label, i] as const))('%s', (label, i) => {
    const { inputs, out, w } = drawn[i]!;
    const ref = refs[i]!;
    expect(out.shape, label).toEqual(ref.shape);
    expect(maxErr(out.dataSync(), ref.out), `${label}: output`).toBeLessThan(1e-12);
    const present = inputs.filter((t): t is Tensor => t !== null);
    const grads = grad(out.mul(w).sum(), present);
    grads.forEach((g, j) => expect(maxErr(g!.dataSync(), ref.grads[j]!), `${label}: gradient of input ${j}`).toBeLessThan(1e-12));
  });
});
