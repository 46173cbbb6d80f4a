import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../../src/backends/cpu/index.js';
import { installBackend } from '../../../src/core/backend.js';
import { nn, printGraph, randn, tensor, toDot, toSvg, traceBackward } from '../../../src/index.js';

/** x·w + tanh(x·w), summed: a leaf, a frozen weight, a value used twice. */
function example() {
  const x = tensor([1, 2], { requiresGrad: true });
  const w = tensor([0.5, -1]);
  const h = x.mul(w).retainGrad();
  const y = h.add(h.tanh()).sum();
  y.backward(undefined, { retainGraph: true });
  return y;
}

describe('printGraph', () => {
  it('prints every tensor once, then refers to it by number', () => {
    expect(printGraph(example())).toBe(
      [
        '#0 sum [] float32',
        '  #1 add [2] float32',
        '    #2 mul [2] float32',
        '      #3 leaf (requires grad) [2] float32',
        '      #4 constant [2] float32',
        '    #5 tanh [2] float32',
        '      #2 (see above)',
      ].join('\n'),
    );
  });
});

describe('toDot', () => {
  it('draws op nodes apart from tensor nodes and dashes the frozen input', () => {
    expect(toDot(example())).toBe(
      [
        'digraph autograd {',
        '  rankdir=LR;',
        '  node [fontname="monospace",fontsize=10];',
        '  t0 [label="[] float32",shape=box,penwidth=2];',
        '  t0_op [label="sum",shape=ellipse,style=filled,fillcolor=lightyellow];',
        '  t1 [label="[2] float32",shape=box];',
        '  t1_op [label="add",shape=ellipse,style=filled,fillcolor=lightyellow];',
        '  t2 [label="[2] float32",shape=box];',
        '  t2_op [label="mul",shape=ellipse,style=filled,fillcolor=lightyellow];',
        '  t3 [label="leaf [2] float32",shape=box,style=filled,fillcolor=lightblue];',
        '  t4 [label="frozen [2] float32",shape=box,style=dashed];',
        '  t5 [label="[2] float32",shape=box];',
        '  t5_op [label="tanh",shape=ellipse,style=filled,fillcolor=lightyellow];',
        '  t0_op -> t0;',
        '  t1 -> t0_op;',
        '  t1_op -> t1;',
        '  t2 -> t1_op;',
        '  t5 -> t1_op;',
        '  t2_op -> t2;',
        '  t3 -> t2_op;',
        '  t4 -> t2_op [style=dashed,color=gray];',
        '  t5_op -> t5;',
        '  t2 -> t5_op;',
        '}',
      ].join('\n'),
    );
  });

  it('adds data and .grad on request, for leaves and retained intermediates', () => {
    const dot = toDot(example(), { values: true, grads: true });
    // h = x·w = [0.5, -2]; dy/dh = 1 + (1 − tanh²h); dy/dx = w · dy/dh.
    const dh = [0.5, -2].map((v) => 2 - Math.tanh(v) ** 2);
    const p = (v: number) => String(Number(v.toPrecision(4)));
    expect(dot).toContain(`t2 [label="[2] float32\\ndata [0.5, -2]\\ngrad [${dh.map(p).join(', ')}]",shape=box];`);
    expect(dot).toContain(`t3 [label="leaf [2] float32\\ndata [1, 2]\\ngrad [${p(0.5 * dh[0]!)}, ${p(-dh[1]!)}]"`);
    expect(dot).toContain('t4 [label="frozen [2] float32\\ndata [0.5, -1]",'); // no grad line: it gets none
    expect(dot).toContain('t5 [label="[2] float32\\ndata [0.4621, -0.964]",'); // not retained: no grad line
  });

  it('shows what each op saved for backward, and that release dropped it', () => {
    const x = tensor([1, 2], { requiresGrad: true });
    const y = x.exp().add(x.gather(0, tensor([1, 0], { dtype: 'int32' }))).sum();
    const ops = (dot: string) => dot.split('\n').filter((l) => l.includes('_op [')).map((l) => l.match(/label="([^"]*)"/)![1]);
    expect(ops(toDot(y, { saved: true }))).toEqual(['sum\\nsaves nothing', 'add\\nsaves nothing', 'exp\\nsaves out', 'gather\\nsaves [2] int32']);
    y.backward();
    expect(ops(toDot(y, { saved: true }))).toEqual(['sum\\nreleased', 'add\\nreleased', 'exp\\nreleased', 'gather\\nreleased']);
  });

  it('shortens large tensors', () => {
    const big = tensor(Array.from({ length: 10 }, (_, i) => i), { requiresGrad: true });
    expect(toDot(big.sum(), { values: true })).toContain('data [0, 1, 2, 3, 4, 5, …]');
  });
});

describe('toSvg', () => {
  const numbers = (svg: string, tag: string, attr: string) =>
    [...svg.matchAll(new RegExp(`<${tag} [^>]*?\\b${attr}="([-\\d.]+)"`, 'g'))].map((m) => Number(m[1]));

  it('draws one box per tensor, one ellipse per op and one path per edge', () => {
    const svg = toSvg(example(), { values: true, grads: true });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.endsWith('</svg>')).toBe(true);
    expect((svg.match(/<rect x=/g) ?? []).length).toBe(6); // the background rect has no x
    expect((svg.match(/<ellipse /g) ?? []).length).toBe(4);
    expect((svg.match(/<path d="M[^"]*" fill="none"/g) ?? []).length).toBe(10);
    expect((svg.match(/<path [^>]*stroke-dasharray/g) ?? []).length).toBe(1); // the frozen weight's edge
    expect(svg).toContain('>grad [0.8932, -1.071]</text>');
  });

  it('lays boxes out without overlaps, inside the picture', () => {
    const svg = toSvg(example(), { values: true, grads: true });
    const [xs, ys, ws, hs] = ['x', 'y', 'width', 'height'].map((a) => numbers(svg, 'rect', a));
    const W = Number(svg.match(/width="(\d+)"/)![1]), H = Number(svg.match(/height="(\d+)"/)![1]);
    const boxes = xs!.map((x, i) => ({ x, y: ys![i]!, w: ws![i]!, h: hs![i]! }));
    for (const [i, a] of boxes.entries()) {
      expect(a.x >= 0 && a.y >= 0 && a.x + a.w <= W && a.y + a.h <= H).toBe(true);
      for (const b of boxes.slice(i + 1)) {
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        expect(apart).toBe(true);
      }
    }
  });

  it('lays out a chain too deep for recursion', () => {
    let t = tensor([1], { requiresGrad: true });
    for (let i = 0; i < 10000; i++) t = t.mul(1);
    const svg = toSvg(t);
    expect((svg.match(/<ellipse /g) ?? []).length).toBe(10000);
    expect(svg).not.toMatch(/NaN|undefined/);
  });
});

describe('names', () => {
  /** A LoRA-adapted MLP's loss on data, with a float constant (a per-example weight) mixed in. */
  function adapted() {
    const model = new nn.Sequential(new nn.Linear(3, 5), new nn.Tanh(), new nn.Linear(5, 2));
    nn.applyLoRA(model, { targets: ['0', '2'], rank: 2 });
    const x = randn([4, 3]).tanh(); // data that needs no gradient
    const perExample = tensor([1, 0.5, 0.5, 1]);
    return { model, loss: model.forward(x).pow(2).sum(1).mul(perExample).mean() };
  }
  const labels = (dot: string) => [...dot.matchAll(/^ {2}t\d+ \[label="([^"\\]*)[^"]*",shape=box,?([^\]]*)\];$/gm)].map((m) => `${m[1]} | ${m[2]}`);

  it("labels parameters by their module path, as the model's namedParameters names them", () => {
    const { model, loss } = adapted();
    expect(model.namedParameters().map(([n]) => n)).toEqual(expect.arrayContaining(['0.loraA', '0.base.weight', '2.loraB']));
    const got = labels(toDot(loss, { names: model.namedParameters() }));
    for (const want of [
      '0.loraA [2,3] float32 | style=filled,fillcolor=lightblue',
      '0.loraB [5,2] float32 | style=filled,fillcolor=lightblue',
      '2.loraA [2,5] float32 | style=filled,fillcolor=lightblue',
      '2.loraB [2,2] float32 | style=filled,fillcolor=lightblue',
      // The frozen weight enters linear transposed: a view of the named parameter. (Layer 0's
      // frozen path sees only data, so it needs no graph: its output is a constant.)
      '2.base.weight.T [5,2] float32 | style=dashed',
      '2.base.bias [2] float32 | style=dashed',
    ]) expect(got).toContain(want);
  });

  it('keeps "frozen" for named parameters: data and constants are constants', () => {
    const { model, loss } = adapted();
    const got = labels(toDot(loss, { names: model.namedParameters() }));
    expect(got).toContain('constant [4] float32 | color=gray,fontcolor=gray'); // the per-example weights
    expect(got).toContain('constant [4,3] float32 | color=gray,fontcolor=gray'); // the data
    expect(got.filter((l) => l.endsWith('| style=dashed')).every((l) => /^[02]\.base\./.test(l))).toBe(true);
    expect(got.filter((l) => /^(leaf|frozen) /.test(l))).toEqual([]);
    // Without names, a float tensor that needs no gradient is still drawn as frozen.
    expect(labels(toDot(loss))).toContain('frozen [4] float32 | style=dashed');
  });

  it('names the nodes of the SVG too, each with its whole label as a tooltip', () => {
    const { model, loss } = adapted();
    const svg = toSvg(loss, { names: model.namedParameters(), grads: true });
    expect(svg).toContain('>0.loraA [2,3] float32</text>');
    expect(svg).toContain('<g><title>0.loraA [2,3] float32\ngrad none</title>');
  });
});

describe('toSvg top to bottom', () => {
  const boxes = (svg: string) =>
    [...svg.matchAll(/<rect x="([-\d.]+)" y="([-\d.]+)" width="([-\d.]+)" height="([-\d.]+)"/g)].map((m) => m.slice(1).map(Number) as [number, number, number, number]);
  const size = (svg: string) => svg.match(/width="(\d+)" height="(\d+)"/)!.slice(1).map(Number) as [number, number];

  it('stacks a deep graph downwards: as narrow as its widest rank, the result at the bottom', () => {
    let t = tensor([1, 2], { requiresGrad: true });
    for (let i = 0; i < 12; i++) t = t.tanh().mul(2);
    const loss = t.sum();
    const [lrWidth, lrHeight] = size(toSvg(loss));
    const tb = toSvg(loss, { direction: 'TB' });
    const [width, height] = size(tb);
    expect(width).toBeLessThan(lrWidth / 5);
    expect(height).toBeGreaterThan(lrHeight * 5);
    const rects = boxes(tb);
    const result = rects[0]!; // the result is drawn first (t0)
    for (const [x, y, w, h] of rects) {
      expect(x >= 0 && y >= 0 && x + w <= width && y + h <= height).toBe(true);
      expect(y).toBeLessThanOrEqual(result[1]);
    }
    for (const [i, a] of rects.entries()) {
      for (const b of rects.slice(i + 1)) {
        expect(a[0] + a[2] <= b[0] || b[0] + b[2] <= a[0] || a[1] + a[3] <= b[1] || b[1] + b[3] <= a[1]).toBe(true);
      }
    }
    expect(toDot(loss, { direction: 'TB' })).toContain('  rankdir=TB;');
  });
});

describe('on an asynchronous backend', () => {
  // The CPU backend without readSync, as GPU backends are: values can only be awaited.
  const cpu = new CpuBackend();
  installBackend('async-cpu', new Proxy(cpu, {
    get: (t, p) => {
      if (p === 'readSync') return undefined;
      if (p === 'name') return 'async-cpu';
      const v = Reflect.get(t, p, t) as unknown;
      return typeof v === 'function' ? v.bind(t) : v;
    },
  }));

  it('toDot and toSvg say values were not read; traceBackward awaits them', async () => {
    const x = tensor([1, 2], { requiresGrad: true, backend: 'async-cpu' });
    const y = x.mul(x).sum();
    expect(toDot(y, { values: true })).toContain('t1 [label="[2] float32\\ndata on async-cpu (read asynchronously: not shown)",shape=box];');
    expect(toSvg(y, { values: true })).toContain('>data on async-cpu (read asynchronously: not shown)</text>');
    const steps = await traceBackward(y);
    expect(steps.map((s) => s.gradNorm)).toEqual([1, Math.SQRT2, Math.hypot(2, 4)].map((v) => Math.fround(v)));
    expect(await x.grad!.toArray()).toEqual([2, 4]);
  });
});
