// One training step of the diffusion demo's UNet (examples/diffusion/unet.ts) for the conv bench:
// epsilon-MSE on a batch of noised images at random timesteps, Adam, as the demo's train loop.
// Every trainer starts from the same initial weights, so tsgrad and PyTorch (bench/peers/
// unet_torch.py, loaded from the file `saveUNetInputs` writes) train the same model on the same batch.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, type Tensor, io, manualSeed, nn, optim, scope, setBackend } from '../src/index.js';
import { FULL } from '../examples/diffusion/demo.js';
import { UNET_CONFIG, type UNet2DModel, exampleBatch, makeUNet } from '../examples/diffusion/unet.js';

/** The demo's batch and a learning rate of its range. */
export const UNET_BATCH = FULL.batch, UNET_LR = 1e-3;

manualSeed(0);
const initial = makeUNet();
const batch = exampleBatch(UNET_BATCH, 1000, new Generator().manualSeed(0));

/** The batch on each backend, uploaded once for every trainer. */
const uploaded = new Map<string, Tensor[]>();

/** Writes the initial weights and the batch for the PyTorch peer; returns what it needs besides the folder. */
export async function saveUNetInputs(dir: string): Promise<{ config: typeof UNET_CONFIG; batch: number; lr: number; timesteps: number[] }> {
  await io.saveSafetensors(join(dir, 'unet.safetensors'), initial.stateDict());
  writeFileSync(join(dir, 'unet.sample.f32'), batch.sample.dataSync() as Float32Array);
  writeFileSync(join(dir, 'unet.target.f32'), batch.target.dataSync() as Float32Array);
  return { config: UNET_CONFIG, batch: UNET_BATCH, lr: UNET_LR, timesteps: batch.timesteps };
}

/** The UNet's parameter count. */
export const unetParameters = initial.parameters().reduce((a, p) => a + p.size, 0);

/** A fresh copy of the initial UNet on `backend` with its Adam: each call steps once and resolves to the loss before the step. */
export async function unetTrainer(backend: 'cpu' | 'webgpu'): Promise<() => Promise<number>> {
  await setBackend(backend); // the copy creates its parameters on the current backend
  const model: UNet2DModel = makeUNet(initial.config);
  await setBackend('cpu');
  await model.loadStateDictAsync(initial.stateDict()); // uploads across backends
  if (!uploaded.has(backend)) uploaded.set(backend, backend === 'cpu' ? [batch.sample, batch.target] : await Promise.all([batch.sample.to(backend), batch.target.to(backend)]));
  const [sample, target] = uploaded.get(backend)!;
  const opt = new optim.Adam(model.parameters(), { lr: UNET_LR });
  model.train();
  return async () => {
    await setBackend(backend); // the timestep embedding is made on the current backend
    const loss = await scope(async () => {
      const l = nn.functional.mseLoss(model.forward(sample, batch.timesteps), target);
      l.backward();
      opt.step();
      opt.zeroGrad();
      return l.item();
    });
    await setBackend('cpu');
    return loss;
  };
}
