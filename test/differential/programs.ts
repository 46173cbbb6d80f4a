// Random programs of 3–10 ops (elementwise, broadcasting, views, reductions, matmuls), built
// from a list of choices so fast-check shrinks them to short ones, and printed as code.
import fc from 'fast-check';
import { type DType, type Tensor, fromTypedArray, grad } from '../../src/index.js';

/** One step of a program; `leaf` steps bring in a new input of the given shape. */
export type Step =
  | { op: 'tanh' | 'sigmoid' | 'relu' | 'neg' | 'abs' | 'expTanh' | 'square' | 'contiguous' | 'flatten' | 'transpose' | 'reverseDims' }
  | { op: 'scale'; by: number }
  | { op: 'add' | 'mul' | 'maximum'; leaf: number[] }
  | { op: 'matmul'; leaf: number[] }
  | { op: 'sum' | 'mean' | 'max' | 'softmax'; axis: number; keepdim: boolean }
  | { op: 'unsqueeze'; axis: number }
  | { op: 'slice'; dim: number; start: number; step: number }
  | { op: 'expand'; size: number };

export interface Program {
  input: number[];
  steps: Step[];
}

/** The ops that apply to a value of `shape`, each with its parameters drawn from `c`. */
function options(shape: number[], c: number): Step[] {
  const r = shape.length;
  const pick = (n: number) => c % Math.max(n, 1);
  const out: Step[] = [
    { op: 'tanh' }, { op: 'sigmoid' }, { op: 'relu' }, { op: 'neg' }, { op: 'abs' }, { op: 'expTanh' }, { op: 'square' },
    { op: 'scale', by: [0.5, -2, 3][pick(3)]! },
    // A broadcast partner: some dims set to 1, some leading dims dropped.
    { op: 'add', leaf: shape.slice(pick(r + 1)).map((d, i) => ((c >> i) & 1 ? 1 : d)) },
    { op: 'mul', leaf: shape.map((d, i) => ((c >> (i + 1)) & 1 ? 1 : d)) },
    { op: 'maximum', leaf: shape.slice(pick(r + 1)) },
    { op: 'contiguous' },
  ];
  if (r >= 1) {
    out.push({ op: 'matmul', leaf: [shape[r - 1]!, 1 + pick(3)] });
    out.push({ op: 'sum', axis: pick(r), keepdim: (c & 1) === 1 });
    out.push({ op: 'mean', axis: pick(r) - r, keepdim: (c & 2) === 2 });
    out.push({ op: 'softmax', axis: pick(r), keepdim: false });
    if (shape[pick(r)]! > 0) out.push({ op: 'max', axis: pick(r), keepdim: (c & 1) === 1 });
    if (shape[pick(r)]! > 1) out.push({ op: 'slice', dim: pick(r), start: c & 1, step: 1 + ((c >> 1) & 1) });
    out.push({ op: 'flatten' });
  }
  if (r >= 2) out.push({ op: 'transpose' }, { op: 'reverseDims' });
  if (r < 4) out.push({ op: 'unsqueeze', axis: pick(r + 1) });
  if (r < 4) out.push({ op: 'expand', size: 2 + pick(2) });
  return out;
}

/** The shape after `step`, for building the next step. */
function shapeAfter(shape: number[], s: Step): number[] {
  const r = shape.length;
  switch (s.op) {
    case 'add': case 'mul': case 'maximum': {
      const n = Math.max(r, s.leaf.length);
      return Array.from({ length: n }, (_, i) => {
        const a = shape[i - n + r] ?? 1, b = s.leaf[i - n + s.leaf.length] ?? 1;
        return a === 1 ? b : a;
      });
    }
    case 'matmul': return r === 1 ? [s.leaf[1]!] : [...shape.slice(0, -1), s.leaf[1]!];
    case 'sum': case 'mean': case 'max': return s.keepdim ? shape.map((d, i) => (i === (s.axis + r) % r ? 1 : d)) : shape.filter((_, i) => i !== (s.axis + r) % r);
    case 'flatten': return [shape.reduce((a, b) => a * b, 1)];
    case 'transpose': return [...shape.slice(0, -2), shape[r - 1]!, shape[r - 2]!];
    case 'reverseDims': return [...shape].reverse();
    case 'unsqueeze': return [...shape.slice(0, s.axis), 1, ...shape.slice(s.axis)];
    case 'slice': return shape.map((d, i) => (i === s.dim ? Math.ceil(Math.max(0, d - s.start) / s.step) : d));
    case 'expand': return [s.size, ...shape];
    default: return shape;
  }
}

export const programArb: fc.Arbitrary<Program> = fc
  .tuple(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 3 }), fc.array(fc.nat(1 << 16), { minLength: 3, maxLength: 10 }))
  .map(([input, choices]) => {
    const steps: Step[] = [];
    let shape = input;
    for (const c of choices) {
      const opts = options(shape, c);
      const s = opts[(c >> 4) % opts.length]!;
      steps.push(s);
      shape = shapeAfter(shape, s);
    }
    return { input, steps };
  });

/** Deterministic values in [-1, 1] without ties (max and maximum have one winner). */
function values(n: number, salt: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(1 + i * 1.7 + salt * 3.1) * (0.9 + 0.1 * Math.cos(i + salt)));
}

/** Runs `program` on `backend` in `dtype`: the output, and the gradients of Σ w·out for every input. */
export async function runProgram(p: Program, backend: string, dtype: DType): Promise<{ out: number[]; grads: number[][] }> {
  const leaves: Tensor[] = [];
  const leaf = (shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = fromTypedArray(Float64Array.from(values(n, leaves.length)), shape, { backend, dtype, requiresGrad: true });
    leaves.push(t);
    return t;
  };
  let y = leaf(p.input);
  for (const s of p.steps) y = apply(y, s, leaf);
  const w = fromTypedArray(Float64Array.from(values(y.size, 99)), y.shape, { backend, dtype });
  const gs = grad(y.mul(w).sum(), leaves, { allowUnused: true });
  return { out: Array.from(await y.data()), grads: await Promise.all(gs.map(async (g, i) => (g ? Array.from(await g.data()) : new Array<number>(leaves[i]!.size).fill(0)))) };
}

function apply(y: Tensor, s: Step, leaf: (shape: number[]) => Tensor): Tensor {
  const r = y.ndim;
  switch (s.op) {
    case 'tanh': return y.tanh();
    case 'sigmoid': return y.sigmoid();
    case 'relu': return y.relu();
    case 'neg': return y.neg();
    case 'abs': return y.abs();
    case 'expTanh': return y.tanh().exp();
    case 'square': return y.mul(y);
    case 'contiguous': return y.contiguous();
    case 'flatten': return y.flatten();
    case 'transpose': return y.transpose(-1, -2);
    case 'reverseDims': return y.permute(y.shape.map((_, i) => r - 1 - i));
    case 'scale': return y.mul(s.by);
    case 'add': return y.add(leaf(s.leaf));
    case 'mul': return y.mul(leaf(s.leaf));
    case 'maximum': return y.maximum(leaf(s.leaf));
    case 'matmul': return y.matmul(leaf(s.leaf)).tanh();
    case 'sum': return y.sum(s.axis, s.keepdim);
    case 'mean': return y.mean(s.axis, s.keepdim);
    case 'max': return y.max(s.axis, s.keepdim);
    case 'softmax': return y.softmax(s.axis);
    case 'unsqueeze': return y.unsqueeze(s.axis);
    case 'slice': return y.slice(y.shape.map((d, i) => (i === s.dim ? [s.start, d, s.step] : [0, d])) as [number, number, number][]);
    case 'expand': return y.expand([s.size, ...y.shape]);
  }
}

/** The program as code a reader can paste into a test. */
export function programCode(p: Program): string {
  let leaves = 1;
  const next = (shape: number[]) => `leaf${leaves++}(${JSON.stringify(shape)})`;
  const lines = [`let y = leaf0(${JSON.stringify(p.input)});`];
  let shape = p.input;
  for (const s of p.steps) {
    const r = shape.length;
    const call = (() => {
      switch (s.op) {
        case 'expTanh': return 'tanh().exp()';
        case 'square': return 'mul(y)';
        case 'transpose': return 'transpose(-1, -2)';
        case 'reverseDims': return `permute(${JSON.stringify(shape.map((_, i) => r - 1 - i))})`;
        case 'scale': return `mul(${s.by})`;
        case 'add': case 'mul': case 'maximum': return `${s.op}(${next(s.leaf)})`;
        case 'matmul': return `matmul(${next(s.leaf)}).tanh()`;
        case 'sum': case 'mean': case 'max': return `${s.op}(${s.axis}, ${s.keepdim})`;
        case 'softmax': return `softmax(${s.axis})`;
        case 'unsqueeze': return `unsqueeze(${s.axis})`;
        case 'slice': return `slice(${JSON.stringify(shape.map((d, i) => (i === s.dim ? [s.start, d, s.step] : [0, d])))})`;
        case 'expand': return `expand(${JSON.stringify([s.size, ...shape])})`;
        default: return `${s.op}()`;
      }
    })();
    lines.push(`y = y.${call}; // ${JSON.stringify(shapeAfter(shape, s))}`);
    shape = shapeAfter(shape, s);
  }
  return lines.join('\n');
}
