// Bad input gets a TsgradError that names the op and the offending shapes, axes or dtypes.
import { describe, expect, it } from 'vitest';
import { TsgradError, arange, cat, full, nn, ones, randn, setBackend, tensor, zeros } from '../../src/index.js';
import { errorOf } from '../errorOf.js';

describe('errors', () => {
  it.each([
    ['matmul inner dims', () => zeros([3, 4]).matmul(zeros([5, 6])), /^matmul: shapes \[3,4\] and \[5,6\] are incompatible \(inner dimensions 4 and 5\)/],
    ['broadcast', () => zeros([2, 3]).add(zeros([4])), /^add: shapes \[2,3\] and \[4\] cannot be broadcast/],
    ['bad axis', () => zeros([2, 3]).sum(2), /^sum: axis 2 is out of range for a tensor of rank 2/],
    ['repeated axis', () => zeros([2, 3]).sum([1, -1]), /^sum: axes \[1,-1\] repeat an axis/],
    ['reshape', () => zeros([2, 3]).reshape([4, 2]), /^reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\]/],
    ['permute', () => zeros([2, 3]).permute([0]), /^permute: needs 2 dims/],
    ['expand', () => zeros([2, 3]).expand([4, 3]), /^expand: cannot expand \[2,3\] to \[4,3\]/],
    ['ragged', () => tensor([[1, 2], [3]]), /^tensor: nested arrays are ragged/],
    ['data size', () => tensor(new Float32Array(3), { shape: [2, 2] }), /^tensor: data has 3 elements but shape \[2,2\] needs 4/],
    ['unknown dtype', () => zeros([2], { dtype: 'float8' as never }), /^full: unknown dtype 'float8'/],
    ['non-scalar backward', () => randn([3], { requiresGrad: true }).mul(2).backward(), /^backward: output of shape \[3\] is not a scalar/],
    ['backward without graph', () => ones([1]).backward(), /^backward: tensor of shape \[1\] does not require grad/],
    ['gradient shape', () => randn([3], { requiresGrad: true }).mul(2).backward(ones([2])), /^backward: gradient of shape \[2\] does not match output of shape \[3\]/],
    ['int requiresGrad', () => tensor([1], { dtype: 'int32' }).requiresGrad_(), /^requiresGrad: only float tensors can require gradients, got int32/],
    ['log of int', () => tensor([1], { dtype: 'int32' }).log(), /^log: needs a float tensor, got \[1\] int32/],
    ['gather range', () => zeros([2, 3]).gather(1, tensor([[3], [0]], { dtype: 'int32' })), /^gather: index 3 is out of range for axis 1 of size 3/],
    ['gather range, broadcast index', () => zeros([2, 3]).gather(1, tensor([[0], [-1]], { dtype: 'int32' }).expand([2, 3])), /^gather: index -1 is out of range for axis 1 of size 3/],
    ['gather dtype', () => zeros([2, 3]).gather(1, zeros([2, 1])), /^gather: index must be int32, got float32/],
    ['crossEntropy targets', () => nn.functional.crossEntropy(zeros([2, 3]), zeros([2])), /^crossEntropy: targets must be int32 class indices, got float32/],
    ['crossEntropy shape', () => nn.functional.crossEntropy(zeros([2, 3]), tensor([0], { dtype: 'int32' })), /^crossEntropy: targets of shape \[1\] must be \[N\] for logits \[2,3\]/],
    ['mseLoss shapes', () => nn.functional.mseLoss(zeros([2]), zeros([3])), /^mseLoss: input \[2\] and target \[3\] must have one shape/],
    ['linear features', () => nn.functional.linear(zeros([2, 3]), zeros([4, 5])), /^linear: input \[2,3\] has 3 features but weight \[4,5\] expects 5/],
    ['dropout p', () => nn.functional.dropout(zeros([2]), 1, true), /^dropout: p must be in \[0, 1\), got 1/],
    ['cat shapes', () => cat([zeros([2, 3]), zeros([2, 4])], 0), /^cat: shapes \[2,3\], \[2,4\] differ outside axis 0/],
    ['cat dtypes', () => cat([zeros([2]), zeros([2], { dtype: 'int32' })], 0), /^cat: dtypes differ \(float32 and int32\)/],
    ['max of empty', () => zeros([0, 2]).max(0), /^max: cannot take the max over an empty axis of shape \[0,2\]/],
    ['mean of empty', () => zeros([0]).mean(), /^mean: cannot average over empty axes of shape \[0\]/],
  ])('%s', (_, fn, message) => {
    expect(errorOf(fn).message).toMatch(message);
  });

  it('names the backend to initialize', async () => {
    await expect(setBackend('nope')).rejects.toThrow(/setBackend: unknown backend 'nope'; registered: cpu/);
    expect(() => zeros([1], { backend: 'webgpu' })).toThrow(/backend 'webgpu' is not initialized; await setBackend\('webgpu'\)/);
  });

  it('errors carry the op name', () => {
    expect(errorOf(() => zeros([3]).transpose(0, 1)).op).toBe('transpose');
  });
});

describe('bad input from untyped callers', () => {
  const anyT = (v: unknown) => v as never;
  it.each([
    ['negative shape', () => tensor(new Float32Array(6), { shape: [-2, -3] }), /^tensor: shape \[-2,-3\] must be a list of non-negative integers/],
    ['number as shape', () => zeros(anyT(3)), /^full: shape 3 must be a list of non-negative integers/],
    ['expand to -1 leading', () => tensor([1, 2, 3]).expand([-1, 3]), /^expand: target \[-1,3\] must hold non-negative integers/],
    ['expand fractional', () => tensor([1]).expand([2.5]), /^expand: target \[2.5\] must hold non-negative integers/],
    ['cat of 0-d', () => cat([tensor(1), tensor(2)]), /^cat: 0-d tensors cannot be joined along an axis; use stack/],
    ['add a string', () => tensor([1]).add(anyT('a')), /^add: expected a Tensor, got string/],
    ['add null', () => tensor([1]).add(anyT(null)), /^add: expected a Tensor, got null/],
    ['matmul a number', () => tensor([[1]]).matmul(anyT(2)), /^matmul: expected a Tensor, got number/],
    ['axis as string', () => tensor([1]).sum(anyT('1')), /^sum: axis must be a number or a list of numbers, got string/],
    ['backward with an array', () => tensor([1, 2], { requiresGrad: true }).mul(2).backward(anyT([1, 1])), /^backward: the gradient must be a Tensor, got an array/],
    ['backward with another dtype', () => tensor([1, 2], { requiresGrad: true }).mul(2).backward(tensor([1, 1], { dtype: 'float64' })), /^backward: gradient is float64 on 'cpu' but the output is float32 on 'cpu'/],
    ['full with a string', () => full([2], anyT('a')), /^full: value must be a number, got string/],
    ['arange to infinity', () => arange(Infinity), /^arange: needs finite start, end and a non-zero step/],
    ['int32 overflow', () => tensor([1], { dtype: 'int32' }).add(3e9), /^add: 3000000000 does not fit in int32/],
    ['0-d axis out of range', () => tensor(1).sum(1), /^sum: axes \[1\] are out of range for a 0-d tensor \(valid: 0 or -1\)/],
  ])('%s', (_, fn, message) => {
    expect(errorOf(fn).message).toMatch(message);
  });

  it('0-d tensors accept axis 0 and -1, as in PyTorch', () => {
    expect(tensor(5).sum(-1).itemSync()).toBe(5);
    expect(tensor(5).max(0, true).shape).toEqual([]);
  });
});
