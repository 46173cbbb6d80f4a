import { noGrad } from '../core/autograd.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { applyLoRA } from '../nn/adapt.js';
import { Linear } from '../nn/layers.js';
import { LoRALinear } from '../nn/lora.js';
import type { Module } from '../nn/module.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

/** The two files of a PEFT LoRA adapter directory. */
export interface AdapterFiles {
  'adapter_model.safetensors': Uint8Array;
  'adapter_config.json': string;
}

/** The fields of PEFT's LoraConfig that tsgrad reads and writes. */
export interface AdapterConfig {
  peft_type: 'LORA';
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  use_rslora: boolean;
  target_modules: string[];
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  bias: 'none';
  fan_in_fan_out: false;
  init_lora_weights: boolean | 'gaussian';
  inference_mode: boolean;
  base_model_name_or_path: string | null;
  task_type: string | null;
}

const PREFIX = 'base_model.model.';

function loraLayers(model: Module): [string, LoRALinear][] {
  return model.namedModules().filter((e): e is [string, LoRALinear] => e[1] instanceof LoRALinear);
}

/** The most common value, so per-layer exceptions go into rank_pattern / alpha_pattern. */
function mode(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

/**
 * Writes the model's LoRA adapters in PEFT's layout: `adapter_model.safetensors` with
 * `base_model.model.<path>.lora_A.weight` / `lora_B.weight`, and `adapter_config.json`.
 *
 * @example
 * const files = await saveAdapter(model);
 * for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
 */
export async function saveAdapter(model: Module, opts: { baseModelNameOrPath?: string } = {}): Promise<AdapterFiles> {
  const layers = loraLayers(model);
  check(layers.length > 0, 'saveAdapter', () => 'the model has no LoRALinear layers; call nn.applyLoRA first');
  const r = mode(layers.map(([, l]) => l.rank));
  const alpha = mode(layers.map(([, l]) => l.alpha));
  const rs = layers[0]![1].scaling !== layers[0]![1].alpha / layers[0]![1].rank;
  const tensors: Record<string, Tensor> = {};
  const config: AdapterConfig = {
    peft_type: 'LORA', r, lora_alpha: alpha, lora_dropout: layers[0]![1].dropout, use_rslora: rs,
    target_modules: [...new Set(layers.map(([p]) => p.split('.').pop()!))].sort(),
    rank_pattern: {}, alpha_pattern: {}, bias: 'none', fan_in_fan_out: false, init_lora_weights: true,
    inference_mode: true, base_model_name_or_path: opts.baseModelNameOrPath ?? null, task_type: null,
  };
  for (const [path, l] of layers) {
    tensors[`${PREFIX}${path}.lora_A.weight`] = l.loraA;
    tensors[`${PREFIX}${path}.lora_B.weight`] = l.loraB;
    if (l.rank !== r) config.rank_pattern[path] = l.rank;
    if (l.alpha !== alpha) config.alpha_pattern[path] = l.alpha;
  }
  return {
    'adapter_model.safetensors': await encodeSafetensors(tensors, { format: 'pt' }),
    'adapter_config.json': JSON.stringify(config, null, 2),
  };
}

/**
 * Loads a PEFT LoRA adapter into `model`. Layers named in the file that are still plain Linear
 * are wrapped first (with the file's rank and alpha, per-layer patterns included); every key
 * must land on a LoRALinear with matching shapes, and every LoRALinear must get weights.
 *
 * @example
 * loadAdapter(model, { 'adapter_model.safetensors': readFileSync(a), 'adapter_config.json': readFileSync(c, 'utf8') });
 */
export function loadAdapter(model: Module, files: AdapterFiles): void {
  const config = JSON.parse(files['adapter_config.json']) as Partial<AdapterConfig>;
  check(config.peft_type === 'LORA', 'loadAdapter', () => `adapter_config.json has peft_type ${config.peft_type}; only LORA adapters load`);
  const { tensors } = decodeSafetensors(files['adapter_model.safetensors']);
  const byPath = new Map<string, { a?: Tensor; b?: Tensor }>();
  for (const [key, t] of Object.entries(tensors)) {
    const m = /^base_model\.model\.(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(key);
    if (!m) throw new TsgradError('loadAdapter', `unexpected key '${key}'; expected base_model.model.<path>.lora_A.weight or lora_B.weight`);
    const entry = byPath.get(m[1]!) ?? {};
    entry[m[2] === 'A' ? 'a' : 'b'] = t;
    byPath.set(m[1]!, entry);
  }
  const existing = new Set(loraLayers(model).map(([p]) => p));
  const toWrap = [...byPath.keys()].filter((p) => !existing.has(p));
  const modules = new Map(model.namedModules());
  for (const p of toWrap) {
    check(modules.get(p) instanceof Linear, 'loadAdapter', () => `the adapter has weights for '${p}', which is not a Linear or LoRALinear in the model`);
  }
  const settings = (p: string) => {
    const rank = patternValue(config.rank_pattern, p) ?? config.r ?? 8;
    const alpha = patternValue(config.alpha_pattern, p) ?? config.lora_alpha ?? rank;
    const rs = config.use_rslora ?? false;
    return { rank, alpha, scaling: rs ? alpha / Math.sqrt(rank) : alpha / rank };
  };
  const groups = new Map<string, string[]>();
  for (const p of toWrap) {
    const { rank, alpha } = settings(p);
    const k = `${rank}/${alpha}`;
    groups.set(k, [...(groups.get(k) ?? []), p]);
  }
  for (const [k, paths] of groups) {
    const [rank, alpha] = k.split('/').map(Number) as [number, number];
    applyLoRA(model, { targets: (path) => paths.includes(path), rank, alpha, dropout: config.lora_dropout ?? 0, useRsLoRA: config.use_rslora ?? false });
  }
  const layers = new Map(loraLayers(model));
  for (const [path, { a, b }] of byPath) {
    const l = layers.get(path)!;
    check(a && b, 'loadAdapter', () => `the adapter for '${path}' lacks lora_${a ? 'B' : 'A'}.weight`);
    check(!l.isMerged, 'loadAdapter', () => `LoRALinear '${path}' is merged; call unmerge() first`);
    for (const [name, src, dst] of [['lora_A', a, l.loraA], ['lora_B', b, l.loraB]] as const) {
      check(src.shape.length === 2 && src.shape[0] === dst.shape[0] && src.shape[1] === dst.shape[1], 'loadAdapter', () =>
        `'${path}.${name}.weight' has shape ${fmt(src.shape)} but the layer needs ${fmt(dst.shape)}`);
    }
    // A layer adapted before loading must agree with the file, or the weights would be scaled wrongly.
    const want = settings(path);
    check(l.rank === want.rank && Math.abs(l.scaling - want.scaling) <= 1e-12 * want.scaling, 'loadAdapter', () =>
      `LoRALinear '${path}' has rank ${l.rank} and scaling ${l.scaling}, but the adapter was trained with rank ${want.rank} and scaling ${want.scaling} (lora_alpha ${want.alpha}${config.use_rslora ? ', rsLoRA' : ''}); load into a model without that adapter, or build it with the adapter's settings`);
  }
  for (const path of layers.keys()) check(byPath.has(path), 'loadAdapter', () => `the adapter has no weights for LoRALinear '${path}'`);
  noGrad(() => {
    for (const [path, { a, b }] of byPath) {
      layers.get(path)!.loraA.copy_(a!);
      layers.get(path)!.loraB.copy_(b!);
    }
  });
  for (const t of Object.values(tensors)) t.dispose();
}

/**
 * PEFT's rank_pattern / alpha_pattern lookup: a key matches a module path equal to it or ending
 * in `.key` (keys are regular expressions, as in PEFT); the first matching key wins.
 */
function patternValue(pattern: Record<string, number> | undefined, path: string): number | undefined {
  for (const [key, value] of Object.entries(pattern ?? {})) {
    if (new RegExp(`^(.*\\.)?(${key})$`).test(path)) return value;
  }
  return undefined;
}
