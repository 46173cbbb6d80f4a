import { storageOf } from '../core/seams.js';
import type { StorageRef } from '../core/storage.js';
import type { Tensor } from '../core/tensor.js';
import type { Module } from './module.js';

/** Bytes held by one category of tensors, counting each storage once. */
export interface MemoryCategory {
  bytes: number;
  /** Distinct storages. */
  buffers: number;
  /** Elements in those storages' tensors (a view's elements count once, via its storage). */
  elements: number;
}

/** Bytes by category (parameters, gradients, optimizer state...) as `memoryReport` counts them. */
export interface MemoryReport {
  frozenParams: MemoryCategory;
  trainableParams: MemoryCategory;
  gradients: MemoryCategory;
  optimizerState: MemoryCategory;
  /** Tensors saved for backward in the graph behind `output`, minus those counted above. */
  activations: MemoryCategory;
  /** Sum of the categories. */
  total: number;
  /** What each backend holds right now, all tensors included (`backend.memory()`). */
  backends: { name: string; buffers: number; bytes: number }[];
  /** A table for printing. */
  toString(): string;
}

/** Anything whose state tensors can be listed: every tsgrad optimizer. */
export interface HasStateTensors {
  /** Every state tensor (moments, momentum buffers). */
  stateTensors(): Tensor[];
}

class Tally {
  readonly seen = new Set<StorageRef>();

  count(tensors: Iterable<Tensor>): MemoryCategory {
    const c: MemoryCategory = { bytes: 0, buffers: 0, elements: 0 };
    for (const t of tensors) {
      if (t.isDisposed) continue;
      const ref = storageOf(t, 'memoryReport');
      if (this.seen.has(ref)) continue;
      this.seen.add(ref);
      c.bytes += ref.bytes;
      c.buffers++;
      c.elements += t.size;
    }
    return c;
  }
}

/** Tensors saved for backward anywhere in the graph behind `output`. */
function savedTensors(output: Tensor): Tensor[] {
  const out: Tensor[] = [];
  const visited = new Set<Tensor>();
  const stack = [output];
  while (stack.length) {
    const t = stack.pop()!;
    if (visited.has(t)) continue;
    visited.add(t);
    const node = t.gradFn;
    if (!node) continue;
    out.push(...(node.saved ?? []));
    stack.push(...node.inputs);
  }
  return out;
}

/**
 * Live memory by category, measured from the storages the tensors hold right now (not from a
 * formula). Parameters, gradients and optimizer state come first, so an activation that is a
 * view of a weight is counted as the weight. Pass the output of a forward (before backward)
 * to see the activations its graph keeps.
 *
 * @example
 * const loss = F.mseLoss(model.forward(x), y);
 * console.log(String(memoryReport(model, opt, { output: loss })));
 */
export function memoryReport(model: Module, optimizer?: HasStateTensors | null, opts: { output?: Tensor } = {}): MemoryReport {
  const tally = new Tally();
  const params = model.parameters();
  const frozenParams = tally.count(params.filter((p) => !p.requiresGrad));
  const trainableParams = tally.count(params.filter((p) => p.requiresGrad));
  const gradients = tally.count(params.flatMap((p) => (p.grad ? [p.grad] : [])));
  const optimizerState = tally.count(optimizer?.stateTensors() ?? []);
  const activations = tally.count(opts.output ? savedTensors(opts.output) : []);
  const cats = { frozenParams, trainableParams, gradients, optimizerState, activations };
  const total = Object.values(cats).reduce((s, c) => s + c.bytes, 0);
  const backends = [...new Set([...tally.seen].map((r) => r.backend))].map((b) => ({ name: b.name, ...b.memory() }));
  return {
    ...cats,
    total,
    backends,
    toString() {
      const rows = Object.entries(cats).map(([k, c]) => `${k.padEnd(16)} ${kib(c.bytes).padStart(12)}  (${c.elements} numbers in ${c.buffers} buffers)`);
      rows.push(`${'total'.padEnd(16)} ${kib(total).padStart(12)}`);
      for (const b of backends) rows.push(`${`backend ${b.name}`.padEnd(16)} ${kib(b.bytes).padStart(12)}  (${b.buffers} live buffers, all tensors)`);
      return rows.join('\n');
    },
  };
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}
