import { isFloat } from './dtype.js';
import type { Tensor } from './tensor.js';

// PyTorch's print options: summarise past 1000 elements, keeping 3 at each edge of every dim.
const THRESHOLD = 1000;
const EDGE = 3;

function number(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  return v === Infinity ? 'inf' : v === -Infinity ? '-inf' : '';
}

/** One formatter for all shown values, as PyTorch picks: `1.`, `0.1000` or `1.0000e-05`. */
function formatter(values: number[], float: boolean): (v: number) => string {
  if (!float) return String;
  const finite = values.filter(Number.isFinite).map(Math.abs);
  const nonzero = finite.filter((v) => v !== 0);
  const max = Math.max(0, ...finite), min = nonzero.length ? Math.min(...nonzero) : 0;
  const integral = finite.every(Number.isInteger);
  if (max > 1e8 || (min > 0 && (max / min > 1000 || (!integral && min < 1e-4)))) {
    return (v) => number(v) || v.toExponential(4).replace(/e([+-])(\d)$/, 'e$10$2');
  }
  if (integral) return (v) => number(v) || `${v}.`;
  return (v) => number(v) || v.toFixed(4);
}

/** The indices shown along a dim of size n: all, or the edges around a `-1` (the `...`). */
function shown(n: number, summarise: boolean): number[] {
  const all = Array.from({ length: n }, (_, i) => i);
  return summarise && n > 2 * EDGE ? [...all.slice(0, EDGE), -1, ...all.slice(n - EDGE)] : all;
}

function render(data: ArrayLike<number>, shape: readonly number[], float: boolean, indent: number): string {
  const summarise = data.length > THRESHOLD;
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, d) => p * d, 1));
  const picked: number[] = [];
  const visit = (dim: number, off: number): void => {
    if (dim === shape.length) return void picked.push(data[off]!);
    for (const i of shown(shape[dim]!, summarise)) if (i >= 0) visit(dim + 1, off + i * strides[dim]!);
  };
  visit(0, 0);
  const f = formatter(picked, float);
  const width = Math.max(...picked.map((v) => f(v).length));
  const cell = (v: number) => f(v).padStart(width);
  if (shape.length === 0) return f(data[0]!);
  const rec = (dim: number, off: number): string => {
    const idx = shown(shape[dim]!, summarise);
    if (dim === shape.length - 1) return `[${idx.map((i) => (i < 0 ? '...' : cell(data[off + i]!))).join(', ')}]`;
    const sep = `,${'\n'.repeat(shape.length - 1 - dim)}${' '.repeat(indent + dim + 1)}`;
    return `[${idx.map((i) => (i < 0 ? '...' : rec(dim + 1, off + i * strides[dim]!))).join(sep)}]`;
  };
  return rec(0, 0);
}

/** The printed form of a tensor (`Tensor.toString`): values as PyTorch shows them, then what differs from the defaults. */
export function formatTensor(t: Tensor): string {
  const shape = `[${t.shape.join(', ')}]`;
  if (t.isDisposed) return `tensor(<disposed>, shape=${shape}, dtype=${t.dtype})`;
  const extras: string[] = [];
  if (t.dtype !== 'float32') extras.push(`dtype=${t.dtype}`);
  if (t.backend !== 'cpu') extras.push(`backend='${t.backend}'`);
  if (t.gradFn) extras.push(`gradFn=<${t.gradFn.op}>`);
  else if (t.requiresGrad) extras.push('requiresGrad=true');
  if (!t._backend.readSync) {
    return `tensor(<values on '${t.backend}': read them with await t.toArray() or await t.data()>, shape=${shape}${extras.map((e) => `, ${e}`).join('')})`;
  }
  if (t.size === 0) return `tensor([]${t.ndim === 1 ? '' : `, shape=${shape}`}${extras.map((e) => `, ${e}`).join('')})`;
  const body = render(t.dataSync(), t.shape, isFloat(t.dtype), 'tensor('.length);
  return `tensor(${body}${extras.map((e) => `, ${e}`).join('')})`;
}
