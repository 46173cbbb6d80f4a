// An adapter's two files are written one after the other, so a save killed between the two
// renames (or two processes saving to one folder at once, or two downloads from different runs)
// can put new weights beside an old config, which would load at the wrong scaling. PEFT warns
// about config keys it does not know, so the binding lives in the weights file's metadata, which
// PEFT ignores: the config fields that give the weights their meaning, checked on load.
import { TsgradError, check } from '../core/errors.js';

/** The metadata key in adapter_model.safetensors holding the config fields it was saved with. */
export const PAIR_KEY = 'tsgrad.adapter_config';

/**
 * The fields of adapter_config.json that change what the weights mean when loaded: each layer's
 * rank and scaling, and which biases count. Not target_modules: names that select the same
 * layers are equivalent, and loadAdapter refuses one that leaves out a layer with weights.
 */
const FIELDS = ['peft_type', 'r', 'lora_alpha', 'use_rslora', 'rank_pattern', 'alpha_pattern', 'bias'];
/** PEFT's LoraConfig defaults, so a config that leaves a field out means the same as one that spells it. */
const DEFAULTS: Record<string, unknown> = { r: 8, lora_alpha: 8, use_rslora: false, rank_pattern: {}, alpha_pattern: {}, bias: 'none' };

/** JSON with sorted keys, or null for a value nested deeper than any config field is. */
function canonical(v: unknown, depth = 0): string | null {
  if (depth > 8) return null;
  if (Array.isArray(v)) {
    const items = v.map((x) => canonical(x, depth + 1));
    return items.includes(null) ? null : `[${items.join(',')}]`;
  }
  if (typeof v === 'object' && v !== null) {
    const items = Object.keys(v).sort().map((k) => {
      const inner = canonical((v as Record<string, unknown>)[k], depth + 1);
      return inner === null ? null : `${JSON.stringify(k)}:${inner}`;
    });
    return items.includes(null) ? null : `{${items.join(',')}}`;
  }
  return JSON.stringify(v) ?? 'undefined';
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The metadata that binds the weights to `config`: its fields that give them their meaning. */
export function pairRecord(config: object): Record<string, string> {
  const c = config as Record<string, unknown>;
  return { [PAIR_KEY]: `{${FIELDS.filter((f) => c[f] !== undefined).map((f) => `${JSON.stringify(f)}:${canonical(c[f])}`).join(',')}}` };
}

/**
 * Refuses weights whose recorded config fields (`record`, from their metadata) differ from the
 * config beside them, naming the first that differs. Weights without a record (PEFT's own,
 * older tsgrad's) are not checked; a config that is not a JSON object is refused elsewhere.
 */
export function checkPair(op: string, record: string | undefined, configText: string): void {
  const config = parseObject(configText);
  if (record === undefined || config === null) return;
  const saved = parseObject(record);
  if (saved === null) throw new TsgradError(op, `adapter_model.safetensors has a malformed '${PAIR_KEY}' record; save the adapter again`);
  for (const field of FIELDS) {
    const [was, now] = [canonical(saved[field] ?? DEFAULTS[field]), canonical(config[field] ?? DEFAULTS[field])];
    check(was !== null && was === now, op, () =>
      `adapter_config.json has ${field} ${now === null ? '(deeply nested)' : now.slice(0, 80)}, but adapter_model.safetensors was saved with ${field} ${was?.slice(0, 80)}: ` +
      'the two files come from different saves (one interrupted between its two files, two processes saving to one folder, or a config edited by hand), and the weights would load wrongly; save the adapter again');
  }
}
