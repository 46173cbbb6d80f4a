import { TsgradError, check } from '../core/errors.js';
import { Linear } from './layers.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { LoRALinear, type LoRAOptions, checkLoRAOptions } from './lora.js';
import type { Module } from './module.js';

/** Which Linear layers to adapt: name suffixes (PEFT's target_modules), a RegExp on the dotted path, or a predicate. */
export type LoRATargets = readonly string[] | RegExp | ((path: string, module: Module) => boolean);

/** Options of `applyLoRA`: LoRA settings and which layers to adapt. */
export interface ApplyLoRAOptions extends LoRAOptions {
  targets: LoRATargets;
  /** Which biases train: 'none' (default), 'all' biases in the model, or 'loraOnly' (those of adapted layers). */
  bias?: 'none' | 'all' | 'loraOnly';
}

/** What `applyLoRA` changed. */
export interface ApplyLoRAReport {
  /** Dotted paths of the Linear layers now wrapped in LoRALinear. */
  replaced: string[];
  trainable: number;
  total: number;
}

function matcher(targets: LoRATargets): (path: string, m: Module) => boolean {
  if (typeof targets === 'function') return targets;
  if (targets instanceof RegExp) return (path) => new RegExp(targets.source, targets.flags.replace('g', '')).test(path);
  return (path) => targets.some((t) => path === t || path.endsWith(`.${t}`));
}

/**
 * Wraps matching Linear submodules in LoRALinear in place, freezes every other parameter
 * (adapters from an earlier call stay trainable) and returns what changed. A target that matches
 * nothing, or matches a layer that is not a Linear, is an error naming it.
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
  const found: { path: string; parent: Module; name: string; linear: Linear }[] = [];
  const linears = model.namedModules().filter(([, m]) => m instanceof Linear).map(([path]) => path);
  for (const [path, parent] of model.namedModules()) {
    if (parent instanceof LoRALinear) continue; // its base is adapted already
    for (const slot of parent.childSlots()) {
      const childPath = path ? `${path}.${slot.name}` : slot.name;
      if (!matches(childPath, slot.module)) continue;
      if (slot.module instanceof LoRALinear) throw new TsgradError('applyLoRA', `'${childPath}' is already a LoRALinear`);
      if (!(slot.module instanceof Linear)) {
        throw new TsgradError('applyLoRA', `target matched '${childPath}', a ${slot.module.constructor.name}; only nn.Linear layers can be adapted`);
      }
      found.push({ path: childPath, parent, name: slot.name, linear: slot.module });
    }
  }
  const hint = () => `; Linear layers in the model: ${linears.join(', ') || '(none)'}`;
  if (Array.isArray(targets)) {
    for (const t of targets as readonly string[]) {
      check(found.some((f) => f.path === t || f.path.endsWith(`.${t}`)), 'applyLoRA', () => `target '${t}' matches no layer${hint()}`);
    }
  }
  check(found.length > 0, 'applyLoRA', () => `targets ${String(targets)} match no layer${hint()}`);
  // Every layer's settings are checked before anything is frozen or wrapped.
  for (const f of found) {
    try {
      checkLoRAOptions(f.linear.inFeatures, f.linear.outFeatures, lora);
    } catch (e) {
      throw e instanceof TsgradError ? new TsgradError('applyLoRA', `layer '${f.path}': ${e.message.slice(e.op.length + 2)}`) : e;
    }
  }

  // Adapters added by an earlier call keep their trainability; everything else freezes.
  const earlier = model.modules().flatMap((m) => (m instanceof LoRALinear ? [m.loraA, m.loraB] : [])).filter((p) => p.requiresGrad);
  model.freeze();
  for (const p of earlier) p.requiresGrad = true;
  for (const f of found) {
    const wrapped = LoRALinear.fromLinear(f.linear, lora);
    const slot = f.parent.childSlots().find((s) => s.name === f.name)!;
    slot.replace(wrapped);
    if (bias === 'loraOnly' && f.linear.bias) f.linear.bias.requiresGrad = true;
  }
  if (bias === 'all') {
    for (const [name, p] of model.namedParameters()) if (name === 'bias' || name.endsWith('.bias')) p.requiresGrad = true;
  }
  return { replaced: found.map((f) => f.path), trainable: model.numParameters({ trainableOnly: true }), total: model.numParameters() };
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
