// Regressions of the reliability issue, one per kind: raw errors, silent wrong results and
// valid input refused. Expected values are PyTorch 1.13's (checked by hand), not this code's.
import { describe, expect, it } from 'vitest';
import { Tensor, TsgradError, arange, cat, fromTypedArray, nn, ones, randn, stack, tensor, where, zeros } from '../../src/index.js';
import { tensorMethodSpecs } from '../../src/core/ops/define.js';
import { errorOf } from '../errorOf.js';

const F = nn.functional;
const anyV = (v: unknown) => v as never;

describe('bad arguments get a TsgradError naming the call', () => {
  it.each([
    ['where with a boolean condition', () => where(anyV(true), randn([2]), randn([2])), /^where: expected a Tensor, got boolean true \(cond\)/],
    ['linear without input', () => F.linear(anyV(undefined), randn([2, 2])), /^linear: expected a Tensor or nested arrays of numbers, got undefined/],
    ['indexSelect with a boolean index', () => randn([3]).indexSelect(0, anyV(true)), /^indexSelect: expected a Tensor, got boolean true \(index\)/],
    ['a shape of 2^53 elements', () => zeros([2 ** 53]), /^full: shape \[9007199254740992\] holds 9007199254740992 elements; a tensor holds at most 2147483647/],
    ['an unknown dtype in randn', () => randn([2], { dtype: anyV('float8') }), /^randn: unknown dtype 'float8'/],
    ['a string as data', () => tensor(anyV('abc')), /^tensor: data must be a number, nested arrays of numbers or a typed array, got string 'abc'/],
    ['a BigInt64Array', () => tensor(anyV(new BigInt64Array(2))), /^tensor: cannot make a tensor from a BigInt64Array/],
    ['cat of a non-array', () => cat(anyV(randn([2]))), /^cat: tensors must be a non-empty array of tensors, got a \[2\] float32 tensor/],
    ['sum keepdim as a string', () => randn([2]).sum(0, anyV('yes')), /^sum: keepdim must be a boolean, got string 'yes'/],
    ['slice with a step of 0', () => randn([4]).slice([[0, 4, 0]]), /^slice: range \[0,4,0\] on dim 0 has step 0; steps must be positive/],
    ['gelu with an unknown approximation', () => randn([2]).gelu(anyV({ approximate: 'fast' })), /^gelu: approximate must be 'none' or 'tanh', got fast/],
    ['clamp with a string bound', () => randn([2]).clamp(anyV('0')), /^clamp: min must be a Tensor, a number or null, got string '0'/],
    ['clamp_ with an array bound', () => randn([2]).clamp_(null, anyV([1])), /^clamp_: max must be a Tensor, a number or null, got an array/],
    ['cumsum along a fractional axis', () => randn([3]).cumsum(0.5), /^cumsum: axis must be an integer, got number 0.5/],
    ['sort with a string order', () => randn([3]).sort(0, anyV('desc')), /^sort: descending must be a boolean, got string 'desc'/],
    ['topk without k', () => randn([3]).topk(anyV(undefined)), /^topk: k must be an integer, got undefined/],
    ['split by a string', () => randn([4]).split(anyV('2')), /^split: sizes must be a number or a list of numbers, got string '2'/],
    ['logsumexp without an axis', () => randn([2]).logsumexp(anyV(undefined)), /^logsumexp: axis must be a number or a list of numbers, got undefined/],
    ['fill_ with null', () => zeros([2]).fill_(anyV(null)), /^fill_: value must be a number, got null/],
    ['flatten from a string dim', () => randn([2, 2]).flatten(anyV('1')), /^flatten: startDim must be an integer, got string '1'/],
  ])('%s', (_, fn, message) => {
    expect(errorOf(fn).message).toMatch(message);
  });

  it('names the method for a disposed tensor, and never hands it back', () => {
    const t = randn([2, 2]);
    t.dispose();
    expect(errorOf(() => t.reshape([2, 2])).message).toBe('reshape: tensor of shape [2,2] was disposed and cannot be used');
    expect(errorOf(() => t.contiguous()).message).toMatch(/^contiguous: tensor of shape \[2,2\] was disposed/);
    expect(errorOf(() => randn([2]).add(t)).message).toMatch(/^add: other of shape \[2,2\] was disposed/);
    expect(errorOf(() => t.cumsum(0)).message).toBe('cumsum: tensor of shape [2,2] was disposed and cannot be used');
    expect(errorOf(() => t.dataSync()).message).toBe('dataSync: tensor of shape [2,2] was disposed and cannot be used');
    expect(errorOf(() => t.itemSync()).message).toBe('itemSync: tensor of shape [2,2] was disposed and cannot be used');
  });

  it('every public Tensor method is an op with an argument specification, or one of the class core', () => {
    const core = ['constructor', 'requiresGrad_', 'retainGrad', 'dispose', 'backward', 'detach', 'data', 'toArray', 'item', 'dataSync', 'arraySync', 'itemSync', 'to', 'toString'];
    const methods = Object.getOwnPropertyNames(Tensor.prototype)
      .filter((n) => !n.startsWith('_') && typeof Object.getOwnPropertyDescriptor(Tensor.prototype, n)!.value === 'function');
    expect(methods.filter((n) => !core.includes(n) && !tensorMethodSpecs().has(n))).toEqual([]);
    expect(methods.length).toBeGreaterThan(80);
  });

  it('a method composed of other ops reports under its own name, not theirs', () => {
    // clip runs lt/gt and where; var runs sub and mean; the caller wrote clip and var.
    expect(errorOf(() => randn([2]).clip(randn([3]))).message).toBe('clip: shapes [2] and [3] cannot be broadcast (dim -1: 2 vs 3)');
    expect(errorOf(() => randn([2]).var(3)).message).toMatch(/^var: axis 3 is out of range/);
    expect(errorOf(() => zeros([2]).add_(tensor([1, 2, 3]))).message).toMatch(/^add_: /);
  });

  it('composite ops report themselves, with the shapes given', () => {
    expect(errorOf(() => stack([randn([2]), randn([3])])).message).toBe('stack: needs tensors of one shape, got [2], [3]');
    expect(errorOf(() => F.embedding(tensor([5], { dtype: 'int32' }), randn([3, 2]))).message)
      .toBe('embedding: index 5 is out of range for a table of 3 rows (weight [3,2]; valid: 0..2)');
    expect(errorOf(() => F.crossEntropy(randn([2, 3]), tensor([0, 7], { dtype: 'int32' }))).message)
      .toBe('crossEntropy: target 7 is out of range for 3 classes (logits [2,3]; valid: 0..2 or ignoreIndex -100)');
    expect(errorOf(() => tensor([1, 2], { dtype: 'int32' }).softmax(0)).message).toMatch(/^softmax: needs a float tensor, got \[2\] int32/);
    expect(errorOf(() => randn([2, 3, 4]).matmul(randn([3, 4, 5]))).message)
      .toBe('matmul: shapes [2,3,4] and [3,4,5] are incompatible: batch dims [2] and [3] cannot be broadcast');
  });
});

describe('no silent wrong results', () => {
  it('linear refuses a bias that is not one per output feature', () => {
    expect(errorOf(() => F.linear(randn([2, 3]), randn([4, 3]), randn([2, 1]))).message).toBe('linear: bias must be [4] (one per output feature of weight [4,3]), got [2,1]');
    expect(F.linear(randn([2, 3]), randn([4, 3]), randn([4])).shape).toEqual([2, 4]);
  });

  it('int32 creation refuses what int32 cannot hold and truncates fractions', () => {
    expect(errorOf(() => tensor([3e9], { dtype: 'int32' })).message).toMatch(/^tensor: value 3000000000 at flat index 0 does not fit in int32/);
    expect(errorOf(() => tensor([1, NaN], { dtype: 'int32' })).message).toMatch(/^tensor: value NaN at flat index 1 does not fit in int32/);
    expect(errorOf(() => ones([1], { dtype: 'int32' }).mul(2 ** 40)).message).toMatch(/^mul: 1099511627776 does not fit in int32/);
    expect(tensor([2.7, -2.7, -(2 ** 31)], { dtype: 'int32' }).dataSync()).toEqual(new Int32Array([2, -2, -(2 ** 31)]));
  });

  it('int32 sums that leave int32 are refused instead of wrapping', () => {
    expect(errorOf(() => tensor([2 ** 31 - 1, 1], { dtype: 'int32' }).sum()).message)
      .toMatch(/^sum: the int32 sum of \[2\] over axes \[0\] is 2147483648, beyond int32/);
    expect(tensor([2 ** 31 - 1, 1, -5], { dtype: 'int32' }).sum().itemSync()).toBe(2 ** 31 - 5);
  });

  it('slice takes its step', () => {
    const x = tensor([0, 1, 2, 3, 4, 5], { requiresGrad: true });
    const y = x.slice([[0, 6, 2]]);
    expect(Array.from(y.dataSync())).toEqual([0, 2, 4]);
    expect(Array.from(x.slice([[1, 6, 4]]).dataSync())).toEqual([1, 5]);
    y.mul(tensor([1, 2, 3])).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([1, 0, 2, 0, 3, 0]);
    const m = tensor([[1, 2, 3], [4, 5, 6]]).slice([[0, 2], [2, -4, 1]]);
    expect(m.shape).toEqual([2, 0]);
  });

  it('relu, maximum and minimum propagate NaN as PyTorch does', () => {
    expect(Array.from(tensor([NaN, -1, 2]).relu().dataSync())).toEqual([NaN, 0, 2]);
    expect(Array.from(tensor([NaN, 1, 3]).maximum(tensor([1, NaN, 2])).dataSync())).toEqual([NaN, NaN, 3]);
    expect(Array.from(tensor([NaN, 1, 3]).minimum(tensor([1, NaN, 2])).dataSync())).toEqual([NaN, NaN, 2]);
  });

  it('narrow typed arrays are widened to int32 storage', () => {
    for (const data of [new Uint8Array([44, 2]), new Int8Array([44, 2]), new Uint16Array([44, 2]), new Int16Array([44, 2]), new Uint8ClampedArray([44, 2])]) {
      const t = tensor(data);
      expect(t.dtype).toBe('int32');
      t.copy_(tensor([300, 70000], { dtype: 'int32' }));
      expect(Array.from(t.dataSync())).toEqual([300, 70000]);
    }
    expect(fromTypedArray(new Uint8Array([1, 2]), [2], { dtype: 'float32' }).dataSync()).toEqual(new Float32Array([1, 2]));
    expect(errorOf(() => tensor(new Uint32Array([2 ** 32 - 1]))).message).toMatch(/^tensor: value 4294967295 at flat index 0 does not fit in int32/);
  });

  it("0 ** 0 has gradient 0 in the base (PyTorch's convention)", () => {
    const x = tensor([0, 2], { requiresGrad: true });
    x.pow(0).sum().backward();
    expect(Array.from(x.grad!.dataSync())).toEqual([0, 0]);
    const a = tensor([0, 3], { requiresGrad: true }), b = tensor([0, 2], { requiresGrad: true });
    a.pow(b).sum().backward();
    expect(Array.from(a.grad!.dataSync())).toEqual([0, 6]);
    expect(b.grad!.dataSync()[0]).toBe(0);
  });
});

describe('valid input PyTorch accepts', () => {
  it('softmax of an empty tensor and of a 0-d tensor; argmax of a 0-d tensor', () => {
    expect(zeros([3, 0]).softmax(1).shape).toEqual([3, 0]);
    expect(zeros([0, 3]).logSoftmax(1).shape).toEqual([0, 3]);
    expect(tensor(2).softmax(-1).itemSync()).toBe(1);
    expect(tensor(2).logSoftmax(0).itemSync()).toBe(0);
    const a = tensor(3).argmax(0);
    expect([a.shape, a.dtype, a.itemSync()]).toEqual([[], 'int32', 0]);
    expect(tensor(3).argmin(-1).itemSync()).toBe(0);
    expect(errorOf(() => tensor(3).argmax(1)).message).toMatch(/^argmax: axis 1 is out of range for a 0-d tensor/);
  });

  it('the gradient of softmax through a 0-d tensor is 0', () => {
    const x = tensor(2, { requiresGrad: true });
    x.softmax(0).backward();
    expect(x.grad!.itemSync()).toBe(0);
  });
});

describe('creation options', () => {
  it('name the creating op, whatever is wrong with them', () => {
    expect(errorOf(() => randn([2], { backend: 'nope' })).message).toMatch(/^randn: unknown backend 'nope'/);
    expect(errorOf(() => arange(3, undefined, 1, { backend: 'nope' })).message).toMatch(/^arange: unknown backend 'nope'/);
    expect(errorOf(() => tensor(0, anyV(randn([1])))).message).toMatch(/^tensor: options must be an object such as \{ dtype: 'float32' \}, got a \[1\] float32 tensor/);
    expect(errorOf(() => new nn.Linear(2 ** 31, 2)).message).toMatch(/^Linear: shape \[2,2147483648\] holds 4294967296 elements/);
  });
});
