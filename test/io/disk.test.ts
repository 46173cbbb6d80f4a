// Files on disk: Node Buffers decode correctly, checkpoints round trip, failed loads change
// nothing, a writer killed mid-write leaves the old file intact, overwritten files keep their
// permissions, killed writers' temporary files are cleaned up, and torn adapter folders are refused.
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TsgradError, full, io, manualSeed, nn, noGrad, optim, randn, tensor } from '../../src/index.js';
import { versions } from './crash-versions.js';

const folder = () => mkdtempSync(join(tmpdir(), 'tsgrad-io-'));

describe('reading Node Buffers', () => {
  it('decodes readFileSync output and Buffers that are views into a larger pool', async () => {
    const dir = folder();
    const bytes = await io.encodeSafetensors({ a: tensor([1.5, -2, 3.25]), b: tensor([7, 8], { dtype: 'int32' }) });
    writeFileSync(join(dir, 'x.safetensors'), bytes);
    const fromDisk = readFileSync(join(dir, 'x.safetensors'));
    const pooled = Buffer.concat([Buffer.alloc(13, 0xff), Buffer.from(bytes)]).subarray(13);
    for (const b of [fromDisk, pooled]) {
      const { tensors } = io.decodeSafetensors(b);
      expect(Array.from(tensors.a!.dataSync())).toEqual([1.5, -2, 3.25]);
      expect(Array.from(tensors.b!.dataSync())).toEqual([7, 8]);
    }
    expect(pooled.byteOffset).toBeGreaterThan(0);
    expect(Array.from(io.loadSafetensors(join(dir, 'x.safetensors')).tensors.a!.dataSync())).toEqual([1.5, -2, 3.25]);
  });
});

const mlp = () => new nn.Sequential(new nn.Linear(4, 6), new nn.Tanh(), new nn.Linear(6, 2));

describe('saveStateDict / loadStateDict', () => {
  it('a model and its Adam state resume training exactly where they left off', async () => {
    const dir = folder();
    manualSeed(0);
    const model = mlp();
    const opt = new optim.Adam(model.parameters(), { lr: 0.01, betas: [0.8, 0.9] });
    const x = randn([5, 4]);
    const step = (m: nn.Module, o: optim.Adam) => {
      m.forward(x).pow(2).mean().backward();
      o.step();
      o.zeroGrad();
    };
    for (let i = 0; i < 3; i++) step(model, opt);
    await io.saveStateDict(join(dir, 'model.safetensors'), model);
    await io.saveStateDict(join(dir, 'adam.safetensors'), opt);

    const model2 = mlp();
    const opt2 = new optim.Adam(model2.parameters());
    io.loadStateDict(join(dir, 'model.safetensors'), model2);
    io.loadStateDict(join(dir, 'adam.safetensors'), opt2);
    expect(opt2.paramGroups[0]!.betas).toEqual([0.8, 0.9]);
    expect(opt2.stateOf(model2.parameters()[0]!)!.step).toBe(3);
    step(model, opt);
    step(model2, opt2);
    const a = model.stateDict(), b = model2.stateDict();
    for (const k of Object.keys(a)) expect(Array.from(b[k]!.dataSync())).toEqual(Array.from(a[k]!.dataSync()));
  });

  it('in memory too, and a failed load leaves the target as it was', async () => {
    manualSeed(1);
    const model = mlp();
    const bytes = await io.encodeStateDict(model);
    const other = new nn.Sequential(new nn.Linear(4, 6), new nn.Tanh(), new nn.Linear(6, 3));
    const before = other.parameters().map((p) => Array.from(p.dataSync()));
    expect(() => io.decodeStateDict(bytes, other)).toThrow(/'2.weight': shape \[2,6\] in the state dict but \[3,6\]/);
    expect(other.parameters().map((p) => Array.from(p.dataSync()))).toEqual(before);

    const opt = new optim.SGD(other.parameters(), { lr: 0.1 });
    expect(() => io.decodeStateDict(bytes, opt)).toThrow(/a module checkpoint but the target is an optimizer/);
    const plain = await io.encodeSafetensors({ w: tensor([1]) });
    expect(() => io.decodeStateDict(plain, other)).toThrow(/not a tsgrad checkpoint/);
    expect(() => io.loadStateDict(join(folder(), 'missing.safetensors'), other)).toThrow(TsgradError);
  });
});

describe('atomic writes', () => {
  it('a writer killed mid-write leaves the old file intact', async () => {
    const dir = folder();
    const path = join(dir, 'ckpt.safetensors');
    await io.saveSafetensors(path, { w: full([8], 1) });
    const old = readFileSync(path);
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'atomic-writer.ts'), path, '256'], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    // Poll until the temporary file exists, then kill the writer at once.
    const deadline = Date.now() + 45_000;
    let tmp: string | undefined;
    while (!tmp && Date.now() < deadline) tmp = readdirSync(dir).find((f) => f.endsWith('.tmp'));
    child.kill('SIGKILL');
    await exited;
    expect(tmp, 'the writer never created its temporary file').toBeDefined();
    expect(existsSync(join(dir, tmp!))).toBe(true); // killed before the rename
    expect(readFileSync(path).equals(old)).toBe(true);
    expect(Array.from(io.loadSafetensors(path).tensors.w!.dataSync())).toEqual(new Array(8).fill(1));
  }, 60_000);
});

describe('overwriting keeps permissions', () => {
  it.skipIf(process.platform === 'win32')('a 0600 checkpoint stays 0600, a 0640 adapter stays 0640, a new file follows the umask', async () => {
    const dir = folder();
    const path = join(dir, 'model.safetensors');
    await io.saveStateDict(path, mlp());
    expect(statSync(path).mode & 0o777).toBe(0o666 & ~process.umask());
    chmodSync(path, 0o600);
    await io.saveStateDict(path, mlp());
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const { adapters } = versions();
    const adapter = join(dir, 'adapter');
    await io.saveAdapterDir(adapters[0]!, adapter);
    for (const f of ['adapter_model.safetensors', 'adapter_config.json']) chmodSync(join(adapter, f), 0o640);
    await io.saveAdapterDir(adapters[1]!, adapter);
    for (const f of ['adapter_model.safetensors', 'adapter_config.json']) expect(statSync(join(adapter, f)).mode & 0o777, f).toBe(0o640);
  });
});

describe('temporary files left by killed writers', () => {
  it('the next save removes ours whose writer is gone, and leaves a live writer\'s and every other file', async () => {
    const dir = folder();
    const path = join(dir, 'model.safetensors');
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => gone.on('exit', resolve));
    const live = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const stray = [`.model.safetensors.${gone.pid}.3.tmp`, `.model.safetensors.${gone.pid}.0.tmp`];
    const kept = [
      `.model.safetensors.${live.pid}.0.tmp`, // a writer still running
      `.model.safetensors.${process.pid}.99.tmp`, // this process: a writer in another thread
      `.other.safetensors.${gone.pid}.0.tmp`, // another file's: its own next save cleans it
      `.model.safetensors.${gone.pid}.tmp`, `model.safetensors.${gone.pid}.0.tmp`, `.model.safetensors.${gone.pid}.0.tmp.bak`, `.model.safetensors.x${gone.pid}.0.tmp`,
    ];
    for (const f of [...stray, ...kept]) writeFileSync(join(dir, f), 'partial');
    await io.saveSafetensors(path, { w: tensor([1]) });
    expect(readdirSync(dir).sort()).toEqual([...kept, 'model.safetensors'].sort());
    const exited = new Promise((resolve) => live.on('exit', resolve));
    live.kill('SIGKILL');
    await exited;
    await io.saveSafetensors(path, { w: tensor([2]) });
    expect(readdirSync(dir).sort()).toEqual([...kept.slice(1), 'model.safetensors'].sort());
  });

  it('saveAdapterDir removes those of both its files', async () => {
    const dir = folder();
    const gone = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => gone.on('exit', resolve));
    const stray = ['adapter_model.safetensors', 'adapter_config.json'].map((f) => `.${f}.${gone.pid}.0.tmp`);
    for (const f of stray) writeFileSync(join(dir, f), 'partial');
    await io.saveAdapterDir(versions().adapters[0]!, dir);
    expect(readdirSync(dir).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  });
});

describe('an adapter folder whose two files come from different saves', () => {
  it('is refused, naming the field, with the model unchanged; edits that keep the meaning still load', async () => {
    const { base, adapters } = versions();
    const [dir8, dir16] = [folder(), folder()];
    await io.saveAdapterDir(adapters[0]!, dir8);
    await io.saveAdapterDir(adapters[1]!, dir16);
    const fresh = () => {
      const m = new nn.Sequential(new nn.Linear(16, 16), new nn.Tanh(), new nn.Linear(16, 4));
      m.loadStateDict(base.stateDict());
      return m;
    };
    const x = randn([3, 16]);
    const out = (m: nn.Module) => Array.from(noGrad(() => m.forward(x)).dataSync());
    // What a save of the alpha-16 adapter killed between its two renames leaves.
    copyFileSync(join(dir16, 'adapter_model.safetensors'), join(dir8, 'adapter_model.safetensors'));
    const model = fresh();
    const before = out(model);
    expect(() => io.loadAdapterDir(model, dir8)).toThrow(/adapter_config.json has lora_alpha 8, but adapter_model.safetensors was saved with lora_alpha 16: the two files come from different saves/);
    expect(model.modules().some((m) => m instanceof nn.LoRALinear)).toBe(false);
    expect(out(model)).toEqual(before);

    // Hand edits that do not change what the weights mean load as before (PEFT's defaults left out included).
    const configPath = join(dir16, 'adapter_config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8'));
    const { rank_pattern: _r, alpha_pattern: _a, bias: _b, ...withoutDefaults } = config;
    writeFileSync(configPath, JSON.stringify({ ...withoutDefaults, base_model_name_or_path: '/models/base', inference_mode: false, target_modules: '^(?:0|2)$' }, null, 4));
    const edited = fresh();
    io.loadAdapterDir(edited, dir16);
    expect(out(edited)).toEqual(out(adapters[1]!));
    // A meaningful edit is refused like a torn pair.
    writeFileSync(configPath, JSON.stringify({ ...config, r: 2 }));
    expect(() => io.loadAdapterDir(fresh(), dir16)).toThrow(/has r 2, but adapter_model.safetensors was saved with r 4/);
    // Weights without the record (as PEFT writes them) are not checked.
    const { tensors } = io.loadSafetensors(join(dir16, 'adapter_model.safetensors'));
    await io.saveSafetensors(join(dir16, 'adapter_model.safetensors'), tensors, { format: 'pt' });
    writeFileSync(configPath, JSON.stringify(config));
    const peftLike = fresh();
    io.loadAdapterDir(peftLike, dir16);
    expect(out(peftLike)).toEqual(out(adapters[1]!));
  });
});
