import { fromTypedArray } from '../core/creation.js';
import { TsgradError, check } from '../core/errors.js';
import { type HostQuantized, type QuantFormat, quantizeMatrix } from '../core/quant.js';
import { backendOf, storageOf } from '../core/seams.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { type LoRATargets, matchesTargetName } from './adapt.js';
import { Conv1D } from './conv1d.js';
import { Linear } from './layers.js';
import { LoRALayer } from './lora.js';
import type { Module } from './module.js';
import { Parameter } from './parameter.js';
import { QuantizedLinear } from './quantizedLinear.js';

/** Options of `nn.quantize`. */
export interface QuantizeOptions {
  /** 'int8': absmax int8 (q = round(127·x/absmax)); 'nf4': QLoRA's 4-bit NormalFloat. */
  format: QuantFormat;
  /** Values per absmax, a power of two in [32, 4096] (default 64, QLoRA's). */
  blockSize?: number;
  /** Which Linear / Conv1D layers: names (a path equal to one or ending in `.name`), a RegExp on the path, or a predicate. */
  targets: LoRATargets;
  /** QLoRA's double quantization: the absmaxes minus their mean as 8-bit dynamic codes in blocks of 256 (default false). */
  doubleQuant?: boolean;
}

/** What `nn.quantize` changed, with the weights' bytes measured from their storages. */
export interface QuantizeReport {
  /** Dotted paths of the layers now QuantizedLinear. */
  replaced: string[];
  /** Bytes of the float weights replaced. */
  bytesBefore: number;
  /** Bytes of the packed codes and scales that replaced them. */
  bytesAfter: number;
}

/**
 * Replaces the targeted `nn.Linear` and `nn.Conv1D` layers with `QuantizedLinear` layers holding
 * their weight block-quantized as bitsandbytes does (`quantize_4bit` with quant_type 'nf4', or
 * absmax int8; a trailing partial block gets its own absmax, as bitsandbytes pads), frozen; biases
 * stay float and shared. Everything is checked first, so a refused call changes nothing. The old
 * weights are disposed. Runs on a backend that reads synchronously (quantize on 'cpu', then
 * `await model.to('webgpu')`).
 *
 * @example
 * const report = nn.quantize(gpt, { format: 'nf4', targets: ['c_attn', 'c_proj', 'c_fc'], doubleQuant: true });
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

  const found: { path: string; slot: { replace(m: Module): void }; layer: Linear | Conv1D }[] = [];
  // The model itself cannot be replaced in place: it shows as '(root)', to be wrapped in a container.
  const candidates = model.namedModules().filter(([, m]) => m instanceof Linear || m instanceof Conv1D).map(([p]) => p || '(root)');
  for (const [path, parent] of model.namedModules()) {
    if (parent instanceof LoRALayer) continue; // reported below, at the LoRA layer itself
    for (const slot of parent.childSlots()) {
      const childPath = path ? `${path}.${slot.name}` : slot.name;
      const m = slot.module;
      if (!matches(childPath, m)) continue;
      if (m instanceof QuantizedLinear) throw new TsgradError(op, `'${childPath}' is already quantized (${m.format})`);
      if (m instanceof LoRALayer) {
        throw new TsgradError(op, `'${childPath}' is a ${m.constructor.name}; quantize the base model first, then applyLoRA (as QLoRA does)`);
      }
      if (!(m instanceof Linear || m instanceof Conv1D)) {
        throw new TsgradError(op, `target matched '${childPath}', a ${m.constructor.name}; only nn.Linear and nn.Conv1D layers can be quantized`);
      }
      found.push({ path: childPath, slot, layer: m });
    }
  }
  const hint = () => `; Linear and Conv1D layers in the model: ${candidates.join(', ') || '(none)'}`;
  if (Array.isArray(targets)) {
    for (const t of targets as readonly string[]) check(found.some((f) => matchesTargetName(f.path, t)), op, () => `target '${t}' matches no layer${hint()}`);
  }
  check(found.length > 0, op, () => `targets ${String(targets)} match no layer${hint()}`);
  checkLayers(op, model, found);

  // Quantized on the host first; the model changes only once every layer is done.
  const host = found.map((f) => hostQuantize(f.layer, format, blockSize, doubleQuant));
  let bytesBefore = 0, bytesAfter = 0;
  found.forEach((f, i) => {
    const q = host[i]!;
    const on = { backend: f.layer.weight.backend };
    const frozen = (t: ReturnType<typeof fromTypedArray>) => Parameter.from(t, false);
    const qweight = frozen(fromTypedArray(q.codes, [q.codes.length], on));
    const scales = q.scales;
    const absmax = frozen(scales.kind === 'absmax' ? fromTypedArray(scales.absmax, [scales.absmax.length], on) : fromTypedArray(scales.codes, [scales.codes.length], on));
    const nested = scales.kind === 'nested'
      ? { absmax: frozen(fromTypedArray(scales.absmax2, [scales.absmax2.length], on)), offset: scales.offset, blockSize: scales.blockSize }
      : null;
    const layer = new QuantizedLinear({
      format, blockSize, inFeatures: f.layer.inFeatures, outFeatures: f.layer.outFeatures, fanInFanOut: f.layer instanceof Conv1D,
      qweight, absmax, nested, bias: f.layer.bias,
    });
    layer.training = f.layer.training;
    bytesBefore += storageOf(f.layer.weight, op).bytes;
    bytesAfter += [qweight, absmax, ...(nested ? [nested.absmax] : [])].reduce((s, t) => s + storageOf(t, op).bytes, 0);
    f.layer.weight.dispose();
    f.slot.replace(layer);
  });
  return { replaced: found.map((f) => f.path), bytesBefore, bytesAfter };
}

/** Every layer's weight must be a float32, synchronously readable, untied tensor. */
function checkLayers(op: string, model: Module, found: { path: string; layer: Linear | Conv1D }[]): void {
  const owners = new Map<unknown, string[]>();
  for (const [name, p] of model.namedParameters()) {
    const ref = storageOf(p, op);
    owners.set(ref, [...(owners.get(ref) ?? []), name]);
  }
  for (const { path, layer } of found) {
    const w = layer.weight;
    check(w.dtype === 'float32', op, () => `'${path}' has a ${w.dtype} weight; quantize float32 weights (cast the model first)`);
    check(!!backendOf(w).readSync, op, () => `'${path}' lives on '${w.backend}', which cannot be read synchronously; quantize on 'cpu', then await model.to('${w.backend}')`);
    const shared = (owners.get(storageOf(w, op)) ?? []).filter((n) => n !== `${path}.weight`);
    check(shared.length === 0, op, () => `'${path}.weight' shares its storage with ${shared.join(', ')} (tied weights); leave '${path}' out of targets`);
  }
}

/** The layer's weight as row-major [out, in] values, quantized. */
function hostQuantize(layer: Linear | Conv1D, format: QuantFormat, blockSize: number, doubleQuant: boolean): HostQuantized {
  const stored = layer.weight.dataSync();
  // A Conv1D stores [in, out]: transposed to [out, in], as transformers' bitsandbytes integration does.
  const values = layer instanceof Conv1D ? transpose(stored, layer.inFeatures, layer.outFeatures) : stored;
  return quantizeMatrix(values, layer.outFeatures, layer.inFeatures, format, blockSize, doubleQuant);
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}
