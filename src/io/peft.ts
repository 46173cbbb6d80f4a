import { noGrad } from '../core/autograd.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { describeValue, isPlainObject } from '../core/validate.js';
import { applyLoRA, isLoRATarget, matchesTargetName, recordTargetName, targetNameOf } from '../nn/adapt.js';
import { Conv2d } from '../nn/conv2d.js';
import { LoRALayer, type LoRATarget } from '../nn/lora.js';
import type { Module } from '../nn/module.js';
import { PAIR_KEY, checkPair, pairRecord } from './adapterPair.js';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

/**
 * The two files of a PEFT LoRA adapter directory. The weights are backed by a plain ArrayBuffer
 * (never a SharedArrayBuffer), so `new Blob([files['adapter_model.safetensors']])` type-checks.
 */
export interface AdapterFiles<B extends ArrayBufferLike = ArrayBuffer> {
  'adapter_model.safetensors': Uint8Array<B>;
  'adapter_config.json': string;
}

/** The fields of PEFT's LoraConfig that tsgrad reads and writes. */
export interface AdapterConfig {
  peft_type: 'LORA';
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  use_rslora: boolean;
  /** Module names (PEFT matches a name or a dotted suffix) or one regular expression PEFT full-matches. */
  target_modules: string[] | string;
  rank_pattern: Record<string, number>;
  alpha_pattern: Record<string, number>;
  bias: 'none' | 'all' | 'lora_only';
  /** True when the adapted layers are Conv1D (weight [in, out]); PEFT decides each layer's layout by its type. */
  fan_in_fan_out: boolean;
  init_lora_weights: boolean | 'gaussian';
  inference_mode: boolean;
  base_model_name_or_path: string | null;
  task_type: PeftTaskType | null;
}

/** PEFT's TaskType values; `PeftModel.from_pretrained` refuses any other task_type. */
export const PEFT_TASK_TYPES = ['SEQ_CLS', 'SEQ_2_SEQ_LM', 'CAUSAL_LM', 'TOKEN_CLS', 'QUESTION_ANS', 'FEATURE_EXTRACTION'] as const;
/** One of PEFT's task types, as adapter_config.json's task_type holds it. */
export type PeftTaskType = (typeof PEFT_TASK_TYPES)[number];

/**
 * What a model may say about itself for its adapter's config, duck-typed so io needs no model
 * classes: a Hugging Face-style model (models.GPT2LMHeadModel) sets `peftTaskType`
 * ('CAUSAL_LM') and `nameOrPath` (transformers' `name_or_path`: the folder or hub name it was
 * read from). Options passed to `saveAdapter` take precedence.
 */
export interface AdapterModelInfo {
  readonly peftTaskType?: PeftTaskType;
  readonly nameOrPath?: string;
}

/** Options of `saveAdapter` / `saveAdapterDir`: the config's task_type and base_model_name_or_path. */
export interface SaveAdapterOptions {
  /** PEFT's task_type, such as 'CAUSAL_LM' (default: the model's `peftTaskType`, else null). */
  taskType?: PeftTaskType | null;
  /** The base model's folder or hub name (default: the model's `nameOrPath`, else null). */
  baseModelNameOrPath?: string | null;
}

const PREFIX = 'base_model.model.';

function loraLayers(model: Module): [string, LoRALayer][] {
  return model.namedModules().filter((e): e is [string, LoRALayer] => e[1] instanceof LoRALayer);
}

/** lora_A's and lora_B's shapes for `layer` at `rank` (PEFT's: a Conv2d's are convolution weights), and the largest rank it takes. */
function adapterShapes(layer: LoRATarget, rank: number): { a: number[]; b: number[]; maxRank: number } {
  if (layer instanceof Conv2d) {
    const [kh, kw] = layer.kernelSize;
    return { a: [rank, layer.inChannels, kh, kw], b: [layer.outChannels, rank, 1, 1], maxRank: Math.min(layer.inChannels * kh * kw, layer.outChannels) };
  }
  return { a: [rank, layer.inFeatures], b: [layer.outFeatures, rank], maxRank: Math.min(layer.inFeatures, layer.outFeatures) };
}

/**
 * PEFT's target_modules: the list of names given to applyLoRA when PEFT, matching them against
 * the base model's modules, adapts exactly these layers; otherwise (a RegExp or predicate, or
 * lists that would reach further) a regular expression PEFT full-matches against exactly the
 * adapted paths.
 */
function targetModules(model: Module, layers: [string, LoRALayer][]): string[] | string {
  const paths = layers.map(([p]) => p);
  const exact = `^(?:${paths.map(escapeRegExp).join('|')})$`;
  const names = layers.map(([, l]) => targetNameOf(l));
  if (names.some((n) => n === undefined)) return exact;
  const list = [...new Set(names as string[])];
  // The modules PEFT sees: the base model's, so nothing inside a LoRA layer.
  const all = model.namedModules().map(([p]) => p).filter((p) => !paths.some((l) => p.startsWith(`${l}.`)));
  const reached = all.filter((p) => list.some((t) => matchesTargetName(p, t)));
  return reached.length === paths.length && reached.every((p) => paths.includes(p)) ? list : exact;
}

/** Checks a task type and base model name, from the options (`names` taskType, ...) or the model (peftTaskType, nameOrPath). */
function checkNames(op: string, taskType: unknown, nameOrPath: unknown, names: [string, string]): void {
  check(taskType == null || (PEFT_TASK_TYPES as readonly unknown[]).includes(taskType), op, () =>
    `${names[0]} must be one of PEFT's task types (${PEFT_TASK_TYPES.join(', ')}) or null, got ${describeValue(taskType)}`);
  check(nameOrPath == null || typeof nameOrPath === 'string', op, () => `${names[1]} must be a string or null, got ${describeValue(nameOrPath)}`);
}

/** The most common value, so per-layer exceptions go into rank_pattern / alpha_pattern. */
function mode(values: number[]): number {
  const counts = new Map<number, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A rank_pattern / alpha_pattern key for `path`. PEFT matches keys as `(.*\.)?(key)$`, so a
 * path that is a dotted suffix of another adapted path ('2' of '0.2') is anchored with '^'.
 */
function patternKey(path: string, all: string[]): string {
  return all.some((p) => p !== path && p.endsWith(`.${path}`)) ? `^${escapeRegExp(path)}` : path;
}

/**
 * Writes the model's LoRA adapters as PEFT's `save_pretrained` does: `adapter_model.safetensors`
 * with `base_model.model.<path>.lora_A.weight` / `lora_B.weight` (and trained biases:
 * `<path>.base_layer.bias` of adapted layers, `<path>.bias` of others), and `adapter_config.json`.
 * Its `target_modules` is the list of names given to `nn.applyLoRA` when PEFT would adapt exactly
 * the same layers with it, else a regular expression matching exactly the adapted paths.
 * `fan_in_fan_out` is true when the adapted layers are Conv1D (with both kinds, PEFT sets each
 * layer's layout by its type and writes the value of the last adapted layer, and so does this).
 * `task_type` and `base_model_name_or_path` come from the options, else from the model (see
 * `AdapterModelInfo`), else null. The weights' metadata records the config fields that give them
 * their meaning, so `loadAdapter` refuses them beside a config from another save.
 *
 * @example
 * const files = await saveAdapter(gpt2, { taskType: 'CAUSAL_LM', baseModelNameOrPath: 'gpt2' });
 * for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
 */
export async function saveAdapter(model: Module, opts: SaveAdapterOptions = {}): Promise<AdapterFiles> {
  check(isPlainObject(opts), 'saveAdapter', () => `options must be an object such as { taskType: 'CAUSAL_LM' }, got ${describeValue(opts)}`);
  checkNames('saveAdapter', opts.taskType, opts.baseModelNameOrPath, ['taskType', 'baseModelNameOrPath']);
  const layers = loraLayers(model);
  check(layers.length > 0, 'saveAdapter', () => 'the model has no LoRA layers (LoRALinear, LoRAConv2d); call nn.applyLoRA first');
  const info = model as Module & AdapterModelInfo;
  checkNames('saveAdapter', info.peftTaskType, info.nameOrPath, ["the model's peftTaskType", "the model's nameOrPath"]);
  const taskType = (opts.taskType !== undefined ? opts.taskType : info.peftTaskType ?? null) as PeftTaskType | null;
  const nameOrPath = (opts.baseModelNameOrPath !== undefined ? opts.baseModelNameOrPath : info.nameOrPath ?? null) as string | null;
  const r = mode(layers.map(([, l]) => l.rank));
  const alpha = mode(layers.map(([, l]) => l.alpha));
  const rs = layers[0]![1].scaling !== layers[0]![1].alpha / layers[0]![1].rank;
  const paths = layers.map(([p]) => p);
  const loraBiases = new Map<string, string>(layers.flatMap(([p, l]) => (l.base.bias ? [[`${p}.base.bias`, `${p}.base_layer.bias`] as const] : [])));
  const biases = model.namedParameters().filter(([n]) => n === 'bias' || n.endsWith('.bias'));
  const trainedOther = biases.some(([n, b]) => b.requiresGrad && !loraBiases.has(n));
  const trainedLora = biases.some(([n, b]) => b.requiresGrad && loraBiases.has(n));
  // PEFT's bias modes: 'all' saves every bias in the model, 'lora_only' those of adapted layers.
  const bias = trainedOther ? 'all' : trainedLora ? 'lora_only' : 'none';
  const tensors: Record<string, Tensor> = {};
  const config: AdapterConfig = {
    peft_type: 'LORA', r, lora_alpha: alpha, lora_dropout: layers[0]![1].dropout, use_rslora: rs,
    target_modules: targetModules(model, layers),
    rank_pattern: {}, alpha_pattern: {}, bias, fan_in_fan_out: layers[layers.length - 1]![1].fanInFanOut, init_lora_weights: true,
    inference_mode: true, base_model_name_or_path: nameOrPath, task_type: taskType,
  };
  for (const [path, l] of layers) {
    tensors[`${PREFIX}${path}.lora_A.weight`] = l.loraA;
    tensors[`${PREFIX}${path}.lora_B.weight`] = l.loraB;
    if (l.rank !== r) config.rank_pattern[patternKey(path, paths)] = l.rank;
    if (l.alpha !== alpha) config.alpha_pattern[patternKey(path, paths)] = l.alpha;
  }
  for (const [name, b] of biases) {
    if (bias === 'all' || (bias === 'lora_only' && loraBiases.has(name))) tensors[`${PREFIX}${loraBiases.get(name) ?? name}`] = b;
  }
  return {
    'adapter_model.safetensors': await encodeSafetensors(tensors, { format: 'pt', ...pairRecord(config) }),
    'adapter_config.json': JSON.stringify(config, null, 2),
  };
}

interface LoRASettings {
  rank: number;
  alpha: number;
  scaling: number;
}

interface ParsedConfig {
  settings: (path: string) => LoRASettings & { dropout: number; rs: boolean };
  /** target_modules when it is a list of names, else null. */
  targetNames: string[] | null;
  /** target_modules as PEFT matches it (`selects` a module path) and as written, or null when the config has none. */
  targets: { selects: (path: string) => boolean; shown: string } | null;
}

/** A config value for an error message: short, and never a RangeError however deeply it nests. */
function show(v: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(v) ?? String(v);
  } catch {
    return '(a value nested too deeply to show)';
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/** Reads and checks adapter_config.json: a TsgradError for anything tsgrad cannot load faithfully. */
function parseConfig(text: string): ParsedConfig {
  const op = 'loadAdapter';
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new TsgradError(op, `adapter_config.json is not valid JSON (${(e as Error).message.slice(0, 200)})`);
  }
  check(typeof config === 'object' && config !== null && !Array.isArray(config), op, () => 'adapter_config.json must hold a JSON object');
  check(config.peft_type === 'LORA', op, () => `adapter_config.json has peft_type ${show(config.peft_type)}; only LORA adapters load`);
  const positive = (name: string, v: unknown, integer: boolean) =>
    check(typeof v === 'number' && v > 0 && Number.isFinite(v) && (!integer || Number.isInteger(v)), op, () =>
      `adapter_config.json: ${name} must be a positive ${integer ? 'integer' : 'number'}, got ${show(v)}`);
  const r = config.r ?? 8, alpha = config.lora_alpha ?? 8, dropout = config.lora_dropout ?? 0, rs = config.use_rslora ?? false;
  positive('r', r, true);
  positive('lora_alpha', alpha, false);
  check(typeof dropout === 'number' && dropout >= 0 && dropout < 1, op, () => `adapter_config.json: lora_dropout must be in [0, 1), got ${show(dropout)}`);
  check(typeof rs === 'boolean', op, () => `adapter_config.json: use_rslora must be true or false, got ${show(rs)}`);
  // lora_A / lora_B have the same shapes for either layout; as in PEFT, each layer's type decides it.
  check(config.fan_in_fan_out === undefined || typeof config.fan_in_fan_out === 'boolean', op, () =>
    `adapter_config.json: fan_in_fan_out must be true or false, got ${show(config.fan_in_fan_out)}`);
  checkNames(op, config.task_type, config.base_model_name_or_path, ['adapter_config.json: task_type', 'adapter_config.json: base_model_name_or_path']);
  const targets = config.target_modules;
  check(targets == null || typeof targets === 'string' || (Array.isArray(targets) && targets.every((t) => typeof t === 'string')), op, () =>
    `adapter_config.json: target_modules must be a list of names, a regular expression or null, got ${show(targets)}`);
  let targetRegExp: RegExp | null = null;
  try {
    if (typeof targets === 'string') targetRegExp = new RegExp(`^(?:${targets})$`);
  } catch {
    throw new TsgradError(op, `adapter_config.json: target_modules ${show(targets)} is not a valid regular expression`);
  }
  check(!config.use_dora, op, () => 'adapter_config.json has use_dora true; tsgrad implements plain LoRA, not DoRA');
  check(['none', 'all', 'lora_only', undefined].includes(config.bias as string), op, () => `adapter_config.json: bias must be 'none', 'all' or 'lora_only', got ${show(config.bias)}`);
  const patterns: Record<string, Record<string, number>> = {};
  for (const name of ['rank_pattern', 'alpha_pattern']) {
    const p = config[name] ?? {};
    check(typeof p === 'object' && p !== null && !Array.isArray(p), op, () => `adapter_config.json: ${name} must be an object`);
    for (const [k, v] of Object.entries(p)) {
      positive(`${name}['${k}']`, v, name === 'rank_pattern');
      try {
        new RegExp(k);
      } catch {
        throw new TsgradError(op, `adapter_config.json: ${name} key '${k}' is not a valid regular expression`);
      }
    }
    patterns[name] = p as Record<string, number>;
  }
  const settings = (path: string) => {
    const rank = patternValue(patterns.rank_pattern, path) ?? (r as number);
    const a = patternValue(patterns.alpha_pattern, path) ?? (alpha as number);
    return { rank, alpha: a, scaling: rs ? a / Math.sqrt(rank) : a / rank, dropout: dropout as number, rs: rs as boolean };
  };
  // PEFT's matching: a regular expression full-matches the path; a name is the path or its dotted suffix.
  const selects = targetRegExp ? (path: string) => targetRegExp.test(path)
    : Array.isArray(targets) ? (path: string) => targets.some((t) => matchesTargetName(path, t)) : null;
  return {
    settings,
    targetNames: Array.isArray(targets) ? targets : null,
    targets: selects && { selects, shown: show(targets) },
  };
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Loads a PEFT LoRA adapter into `model`. Layers named in the file that are still plain Linear,
 * Conv1D or Conv2d are wrapped (with the file's rank and alpha, per-layer patterns included; a Conv1D keeps
 * its [in, out] weight whatever `fan_in_fan_out` says, as PEFT does); every key must land
 * on a layer with matching shapes, every LoRA layer must get weights, and biases saved with the
 * adapter overwrite the model's. Everything is checked before the model changes, so a failed
 * load leaves it exactly as it was.
 *
 * @example
 * loadAdapter(model, { 'adapter_model.safetensors': readFileSync(a), 'adapter_config.json': readFileSync(c, 'utf8') });
 */
export function loadAdapter(model: Module, files: AdapterFiles<ArrayBufferLike>): void {
  const op = 'loadAdapter';
  check(typeof model === 'object' && model !== null && typeof (model as Module).namedModules === 'function', op, () =>
    `expected a Module as the first argument, got ${describeValue(model)}`);
  check(isPlainObject(files), op, () =>
    `files must be an object { 'adapter_model.safetensors': Uint8Array, 'adapter_config.json': string }, such as io.saveAdapter returns; got ${describeValue(files)}`);
  check(typeof files['adapter_config.json'] === 'string', op, () =>
    `files['adapter_config.json'] must be the config's JSON text (a string), got ${describeValue(files['adapter_config.json'])}`);
  check(files['adapter_model.safetensors'] instanceof Uint8Array, op, () =>
    `files['adapter_model.safetensors'] must be the weights' bytes (a Uint8Array or Node Buffer), got ${describeValue(files['adapter_model.safetensors'])}`);
  const { settings, targetNames, targets } = parseConfig(files['adapter_config.json']);
  const { tensors, metadata } = decodeSafetensors(files['adapter_model.safetensors']);
  try {
    checkPair(op, metadata[PAIR_KEY], files['adapter_config.json']);
    const modules = new Map(model.namedModules());
    const params = new Map(model.namedParameters());
    const byPath = new Map<string, { a?: Tensor; b?: Tensor }>();
    const filled = new Map<string, string>(); // slot ('<path>|A', '<path>|B') -> the key that filled it
    const biases: [string, string, Tensor][] = []; // [key, tsgrad parameter name or '<lora path>|base', tensor]
    for (const [key, t] of Object.entries(tensors)) {
      const lora = /^base_model\.model\.(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$/.exec(key);
      const baseBias = /^base_model\.model\.(.+)\.base_layer\.bias$/.exec(key);
      const bias = /^base_model\.model\.(.+\.)?bias$/.exec(key);
      if (lora) {
        const slot = `${lora[1]}|${lora[2]}`;
        // PEFT keeps one lora_A and one lora_B per layer (adapter-named keys such as lora_A.default.weight included).
        check(!filled.has(slot), op, () => `'${key}' and '${filled.get(slot)}' are both lora_${lora[2]} of '${lora[1]}'; which one counts is ambiguous`);
        filled.set(slot, key);
        const entry = byPath.get(lora[1]!) ?? {};
        entry[lora[2] === 'A' ? 'a' : 'b'] = t;
        byPath.set(lora[1]!, entry);
      } else if (baseBias) biases.push([key, `${baseBias[1]}|base`, t]);
      else if (bias) biases.push([key, key.slice(PREFIX.length), t]);
      else throw new TsgradError(op, `unexpected key '${key}'; expected base_model.model.<path>.lora_A.weight, lora_B.weight, base_layer.bias or bias`);
    }
    check(byPath.size > 0, op, () => 'the adapter holds no lora_A / lora_B weights');

    const existing = new Set(loraLayers(model).map(([p]) => p));
    for (const [path, { a, b }] of byPath) {
      const m = modules.get(path);
      check(isLoRATarget(m) || m instanceof LoRALayer, op, () =>
        `the adapter has weights for '${path}', which is ${m ? `a ${m.constructor.name}` : 'not in the model'}; expected a Linear, Conv1D, Conv2d or LoRA layer`);
      check(a && b, op, () => `the adapter for '${path}' lacks lora_${a ? 'B' : 'A'}.weight`);
      const want = settings(path);
      const shapes = adapterShapes(m instanceof LoRALayer ? m.base : m, want.rank);
      check(Number.isInteger(want.rank) && want.rank >= 1 && want.rank <= shapes.maxRank, op, () =>
        `'${path}' would get rank ${want.rank}, outside [1, ${shapes.maxRank}] for its ${m.constructor.name} (weight ${fmt((m as LoRATarget).weight.shape)})`);
      const [needA, needB] = m instanceof LoRALayer ? [m.loraA.shape, m.loraB.shape] : [shapes.a, shapes.b];
      for (const [name, src, need] of [['lora_A', a, needA], ['lora_B', b, needB]] as const) {
        check(sameShape(src.shape, need), op, () => `'${path}.${name}.weight' has shape ${fmt(src.shape)} but the layer needs ${fmt(need)}`);
      }
      if (m instanceof LoRALayer) {
        check(!m.isMerged, op, () => `${m.constructor.name} '${path}' is merged; call unmerge() first`);
        // A layer adapted before loading must agree with the file, or the weights would be scaled wrongly.
        check(m.rank === want.rank && Math.abs(m.scaling - want.scaling) <= 1e-12 * want.scaling, op, () =>
          `${m.constructor.name} '${path}' has rank ${m.rank} and scaling ${m.scaling}, but the adapter was trained with rank ${want.rank} and scaling ${want.scaling} (lora_alpha ${want.alpha}${want.rs ? ', rsLoRA' : ''}); load into a model without that adapter, or build it with the adapter's settings`);
      }
    }
    for (const path of existing) check(byPath.has(path), op, () => `the adapter has no weights for ${modules.get(path)!.constructor.name} '${path}'`);
    if (targets) checkTargets(op, targets, modules, existing, byPath);

    // Each bias resolves to a parameter of the model as it is now (LoRA-wrapped or not).
    const biasKeys = new Map<Tensor, string>();
    const biasTargets: [Tensor, Tensor][] = biases.map(([key, name, src]) => {
      const [path, base] = name.endsWith('|base') ? [name.slice(0, -5), true] : [name.slice(0, -'.bias'.length), false];
      check(!base || byPath.has(path), op, () => `the adapter has '${path}.base_layer.bias' but no lora_A / lora_B for '${path}'`);
      const m = modules.get(path);
      const dst = m instanceof LoRALayer ? m.base.bias : base && isLoRATarget(m) ? m.bias : params.get(name);
      check(dst, op, () => `the adapter has a bias for '${path}', which has no bias parameter in the model`);
      check(sameShape(src.shape, dst.shape), op, () => `the adapter's bias for '${path}' has shape ${fmt(src.shape)} but the model's has ${fmt(dst.shape)}`);
      check(!biasKeys.has(dst), op, () => `'${key}' and '${biasKeys.get(dst)}' are both the bias of '${path}'; which one counts is ambiguous`);
      biasKeys.set(dst, key);
      return [dst, src];
    });

    // Everything fits: now change the model.
    const groups = new Map<string, string[]>();
    for (const p of byPath.keys()) {
      if (existing.has(p)) continue;
      const s = settings(p);
      const k = `${s.rank}/${s.alpha}`;
      groups.set(k, [...(groups.get(k) ?? []), p]);
    }
    for (const paths of groups.values()) {
      const s = settings(paths[0]!);
      applyLoRA(model, { targets: (path) => paths.includes(path), rank: s.rank, alpha: s.alpha, dropout: s.dropout, useRsLoRA: s.rs });
    }
    const layers = new Map(loraLayers(model));
    // Names from the adapter's target_modules list, so saving it again writes the same list.
    if (targetNames) for (const p of byPath.keys()) if (!existing.has(p)) recordTargetName(layers.get(p)!, p, targetNames);
    noGrad(() => {
      for (const [path, { a, b }] of byPath) {
        layers.get(path)!.loraA.copy_(a!);
        layers.get(path)!.loraB.copy_(b!);
      }
      for (const [dst, src] of biasTargets) dst.copy_(src);
    });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/**
 * Refuses a target_modules PEFT would refuse (matching no module, or one LoRA cannot adapt), or
 * one that leaves out a layer the file has weights for (PEFT would not apply them). Only the
 * base model's modules count: nothing inside a LoRA layer.
 */
function checkTargets(op: string, { selects, shown }: NonNullable<ParsedConfig['targets']>, modules: Map<string, Module>, lora: Set<string>,
  byPath: Map<string, unknown>): void {
  const inLoRA = (p: string) => [...lora].some((l) => p.startsWith(`${l}.`));
  const selected = new Set([...modules.keys()].filter((p) => p !== '' && !inLoRA(p) && selects(p)));
  check(selected.size > 0, op, () => `adapter_config.json: target_modules ${shown} matches no module of the model; PEFT refuses it too ("not found in the base model")`);
  for (const p of selected) {
    const m = modules.get(p)!;
    check(isLoRATarget(m) || m instanceof LoRALayer, op, () =>
      `adapter_config.json: target_modules ${shown} selects '${p}', a ${m.constructor.name}, which LoRA cannot adapt; PEFT refuses it too`);
  }
  for (const p of byPath.keys()) {
    check(selected.has(p), op, () => `the adapter has weights for '${p}', but its target_modules ${shown} does not select it, so PEFT would not apply them`);
  }
}

/**
 * PEFT's rank_pattern / alpha_pattern lookup: a key matches a module path equal to it or ending
 * in `.key` (keys are regular expressions, as in PEFT); the first matching key wins.
 */
function patternValue(pattern: Record<string, number>, path: string): number | undefined {
  for (const [key, value] of Object.entries(pattern)) {
    if (new RegExp(`^(.*\\.)?(${key})$`).test(path)) return value;
  }
  return undefined;
}
