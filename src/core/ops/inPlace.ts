import { isGradEnabled, noGrad } from '../autograd.js';
import { check, fmt } from '../errors.js';
import { broadcastShapes, shapesEqual } from '../shape.js';
import type { Tensor } from '../tensor.js';
import { isTensor } from '../validate.js';
import { clampAs } from './clamp.js';
import { defineMethod } from './define.js';
import { fullLike } from './elementwise.js';

// In-place updates, for optimizer steps and weight surgery: each is validated whole, computed
// outside the graph, then written with copy_, which bumps the storage's version so a graph
// that saved the old values refuses to run backward.

/** Validates an in-place update of `x` by `op`, computes it without a graph, then writes it. */
function inPlace(op: string, x: Tensor, operands: readonly unknown[], compute: () => Tensor): Tensor {
  check(!x.gradFn, op, () => 'cannot change a tensor produced by a recorded op in place; detach() it first');
  check(!(x.requiresGrad && isGradEnabled()), op, () =>
    `tensor of shape ${fmt(x.shape)} requires grad, so it may change in place only inside noGrad(() => ...)`);
  for (const operand of operands) {
    if (!isTensor(operand)) continue;
    check(operand.backend === x.backend, op, () => `operand is on '${operand.backend}' but this tensor is on '${x.backend}'; move it with await t.to('${x.backend}')`);
    check(shapesEqual(broadcastShapes(op, x.shape, operand.shape), x.shape), op, () =>
      `operand of shape ${fmt(operand.shape)} does not broadcast to this tensor's shape ${fmt(x.shape)}`);
  }
  const value = noGrad(compute);
  x.copy_(value);
  value.dispose();
  return x;
}

declare module '../tensor.js' {
  interface Tensor {
    /** Sets every element to 0, in place (see `add_`). @example noGrad(() => w.zero_()) */
    zero_(): this;
    /** Sets every element to `value`, in place (see `add_`). @example noGrad(() => w.fill_(0.5)) */
    fill_(value: number): this;
    /**
     * Adds `other` (broadcast to this shape) in place. In-place ops bump the version counter, so
     * a graph that saved this tensor refuses to run backward; on a tensor that requires grad they
     * are allowed only inside `noGrad`.
     *
     * @example
     * noGrad(() => w.add_(w.grad!.mul(-0.1)));
     */
    add_(other: Tensor | number): this;
    /** Multiplies by `other` in place (see `add_`). @example noGrad(() => w.mul_(0.9)) */
    mul_(other: Tensor | number): this;
    /** Clamps in place (see `add_`). @example noGrad(() => w.clamp_(-1, 1)) */
    clamp_(min?: Tensor | number | null, max?: Tensor | number | null): this;
  }
}

defineMethod('zero_', [], function () { return inPlace('zero_', this, [], () => fullLike(this, 0)); });
defineMethod('fill_', ['value:number'], function (value) { return inPlace('fill_', this, [], () => fullLike(this, value)); });
defineMethod('add_', ['other:operand'], function (other) { return inPlace('add_', this, [other], () => this.add(other)); });
defineMethod('mul_', ['other:operand'], function (other) { return inPlace('mul_', this, [other], () => this.mul(other)); });
defineMethod('clamp_', ['min:bound?', 'max:bound?'], function (min, max) {
  return inPlace('clamp_', this, [min, max], () => clampAs('clamp_', this, min, max));
});
