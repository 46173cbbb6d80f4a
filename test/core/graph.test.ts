import { describe, expect, it } from 'vitest';
import { printGraph, tensor, toDot, toSvg } from '../../src/index.js';

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
        '  t1_op -> t1;',
        '  t2_op -> t2;',
        '  t3 -> t2_op;',
        '  t4 -> t2_op [style=dashed,color=gray];',
        '  t2 -> t1_op;',
        '  t5_op -> t5;',
        '  t2 -> t5_op;',
        '  t5 -> t1_op;',
        '  t1 -> t0_op;',
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

  it('lays out a deep chain (no recursion)', () => {
    let t = tensor([1], { requiresGrad: true });
    for (let i = 0; i < 2000; i++) t = t.mul(1);
    const svg = toSvg(t);
    expect((svg.match(/<ellipse /g) ?? []).length).toBe(2000);
    expect(svg).not.toMatch(/NaN|undefined/);
  });
});
