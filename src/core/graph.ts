import { fmt } from './errors.js';
import type { Tensor } from './tensor.js';

function label(t: Tensor): string {
  const kind = t.gradFn ? t.gradFn.op : t.requiresGrad ? 'leaf (requires grad)' : 'constant';
  return `${kind} ${fmt(t.shape)} ${t.dtype}`;
}

/**
 * The autograd graph behind `t` as an indented tree, one line per tensor; a tensor reached
 * twice is printed once and then referred to by number.
 *
 * @example
 * console.log(printGraph(x.mul(w).sum()));
 * // #0 sum [] float32
 * //   #1 mul [3] float32
 * //     #2 leaf (requires grad) [3] float32
 * //     #3 constant [3] float32
 */
export function printGraph(t: Tensor): string {
  const ids = new Map<Tensor, number>();
  const lines: string[] = [];
  const walk = (x: Tensor, depth: number) => {
    const pad = '  '.repeat(depth);
    const seen = ids.get(x);
    if (seen !== undefined) {
      lines.push(`${pad}#${seen} (see above)`);
      return;
    }
    ids.set(x, ids.size);
    lines.push(`${pad}#${ids.get(x)} ${label(x)}`);
    for (const input of x.gradFn?.inputs ?? []) walk(input, depth + 1);
  };
  walk(t, 0);
  return lines.join('\n');
}

/**
 * The graph in Graphviz DOT (`dot -Tsvg graph.dot > graph.svg`): edges point from inputs to
 * the op that used them, as data flows forward.
 */
export function toDot(t: Tensor): string {
  const ids = new Map<Tensor, number>();
  const nodes: string[] = [];
  const edges: string[] = [];
  const stack = [t];
  ids.set(t, 0);
  while (stack.length) {
    const x = stack.pop()!;
    const style = x.gradFn ? 'shape=box' : x.requiresGrad ? 'shape=ellipse,style=filled,fillcolor=lightblue' : 'shape=ellipse';
    nodes.push(`  n${ids.get(x)} [label="${label(x)}",${style}];`);
    for (const input of x.gradFn?.inputs ?? []) {
      if (!ids.has(input)) {
        ids.set(input, ids.size);
        stack.push(input);
      }
      edges.push(`  n${ids.get(input)} -> n${ids.get(x)};`);
    }
  }
  return ['digraph autograd {', ...nodes, ...edges, '}'].join('\n');
}
