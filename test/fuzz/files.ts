// Hostile files, described as plain data so fast-check can shrink them and print the file that
// broke a promise: a valid module checkpoint, optimizer checkpoint or adapter folder, then edited
// as an attacker, a crash or a careless hand would edit it: entries renamed to names JavaScript
// objects treat specially, dropped, doubled or added; fields replaced by junk or nested deeply;
// a thousand empty entries; the checkpoint's metadata rewritten; bytes overwritten or cut
// off; an adapter's config edited, or its weights taken from another save.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { type Tensor, io, manualSeed, nn, noGrad, optim, randn } from '../../src/index.js';

export type FileKind = 'module' | 'optimizer' | 'adapter';

/** One edit of a file's header (as [key, value] pairs, so keys can repeat), metadata or bytes. */
export type Edit =
  | { op: 'rename'; index: number; name: string }
  | { op: 'drop'; index: number }
  | { op: 'double'; index: number }
  | { op: 'add'; name: string; value: unknown }
  | { op: 'field'; index: number; field: string; value: unknown }
  | { op: 'nest'; index: number; depth: number }
  | { op: 'many'; count: number }
  | { op: 'meta'; key: string; value: string | null }
  | { op: 'numbers'; index: string; key: string; value: unknown }
  | { op: 'bytes'; at: number; value: number }
  | { op: 'cut'; keep: number }
  | { op: 'config'; key: string; value: unknown }
  | { op: 'otherWeights' };

export interface HostileFile {
  kind: FileKind;
  edits: Edit[];
}

/** Names that JavaScript objects, our own key patterns, or PEFT's layout treat specially. */
const NAMES = [
  '__proto__', 'constructor', 'toString', 'hasOwnProperty', '', '__metadata__', 'é\u0000', 'x'.repeat(300),
  '0.weight', '2.bias', '0.__proto__', 'state.0.expAvg', 'state.0.expAvgSq', 'state.01.expAvg', 'state.0.__proto__', 'state.0.bogus', 'state.9.expAvg', 'state.-1.expAvg',
  'base_model.model.0.lora_A.weight', 'base_model.model.0.lora_B.default.weight', 'base_model.model.2.lora_A.weight', 'base_model.model.__proto__.lora_A.weight',
  'base_model.model.0.base_layer.bias', 'base_model.model.2.bias', 'base_model.model.1.lora_A.weight',
];
const FIELDS = ['dtype', 'shape', 'data_offsets', '__proto__', 'extra'];
const META_KEYS = ['tsgrad.kind', 'tsgrad.numbers', 'tsgrad.paramGroups', 'tsgrad.adapter_config', 'format', '__proto__'];
const CONFIG_KEYS = ['r', 'lora_alpha', 'use_rslora', 'target_modules', 'rank_pattern', 'alpha_pattern', 'bias', 'peft_type', 'fan_in_fan_out', 'use_dora',
  'lora_dropout', 'base_model_name_or_path', 'inference_mode', 'task_type', '__proto__'];

/** A string standing for `depth` nested arrays around 1, spelled out only in the JSON text (JSON.stringify would overflow). */
const nestMark = (depth: number) => `<nest ${depth}>`;
const spellNests = (json: string) => json.replace(/"<nest (\d+)>"/g, (_, d: string) => `${'['.repeat(Number(d))}1${']'.repeat(Number(d))}`);
const deep = spellNests(`"${nestMark(5000)}"`);

const junk = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom<unknown>(null, 'F32', 'F16', 'I64', '__proto__', 'toString', [], [0], [1, 0], [4, 3], [0, 0], [0, 48], [-1, 4], [2 ** 53, 2 ** 53 + 4], 8, 16, 4, 0.5, true, '^(?:0|2)$', { '^2': 2 },
    nestMark(20), nestMark(5000)),
);
const index = fc.nat({ max: 11 });
const strings = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('module', 'optimizer', '{}', '[]', 'null', '{"0":{"step":1}}', '[{"params":[0,1,2,3]}]',
  `[{"params":[0,1,2,3],"lr":${deep}}]`, `[{"params":[0,1,2,3],"betas":${deep}}]`, `{"0":{"step":1,"lr":${deep}}}`, `{"peft_type":"LORA","r":${deep}}`));

export const editArb: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ op: fc.constant('rename' as const), index, name: fc.constantFrom(...NAMES) }),
  fc.record({ op: fc.constant('drop' as const), index }),
  fc.record({ op: fc.constant('double' as const), index }),
  fc.record({ op: fc.constant('add' as const), name: fc.constantFrom(...NAMES), value: fc.oneof(junk, fc.constant({ dtype: 'F32', shape: [0], data_offsets: [0, 0] })) }),
  fc.record({ op: fc.constant('field' as const), index, field: fc.constantFrom(...FIELDS), value: junk }),
  fc.record({ op: fc.constant('nest' as const), index, depth: fc.constantFrom(100, 129, 5000) }),
  fc.record({ op: fc.constant('many' as const), count: fc.constantFrom(2, 1000) }),
  fc.record({ op: fc.constant('meta' as const), key: fc.constantFrom(...META_KEYS), value: fc.option(strings, { nil: null }) }),
  fc.record({ op: fc.constant('numbers' as const), index: fc.constantFrom('0', '1', '3', '01', '9', '__proto__'), key: fc.constantFrom('step', 'lr', '__proto__', 'expAvg'), value: junk }),
  fc.record({ op: fc.constant('bytes' as const), at: fc.nat({ max: 4000 }), value: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('cut' as const), keep: fc.nat({ max: 4000 }) }),
  fc.record({ op: fc.constant('config' as const), key: fc.constantFrom(...CONFIG_KEYS), value: fc.option(junk, { nil: undefined }) }),
  fc.constant({ op: 'otherWeights' as const }),
);

export const hostileFileArb: fc.Arbitrary<HostileFile> = fc.record({
  kind: fc.constantFrom<FileKind>('module', 'optimizer', 'adapter'),
  edits: fc.array(editArb, { minLength: 1, maxLength: 3 }),
});

/** The networks the files belong to: small, with two Linear layers named '0' and '2'. */
export const net = () => new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 2));

/** Valid files to start from: a module and an Adam checkpoint, and one adapter saved at two lora_alpha values. */
export interface Originals {
  base: nn.Module;
  module: Uint8Array;
  optimizer: Uint8Array;
  adapters: { model: nn.Module; files: io.AdapterFiles }[];
}

export async function originals(adapterDir: string): Promise<Originals> {
  manualSeed(5);
  const base = net();
  const trained = net();
  const adam = new optim.Adam(trained, { lr: 0.01 });
  const x = randn([4, 3]);
  for (let i = 0; i < 2; i++) {
    trained.forward(x).pow(2).mean().backward();
    adam.step();
    adam.zeroGrad();
  }
  const adapters = [];
  for (const alpha of [4, 8]) {
    const model = net();
    model.loadStateDict(base.stateDict());
    nn.applyLoRA(model, { targets: ['0', '2'], rank: 2, alpha });
    noGrad(() => {
      for (const l of model.modules()) if (l instanceof nn.LoRALinear) l.loraB.copy_(randn(l.loraB.shape));
    });
    // The folder's files, as saveAdapterDir writes them (with the record that pairs them).
    await io.saveAdapterDir(model, adapterDir);
    const files = {
      'adapter_model.safetensors': new Uint8Array(readFileSync(join(adapterDir, 'adapter_model.safetensors'))),
      'adapter_config.json': readFileSync(join(adapterDir, 'adapter_config.json'), 'utf8'),
    };
    adapters.push({ model, files });
  }
  return { base, module: await io.encodeStateDict(trained), optimizer: await io.encodeStateDict(adam), adapters };
}

/** A safetensors file rebuilt from its header entries (keys may repeat) and data. */
function assemble(pairs: [string, unknown][], data: Uint8Array): Uint8Array {
  const json = `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
  const text = new TextEncoder().encode(spellNests(json));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function split(bytes: Uint8Array): { pairs: [string, unknown][]; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, unknown>;
  return { pairs: Object.entries(header), data: bytes.subarray(8 + n) };
}

/** Applies the edits to a copy of the original file(s). */
export function build(file: HostileFile, o: Originals): { weights: Uint8Array; config: string } {
  const source = file.kind === 'module' ? o.module : file.kind === 'optimizer' ? o.optimizer : o.adapters[0]!.files['adapter_model.safetensors'];
  let config = o.adapters[0]!.files['adapter_config.json'];
  let { pairs, data } = split(source);
  const byteEdits: Edit[] = [];
  const at = (i: number) => i % Math.max(pairs.length, 1);
  for (const e of file.edits) {
    if (e.op === 'otherWeights') ({ pairs, data } = split(o.adapters[1]!.files['adapter_model.safetensors']));
    else if (e.op === 'rename' && pairs.length) pairs[at(e.index)] = [e.name, pairs[at(e.index)]![1]];
    else if (e.op === 'drop' && pairs.length) pairs.splice(at(e.index), 1);
    else if (e.op === 'double' && pairs.length) pairs.push(pairs[at(e.index)]!);
    else if (e.op === 'add') pairs.push([e.name, e.value]);
    else if ((e.op === 'field' || e.op === 'nest') && pairs.length) {
      const [k, v] = pairs[at(e.index)]!;
      const entry = typeof v === 'object' && v !== null ? { ...(v as object) } as Record<string, unknown> : {};
      const field = e.op === 'field' ? e.field : 'shape';
      entry[field] = e.op === 'field' ? e.value : nestMark(e.depth);
      pairs[at(e.index)] = [k, entry];
    } else if (e.op === 'many') {
      for (let i = 0; i < e.count; i++) pairs.push([`z${i}`, { dtype: 'F32', shape: [0], data_offsets: [0, 0] }]);
    } else if (e.op === 'meta' || e.op === 'numbers') {
      const m = pairs.find(([k]) => k === '__metadata__');
      const meta = { ...((m?.[1] as Record<string, string>) ?? {}) };
      if (e.op === 'meta') {
        if (e.value === null) delete meta[e.key];
        else meta[e.key] = e.value;
      } else {
        let numbers: Record<string, Record<string, unknown>> = {};
        try {
          numbers = JSON.parse(meta['tsgrad.numbers'] ?? '{}');
        } catch {
          // an earlier edit left them malformed: start afresh
        }
        if (typeof numbers !== 'object' || numbers === null) numbers = {};
        numbers[e.index] = { ...(numbers[e.index] ?? {}), [e.key]: e.value };
        meta['tsgrad.numbers'] = JSON.stringify(numbers);
      }
      if (m) m[1] = meta;
      else pairs.push(['__metadata__', meta]);
    } else if (e.op === 'config') {
      const c = JSON.parse(config) as Record<string, unknown>;
      if (e.value === undefined) delete c[e.key];
      else c[e.key] = e.value;
      config = JSON.stringify(c);
    } else if (e.op === 'bytes' || e.op === 'cut') byteEdits.push(e);
  }
  let weights = assemble(pairs, data);
  for (const e of byteEdits) {
    if (e.op === 'bytes') {
      weights = weights.slice();
      weights[e.at % weights.length] = e.value;
    } else if (e.op === 'cut') weights = weights.slice(0, e.keep);
  }
  return { weights, config: spellNests(config) };
}

/** Every value a model or an optimizer holds, to compare before and after a refused load. */
export function snapshotOf(model: nn.Module, opt?: optim.Optimizer<object>): string {
  const values = (t: Tensor) => Array.from(t.dataSync());
  return JSON.stringify([
    model.namedModules().map(([p, m]) => [p, m.constructor.name]),
    model.namedParameters().map(([n, p]) => [n, p.requiresGrad, values(p)]),
    opt ? model.parameters().map((p) => [opt.stateOf(p)?.step, Object.entries(opt.stateOf(p)?.tensors ?? {}).map(([k, t]) => [k, values(t)])]) : [],
    opt ? opt.paramGroups.map(({ params: _, ...h }) => h) : [],
  ]);
}

export function describeFile(file: HostileFile): string {
  return `${file.kind} file with edits ${JSON.stringify(file.edits, (_, v) => (typeof v === 'string' && v.length > 40 ? `${v.slice(0, 20)}…(${v.length})` : v))}`;
}
