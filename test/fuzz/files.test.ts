// The hostile-file fuzz: every file from files.ts is refused with a TsgradError naming the load,
// leaving the model or optimizer exactly as it was, or is accepted correctly: the target then
// holds what the file says, and an adapter loads at the scaling its weights were saved with.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, it } from 'vitest';
import { type Tensor, TsgradError, io, nn, optim, randn } from '../../src/index.js';
import { type HostileFile, type Originals, build, describeFile, hostileFileArb, net, originals, snapshotOf } from './files.js';

/** Fixed, so every run checks the same files; set FUZZ_SEED to explore others. */
const SEED = Number(process.env.FUZZ_SEED ?? 12);

const OPS: Record<HostileFile['kind'], string[]> = {
  module: ['decodeSafetensors', 'decodeStateDict', 'loadStateDict'],
  optimizer: ['decodeSafetensors', 'decodeStateDict', 'loadStateDict'],
  adapter: ['decodeSafetensors', 'loadAdapterDir', 'loadAdapter'],
};

const same = (a: Tensor, b: Tensor | undefined) =>
  b !== undefined && a.shape.join() === b.shape.join() && Array.from(a.dataSync()).every((v, i) => Object.is(v, b.dataSync()[i]));

/** Throws, describing the file, unless the target holds what an accepted file says. */
function checkAccepted(what: string, file: HostileFile, weights: Uint8Array, o: Originals, model: nn.Module, opt?: optim.Optimizer<object>): void {
  const fail = (why: string) => {
    throw new Error(`${what} was accepted, but ${why}`);
  };
  const { tensors, metadata } = io.decodeSafetensors(weights);
  if (file.kind === 'module') {
    for (const [n, p] of model.namedParameters()) if (!same(p, tensors[n])) fail(`parameter '${n}' does not hold the file's values`);
  } else if (file.kind === 'optimizer') {
    const numbers = JSON.parse(metadata['tsgrad.numbers']!) as Record<string, { step: number }>;
    model.parameters().forEach((p, i) => {
      const s = opt!.stateOf(p);
      if (!numbers[i]) return void (s && fail(`parameter ${i} has state the file does not hold`));
      if (s?.step !== numbers[i]!.step) fail(`parameter ${i} has step ${s?.step}, the file ${numbers[i]!.step}`);
      for (const k of ['expAvg', 'expAvgSq']) if (!same(s!.tensors[k]!, tensors[`state.${i}.${k}`])) fail(`state[${i}].${k} does not hold the file's values`);
    });
  } else {
    const version = file.edits.some((e) => e.op === 'otherWeights') ? 1 : 0;
    const original = new Map(o.adapters[version]!.model.namedModules());
    const record = io.decodeSafetensors(o.adapters[version]!.files['adapter_model.safetensors']).metadata['tsgrad.adapter_config'];
    for (const [path, l] of model.namedModules()) {
      if (!(l instanceof nn.LoRALinear)) continue;
      const find = (ab: string) => Object.entries(tensors).find(([k]) => new RegExp(`^base_model\\.model\\.${path}\\.lora_${ab}(\\.[^.]+)?\\.weight$`).test(k))?.[1];
      if (!same(l.loraA, find('A')) || !same(l.loraB, find('B'))) fail(`'${path}' does not hold the file's lora_A / lora_B`);
      // While the weights carry their record intact, they must load at the scaling they were saved with.
      const trained = original.get(path) as nn.LoRALinear | undefined;
      if (metadata['tsgrad.adapter_config'] === record && trained && l.scaling !== trained.scaling) fail(`'${path}' loaded at scaling ${l.scaling}, trained at ${trained.scaling}`);
    }
  }
  for (const t of Object.values(tensors)) t.dispose();
}

describe('fuzz: hostile files', () => {
  let o: Originals;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tsgrad-hostile-'));
    o = await originals(dir);
  });

  it('every hostile checkpoint or adapter folder is refused with a TsgradError and changes nothing, or is loaded as it says', () => {
    fc.assert(fc.property(hostileFileArb, (file) => {
      const what = describeFile(file);
      const { weights, config } = build(file, o);
      const model = net();
      if (file.kind === 'adapter') model.loadStateDict(o.base.stateDict());
      let opt: optim.Optimizer<object> | undefined;
      if (file.kind === 'optimizer') {
        opt = new optim.Adam(model, { lr: 0.5 });
        model.forward(randn([2, 3])).sum().backward();
        opt.step();
      }
      const before = snapshotOf(model, opt);
      try {
        if (file.kind === 'adapter') {
          writeFileSync(join(dir, 'adapter_model.safetensors'), weights);
          writeFileSync(join(dir, 'adapter_config.json'), config);
          io.loadAdapterDir(model, dir);
        } else {
          io.decodeStateDict(weights, opt ?? model);
        }
      } catch (e) {
        if (!(e instanceof TsgradError)) throw new Error(`${what} threw a raw ${(e as Error)?.name}: ${(e as Error)?.message}`);
        if (!OPS[file.kind].includes(e.op)) throw new Error(`${what} threw a TsgradError named '${e.op}': ${e.message}`);
        if (snapshotOf(model, opt) !== before) throw new Error(`${what} was refused (${e.message}) but changed the ${opt ? 'optimizer' : 'model'}`);
        return;
      }
      checkAccepted(what, file, weights, o, model, opt);
    }), { numRuns: 400, seed: SEED });
  });
});
