import { fromTypedArray } from '../core/creation.js';
import { TsgradError, check } from '../core/errors.js';
import { type HostQuantized, type QuantFormat, quantizeMatrix } from '../core/quant.js';
import { backendOf, storageOf } from '../core/seams.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { type LoRATargets, matchesTargetName } from './adapt.js';
import { Conv1D } from './conv1d.js';
import { Embedding, Linear } from './layers.js';
import { LoRALayer } from './lora.js';
import type { ChildSlot, Module } from './module.js';
import { Parameter } from './parameter.js';
import { QuantizedEmbedding } from './quantizedEmbedding.js';
import { QuantizedLinear } from './quantizedLinear.js';

/** Options of `nn.quantize`. */
export interface QuantizeOptions {
  /** 'int8': absmax int8 (q = round(127·x/absmax)); 'nf4': QLoRA's 4-bit NormalFloat. */
  format: QuantFormat;
  /** Values per absmax, a power of two in [32, 4096] (default 64, QLoRA's). */
  blockSize?: number;
  /**
   * Which Linear / Conv1D / Embedding layers: names (a path equal to one or ending in `.name`), a
   * RegExp on the path, or a predicate. An Embedding takes the Linear heads tied to its table along.
   */
  targets: LoRATargets;
  /** QLoRA's double quantization: the absmaxes minus their mean as 8-bit dynamic codes in blocks of 256 (default false). */
  doubleQuant?: boolean;
}

/** What `nn.quantize` changed, with the weights' bytes measured from their storages. */
export interface QuantizeReport {
  /** Dotted paths of the layers now QuantizedLinear or QuantizedEmbedding (tied heads included). */
  replaced: string[];
  /** Bytes of the float weights replaced (a tied table once). */
  bytesBefore: number;
  /** Bytes of the packed codes and scales that replaced them (a tied table's once: its head shares them). */
  bytesAfter: number;
}

/**
 * Replaces the targeted `nn.Linear` and `nn.Conv1D` layers with `QuantizedLinear` layers holding
 * their weight block-quantized as bitsandbytes does (`quantize_4bit` with quant_type 'nf4', or
 * absmax int8; a trailing partial block gets its own absmax, as bitsandbytes pads), frozen; biases
 * stay float and shared. A targeted `nn.Embedding` becomes a `QuantizedEmbedding` (its rows must
 * be whole blocks), and a Linear head tied to its table (GPT-2's `lm_head`, tied to
 * `transformer.wte`) becomes a `QuantizedLinear` reading the very same packed parameters, so
 * the tie and its single copy survive; targeting such a head without its table is refused.
 * Everything is checked first, so a refused call changes nothing. The old weights are disposed.
 * Runs on a backend that reads synchronously (quantize on 'cpu', then `await model.to('webgpu')`).
 *
 * @example
 * const report = nn.quantize(gpt, { format: 'nf4', targets: ['c_attn', 'c_proj', 'c_fc', 'wte'], doubleQuant: true });
 * report.replaced; // ['transformer.wte', 'lm_head', 'transformer.h.0.attn.c_attn', ...]
 * nn.applyLoRA(gpt, { targets: ['c_attn'], rank: 4 }); // QLoRA
 */
export function quantize(model: Module, opts: QuantizeOptions): QuantizeReport {
  const op = 'quantize';
  check(typeof (model as { namedModules?: unknown } | null)?.namedModules === 'function', op, () => `model must be an nn.Module, got ${describeValue(model)}`);
  check(isPlainObject(opts), op, () => `options must be an object such as { format: 'nf4', targets: ['c_attn'] }, got ${describeValue(opts)}`);
  const { format, blockSize = 64, targets, doubleQuant = false } = opts;
  check(format === 'int8' || format === 'nf4', op, () => `format must be 'int8' or 'nf4', got ${describeValue(format)}`);
  check(Number.isInteger(blockSize) && blockSize >= 32 && blockSize <= 4096 && (blockSize & (blockSize - 1)) === 0, op, () =>
    `blockSize must be a power of two in [32, 4096] (bitsandbytes' sizes; QLoRA uses 64), got ${describeValue(blockSize)}`);
  check(typeof doubleQuant === 'boolean', op, () => `doubleQuant must be true or false, got ${describeValue(doubleQuant)}`);
  check((Array.isArray(targets) && targets.every((t) => typeof t === 'string')) || targets instanceof RegExp || typeof targets === 'function', op, () =>
    `targets must be a list of layer names, a RegExp or a predicate (path, module) => boolean, got ${describeValue(targets)}`);
  const matches = typeof targets === 'function' ? targets
    : targets instanceof RegExp ? (p: string) => new RegExp(targets.source, targets.flags.replace('g', '')).test(p)
    : (p: string) => targets.some((t) => matchesTargetName(p, t));

  // The model itself cannot be replaced in place: it shows as '(root)', to be wrapped in a container.
  const candidates = model.namedModules().filter(([, m]) => m instanceof Linear || m instanceof Conv1D || m instanceof Embedding).map(([p]) => p || '(root)');
  const found: Found[] = [];
  for (const { path, parent, slot } of slotsOf(model)) {
    if (parent instanceof LoRALayer) continue; // reported below, at the LoRA layer itself
    const m = slot.module;
    if (!matches(path, m)) continue;
    if (m instanceof QuantizedLinear || m instanceof QuantizedEmbedding) throw new TsgradError(op, `'${path}' is already quantized (${m.format})`);
    if (m instanceof LoRALayer) {
      throw new TsgradError(op, `'${path}' is a ${m.constructor.name}; quantize the base model first, then applyLoRA (as QLoRA does)`);
    }
    if (!(m instanceof Linear || m instanceof Conv1D || m instanceof Embedding)) {
      throw new TsgradError(op, `target matched '${path}', a ${m.constructor.name}; only nn.Linear, nn.Conv1D and nn.Embedding layers can be quantized`);
    }
    found.push({ path, slot, layer: m, heads: [] });
  }
  const hint = () => `; Linear, Conv1D and Embedding layers in the model: ${candidates.join(', ') || '(none)'}`;
  if (Array.isArray(targets)) {
    for (const t of targets as readonly string[]) check(found.some((f) => matchesTargetName(f.path, t)), op, () => `target '${t}' matches no layer${hint()}`);
  }
  check(found.length > 0, op, () => `targets ${String(targets)} match no layer${hint()}`);
  const layers = withTiedHeads(op, model, found);
  for (const f of layers) checkLayer(op, f, blockSize);

  // Quantized on the host first; the model changes only once every layer is done.
  const host = layers.map((f) => hostQuantize(f.layer, format, blockSize, doubleQuant));
  let bytesBefore = 0, bytesAfter = 0;
  layers.forEach((f, i) => {
    const q = host[i]!;
    const on = { backend: f.layer.weight.backend };
    const frozen = (t: ReturnType<typeof fromTypedArray>) => Parameter.from(t, false);
    const qweight = frozen(fromTypedArray(q.codes, [q.codes.length], on));
    const scales = q.scales;
    const absmax = frozen(scales.kind === 'absmax' ? fromTypedArray(scales.absmax, [scales.absmax.length], on) : fromTypedArray(scales.codes, [scales.codes.length], on));
    const nested = scales.kind === 'nested'
      ? { absmax: frozen(fromTypedArray(scales.absmax2, [scales.absmax2.length], on)), offset: scales.offset, blockSize: scales.blockSize }
      : null;
    const l = f.layer;
    const linear = (head: Linear | Conv1D) => new QuantizedLinear({
      format, blockSize, inFeatures: head.inFeatures, outFeatures: head.outFeatures, fanInFanOut: head instanceof Conv1D,
      qweight, absmax, nested, bias: head.bias,
    });
    const layer = l instanceof Embedding
      ? new QuantizedEmbedding({ format, blockSize, numEmbeddings: l.numEmbeddings, embeddingDim: l.embeddingDim, qweight, absmax, nested })
      : linear(l);
    bytesBefore += storageOf(l.weight, op).bytes;
    bytesAfter += [qweight, absmax, ...(nested ? [nested.absmax] : [])].reduce((s, t) => s + storageOf(t, op).bytes, 0);
    // A tied head reads the table's packed storage: the same parameters, counted once.
    const old = new Set([l.weight, ...f.heads.map((h) => h.layer.weight)]);
    for (const h of f.heads) {
      const head = linear(h.layer);
      head.training = h.layer.training;
      h.slot.replace(head);
    }
    layer.training = l.training;
    for (const w of old) w.dispose();
    f.slot.replace(layer);
  });
  return { replaced: layers.flatMap((f) => [f.path, ...f.heads.map((h) => h.path)]), bytesBefore, bytesAfter };
}

/** A targeted layer, with the Linear heads tied to it when it is an Embedding. */
interface Found {
  path: string;
  slot: ChildSlot;
  layer: Linear | Conv1D | Embedding;
  heads: { path: string; slot: ChildSlot; layer: Linear }[];
}

/** Every child slot in the model with its dotted path and the module holding it. */
function slotsOf(model: Module): { path: string; parent: Module; slot: ChildSlot }[] {
  return model.namedModules().flatMap(([path, parent]) =>
    parent.childSlots().map((slot) => ({ path: path ? `${path}.${slot.name}` : slot.name, parent, slot })));
}

/**
 * Ties resolved: an Embedding's table shared with Linear weights of its shape (GPT-2's lm_head)
 * takes those heads along, targeted or not; a Linear tied to an untargeted Embedding, or any
 * other sharing, is refused, naming both.
 */
function withTiedHeads(op: string, model: Module, found: Found[]): Found[] {
  const holders = new Map<unknown, { path: string; owner: Module; name: string }[]>();
  for (const [path, owner] of model.namedModules()) {
    for (const [name, p] of owner.namedParameters()) {
      if (name.includes('.')) continue; // a child's, listed at the child
      const ref = storageOf(p, op);
      holders.set(ref, [...(holders.get(ref) ?? []), { path: path ? `${path}.${name}` : name, owner, name }]);
    }
  }
  const slots = new Map(slotsOf(model).map((s) => [s.path, s]));
  const sharers = (f: Found) => (holders.get(storageOf(f.layer.weight, op)) ?? []).filter((h) => h.path !== `${f.path}.weight`);
  const tables = found.filter((f) => f.layer instanceof Embedding);
  for (const f of tables) {
    const table = f.layer as Embedding;
    for (const h of sharers(f)) {
      const at = slots.get(h.path.slice(0, -'.weight'.length));
      const head = h.owner;
      const tiedHead = head instanceof Linear && h.name === 'weight' && at !== undefined && !(at.parent instanceof LoRALayer) &&
        head.weight.shape.join() === table.weight.shape.join() && head.weight.offset === table.weight.offset && head.weight.isContiguous;
      check(tiedHead, op, () => `'${f.path}.weight' shares its storage with '${h.path}', which is not a Linear head of shape [${table.numEmbeddings}, ${table.embeddingDim}] ` +
        `in an ordinary slot${at?.parent instanceof LoRALayer ? ' (it is inside a LoRA layer: quantize first, then applyLoRA)' : ''}; only a tied Linear head can keep reading the quantized table`);
      f.heads.push({ path: at!.path, slot: at!.slot, layer: head as Linear });
    }
  }
  const headPaths = new Set(tables.flatMap((f) => f.heads.map((h) => h.path)));
  const rest = found.filter((f) => !headPaths.has(f.path));
  for (const f of rest) {
    if (f.layer instanceof Embedding) continue;
    const shared = sharers(f);
    const table = shared.find((h) => h.owner instanceof Embedding && h.name === 'weight');
    check(!table, op, () => `'${f.path}.weight' is tied to '${table!.path}' (an Embedding's table); target '${table!.path.slice(0, -'.weight'.length)}' to quantize the table and its tied head together`);
    check(shared.length === 0, op, () => `'${f.path}.weight' shares its storage with ${shared.map((h) => h.path).join(', ')} (tied weights); leave '${f.path}' out of targets`);
  }
  return rest;
}

/** A layer's weight must be float32 and synchronously readable; an Embedding's rows whole blocks. */
function checkLayer(op: string, { path, layer }: Found, blockSize: number): void {
  const w = layer.weight;
  check(w.dtype === 'float32', op, () => `'${path}' has a ${w.dtype} weight; quantize float32 weights (cast the model first)`);
  check(!!backendOf(w).readSync, op, () => `'${path}' lives on '${w.backend}', which cannot be read synchronously; quantize on 'cpu', then await model.to('${w.backend}')`);
  if (layer instanceof Embedding) {
    check(layer.embeddingDim % blockSize === 0, op, () =>
      `'${path}' has rows of ${layer.embeddingDim} values, not whole blocks of ${blockSize} (a lookup dequantizes only its rows' blocks); pick a blockSize that divides ${layer.embeddingDim}`);
  }
}

/** The layer's weight as row-major [out, in] values (an Embedding's table as it is), quantized. */
function hostQuantize(layer: Linear | Conv1D | Embedding, format: QuantFormat, blockSize: number, doubleQuant: boolean): HostQuantized {
  const stored = layer.weight.dataSync();
  if (layer instanceof Embedding) return quantizeMatrix(stored, layer.numEmbeddings, layer.embeddingDim, format, blockSize, doubleQuant);
  // A Conv1D stores [in, out]: transposed to [out, in], as transformers' bitsandbytes integration does.
  const values = layer instanceof Conv1D ? transpose(stored, layer.inFeatures, layer.outFeatures) : stored;
  return quantizeMatrix(values, layer.outFeatures, layer.inFeatures, format, blockSize, doubleQuant);
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}
