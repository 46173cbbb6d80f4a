// Files on disk: Node Buffers decode correctly, checkpoints round trip, failed loads change
// nothing, and a writer killed mid-write leaves the old file intact.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TsgradError, full, io, manualSeed, nn, optim, randn, tensor } from '../../src/index.js';

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
