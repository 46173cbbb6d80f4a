import { TsgradError, check } from '../core/errors.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { Conv1D } from './conv1d.js';
import { Conv2d } from './conv2d.js';
import { Linear } from './layers.js';
import { LoRALayer, LoRALinear, type LoRAOptions, type LoRATarget, checkLoRAOptions } from './lora.js';
import { LoRAConv2d, checkLoRAConv2d } from './loraConv2d.js';
import type { ChildSlot, Module } from './module.js';
import { QuantizedLinear } from './quantizedLinear.js';

/** True for the layers LoRA can wrap: nn.Linear, nn.Conv1D, nn.Conv2d and nn.QuantizedLinear. @example isLoRATarget(new nn.Conv2d(3, 8, 3)) // true */
export function isLoRATarget(m: unknown): m is LoRATarget {
  return m instanceof Linear || m instanceof Conv1D || m instanceof Conv2d || m instanceof QuantizedLinear;
}

/**
 * Which Linear / Conv1D / Conv2d layers to adapt: names (PEFT's target_modules: a path equal to a name or
 * ending in `.name`), a RegExp on the dotted path, or a predicate.
 */
export type LoRATargets = readonly string[] | RegExp | ((path: string, module: Module) => boolean);

/** Options of `applyLoRA`: LoRA settings and which layers to adapt. */
export interface ApplyLoRAOptions extends LoRAOptions {
  targets: LoRATargets;
  /** Which biases train: 'none' (default), 'all' biases in the model, or 'loraOnly' (those of adapted layers). */
  bias?: 'none' | 'all' | 'loraOnly';
}

/** What `applyLoRA` changed. */
export interface ApplyLoRAReport {
  /** Dotted paths of the layers now wrapped: Linear and Conv1D in LoRALinear, Conv2d in LoRAConv2d. */
  replaced: string[];
  trainable: number;
  total: number;
}

/** PEFT's rule for a list of target names: the path is a name or ends in `.name`. */
export function matchesTargetName(path: string, name: string): boolean {
  return path === name || path.endsWith(`.${name}`);
}

function matcher(targets: LoRATargets): (path: string, m: Module) => boolean {
  if (typeof targets === 'function') return targets;
  if (targets instanceof RegExp) return (path) => new RegExp(targets.source, targets.flags.replace('g', '')).test(path);
  return (path) => targets.some((t) => matchesTargetName(path, t));
}

// The name from a list of targets that selected each layer, so saveAdapter can write PEFT's
// target_modules as the names the user gave (layers chosen by a RegExp or predicate have none).
const targetNames = new WeakMap<LoRALayer, string>();

/** The target name that selected `layer` (in `applyLoRA` or from a loaded adapter's list), if any. */
export function targetNameOf(layer: LoRALayer): string | undefined {
  return targetNames.get(layer);
}

/** Records the name of a list of targets that selects the layer at `path` (the first that matches). */
export function recordTargetName(layer: LoRALayer, path: string, names: readonly string[]): void {
  const name = names.find((t) => matchesTargetName(path, t));
  if (name !== undefined) targetNames.set(layer, name);
}

/**
 * Wraps matching Linear and Conv1D submodules in LoRALinear (a Conv1D keeps its [in, out]
 * weight: PEFT's fan_in_fan_out) and Conv2d submodules in LoRAConv2d, in place, as PEFT's
 * `get_peft_model` does; freezes every other parameter
 * (adapters from an earlier call stay trainable) and returns what changed. A target that matches
 * nothing, or matches a layer that is neither, is an error naming it.
 *
 * @example
 * const report = nn.applyLoRA(model, { targets: ['query', 'value'], rank: 8, alpha: 16 });
 * console.log(nn.trainableSummary(model));
 */
export function applyLoRA(model: Module, opts: ApplyLoRAOptions): ApplyLoRAReport {
  check(typeof (model as { namedModules?: unknown } | null)?.namedModules === 'function', 'applyLoRA', () => `model must be an nn.Module, got ${describeValue(model)}`);
  check(isPlainObject(opts), 'applyLoRA', () => `options must be an object such as { targets: ['0'], rank: 4 }, got ${describeValue(opts)}`);
  const { targets, bias = 'none', ...lora } = opts;
  check((Array.isArray(targets) && targets.every((t) => typeof t === 'string')) || targets instanceof RegExp || typeof targets === 'function', 'applyLoRA', () =>
    `targets must be a list of layer names, a RegExp or a predicate (path, module) => boolean, got ${describeValue(targets)}${typeof targets === 'string' ? `; for one layer pass ['${targets}']` : ''}`);
  check(['none', 'all', 'loraOnly'].includes(bias), 'applyLoRA', () => `bias must be 'none', 'all' or 'loraOnly', got '${bias}'`);
  const matches = matcher(targets);
  const found: { path: string; parent: Module; name: string; layer: LoRATarget }[] = [];
  const adaptable = model.namedModules().filter(([, m]) => isLoRATarget(m)).map(([path]) => path);
  for (const [path, parent] of model.namedModules()) {
    if (parent instanceof LoRALayer) continue; // its base is adapted already
    for (const slot of parent.childSlots()) {
      const childPath = path ? `${path}.${slot.name}` : slot.name;
      if (!matches(childPath, slot.module)) continue;
      if (slot.module instanceof LoRALayer) throw new TsgradError('applyLoRA', `'${childPath}' is already a ${slot.module.constructor.name}`);
      if (!isLoRATarget(slot.module)) {
        throw new TsgradError('applyLoRA', `target matched '${childPath}', a ${slot.module.constructor.name}; only nn.Linear, nn.Conv1D, nn.Conv2d and nn.QuantizedLinear layers can be adapted`);
      }
      found.push({ path: childPath, parent, name: slot.name, layer: slot.module });
    }
  }
  const hint = () => `; Linear, Conv1D and Conv2d layers in the model: ${adaptable.join(', ') || '(none)'}`;
  if (Array.isArray(targets)) {
    for (const t of targets as readonly string[]) {
      check(found.some((f) => matchesTargetName(f.path, t)), 'applyLoRA', () => `target '${t}' matches no layer${hint()}`);
    }
  }
  check(found.length > 0, 'applyLoRA', () => `targets ${String(targets)} match no layer${hint()}`);
  // Every layer's settings are checked before anything is frozen or wrapped.
  for (const f of found) {
    try {
      if (f.layer instanceof Conv2d) checkLoRAConv2d(f.layer, lora);
      else checkLoRAOptions(f.layer.inFeatures, f.layer.outFeatures, lora);
    } catch (e) {
      throw e instanceof TsgradError ? new TsgradError('applyLoRA', `layer '${f.path}': ${e.message.slice(e.op.length + 2)}`) : e;
    }
  }

  // Adapters added by an earlier call keep their trainability; everything else freezes.
  const earlier = model.modules().flatMap((m) => (m instanceof LoRALayer ? [m.loraA, m.loraB] : [])).filter((p) => p.requiresGrad);
  model.freeze();
  for (const p of earlier) p.requiresGrad = true;
  for (const f of found) {
    const wrapped = f.layer instanceof Conv2d ? new LoRAConv2d(f.layer, lora) : LoRALinear.wrap(f.layer, lora);
    if (Array.isArray(targets)) recordTargetName(wrapped, f.path, targets);
    const slot = f.parent.childSlots().find((s) => s.name === f.name)!;
    slot.replace(wrapped);
    if (bias === 'loraOnly' && f.layer.bias) f.layer.bias.requiresGrad = true;
  }
  if (bias === 'all') {
    for (const [name, p] of model.namedParameters()) if (name === 'bias' || name.endsWith('.bias')) p.requiresGrad = true;
  }
  return { replaced: found.map((f) => f.path), trainable: model.numParameters({ trainableOnly: true }), total: model.numParameters() };
}

/**
 * Merges every LoRA layer into its base and puts the base back in its place (PEFT's
 * `merge_and_unload`): the model is plain Linear / Conv1D / Conv2d layers again, with W0 + ΔW as their
 * weights, ready to save with the base model's own names. Returns the paths it unloaded.
 *
 * @example
 * nn.mergeAndUnload(model); // ['transformer.h.0.attn.c_attn', ...]
 * model.stateDict();        // the base model's keys, merged weights
 */
export function mergeAndUnload(model: Module): string[] {
  check(typeof (model as { namedModules?: unknown } | null)?.namedModules === 'function', 'mergeAndUnload', () => `model must be an nn.Module, got ${describeValue(model)}`);
  check(!(model instanceof LoRALayer), 'mergeAndUnload', () => `the model is itself a ${model.constructor.name}; call its mergeAndUnload() method, which returns the base layer`);
  const slots = new Map<string, ChildSlot>();
  for (const [path, parent] of model.namedModules()) {
    if (parent instanceof LoRALayer) continue;
    for (const slot of parent.childSlots()) if (slot.module instanceof LoRALayer) slots.set(path ? `${path}.${slot.name}` : slot.name, slot);
  }
  // In module order (the order of stateDict), not parent by parent.
  const unloaded = model.namedModules().map(([p]) => p).filter((p) => slots.has(p));
  for (const p of unloaded) {
    const slot = slots.get(p)!;
    slot.replace((slot.module as LoRALayer).mergeAndUnload());
  }
  return unloaded;
}

function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * PEFT's summary line, counting each shared parameter once.
 *
 * @example
 * nn.trainableSummary(new nn.LoRALinear(768, 768, { rank: 4 }));
 * // 'trainable params: 6,144 || all params: 596,736 || trainable%: 1.0296'
 */
export function trainableSummary(model: Module): string {
  const trainable = model.numParameters({ trainableOnly: true });
  const total = model.numParameters();
  const pct = total === 0 ? 0 : (100 * trainable) / total;
  return `trainable params: ${thousands(trainable)} || all params: ${thousands(total)} || trainable%: ${pct.toFixed(4)}`;
}
