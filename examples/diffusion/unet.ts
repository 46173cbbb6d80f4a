// The diffusion demo's model: a small UNet for 28×28 one-channel images that predicts the noise
// in a noised image at a timestep. Its modules carry diffusers' names (conv_in, down_blocks,
// resnets, conv1, conv2, time_emb_proj, attentions, to_q, to_k, to_v, to_out, up_blocks,
// conv_out), so LoRA targets and state-dict keys read as they would for a diffusers UNet2DModel.
import { type Generator, type Tensor, cat, fromTypedArray, nn } from '../../src/index.js';

const F = nn.functional;

/** Widths of a UNet: channels at 28×28, 14×14 and 7×7, and of the time embedding. */
export interface UNetConfig {
  channels: readonly [number, number, number];
  timeEmbedDim: number;
  /** Groups of every GroupNorm (each width must divide by it). */
  groups: number;
  /** Heads of the self-attention at 7×7. */
  heads: number;
}

/** 16, 32 and 64 channels at 28, 14 and 7 pixels: 270,577 parameters. */
export const UNET_CONFIG: UNetConfig = { channels: [16, 32, 64], timeEmbedDim: 64, groups: 8, heads: 4 };

/** The sinusoidal embedding of Ho et al. (the Transformer's positions), [N, dim], for timesteps as numbers. */
export function timestepEmbedding(timesteps: readonly number[], dim: number): Tensor {
  const half = dim / 2, out = new Float32Array(timesteps.length * dim);
  timesteps.forEach((t, n) => {
    for (let i = 0; i < half; i++) {
      const angle = t * Math.exp((-Math.log(10000) * i) / half);
      out[n * dim + i] = Math.sin(angle);
      out[n * dim + half + i] = Math.cos(angle);
    }
  });
  return fromTypedArray(out, [timesteps.length, dim]);
}

/** The timestep's sinusoid through two Linear layers with SiLU between (diffusers' TimestepEmbedding). */
export class TimestepEmbedding extends nn.Module {
  linear_1: nn.Linear;
  linear_2: nn.Linear;

  constructor(readonly inDim: number, outDim: number) {
    super();
    this.linear_1 = new nn.Linear(inDim, outDim);
    this.linear_2 = new nn.Linear(outDim, outDim);
  }

  forward(timesteps: readonly number[]): Tensor {
    return this.linear_2.forward(F.silu(this.linear_1.forward(timestepEmbedding(timesteps, this.inDim))));
  }
}

/** GroupNorm, SiLU, 3×3 conv, plus the time embedding; again; plus the input (1×1 conv when widths differ). */
export class ResnetBlock2D extends nn.Module {
  norm1: nn.GroupNorm;
  conv1: nn.Conv2d;
  time_emb_proj: nn.Linear;
  norm2: nn.GroupNorm;
  conv2: nn.Conv2d;
  conv_shortcut: nn.Conv2d | null;

  constructor(inChannels: number, outChannels: number, timeEmbedDim: number, groups: number) {
    super();
    this.norm1 = new nn.GroupNorm(groups, inChannels);
    this.conv1 = new nn.Conv2d(inChannels, outChannels, 3, { padding: 1 });
    this.time_emb_proj = new nn.Linear(timeEmbedDim, outChannels);
    this.norm2 = new nn.GroupNorm(groups, outChannels);
    this.conv2 = new nn.Conv2d(outChannels, outChannels, 3, { padding: 1 });
    this.conv_shortcut = inChannels === outChannels ? null : new nn.Conv2d(inChannels, outChannels, 1);
  }

  forward(x: Tensor, temb: Tensor): Tensor {
    let h = this.conv1.forward(F.silu(this.norm1.forward(x)));
    const t = this.time_emb_proj.forward(F.silu(temb));
    h = h.add(t.reshape([t.shape[0]!, t.shape[1]!, 1, 1]));
    h = this.conv2.forward(F.silu(this.norm2.forward(h)));
    return h.add(this.conv_shortcut ? this.conv_shortcut.forward(x) : x);
  }
}

/** Self-attention over the pixels of a feature map, with a residual (diffusers' Attention, to_q … to_out). */
export class Attention extends nn.Module {
  group_norm: nn.GroupNorm;
  to_q: nn.Linear;
  to_k: nn.Linear;
  to_v: nn.Linear;
  to_out: nn.Linear;

  constructor(readonly channels: number, readonly heads: number, groups: number) {
    super();
    this.group_norm = new nn.GroupNorm(groups, channels);
    this.to_q = new nn.Linear(channels, channels);
    this.to_k = new nn.Linear(channels, channels);
    this.to_v = new nn.Linear(channels, channels);
    this.to_out = new nn.Linear(channels, channels);
  }

  forward(x: Tensor): Tensor {
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const D = C / this.heads;
    const tokens = this.group_norm.forward(x).reshape([N, C, H * W]).transpose(1, 2);
    const split = (t: Tensor) => t.reshape([N, H * W, this.heads, D]).transpose(1, 2);
    const q = split(this.to_q.forward(tokens)), k = split(this.to_k.forward(tokens)), v = split(this.to_v.forward(tokens));
    const heads = F.scaledDotProductAttention(q, k, v).transpose(1, 2).reshape([N, H * W, C]);
    return x.add(this.to_out.forward(heads).transpose(1, 2).reshape([N, C, H, W]));
  }
}

/** A resnet block, then a stride-2 conv to half the size. */
export class DownBlock2D extends nn.Module<[Tensor, Tensor]> {
  resnets: ResnetBlock2D[];
  downsamplers: nn.Conv2d[];

  constructor(inChannels: number, outChannels: number, c: UNetConfig) {
    super();
    this.resnets = [new ResnetBlock2D(inChannels, outChannels, c.timeEmbedDim, c.groups)];
    this.downsamplers = [new nn.Conv2d(outChannels, outChannels, 3, { stride: 2, padding: 1 })];
  }

  /** The block's output (the skip connection) and its downsampled copy. */
  forward(x: Tensor, temb: Tensor): [Tensor, Tensor] {
    const h = this.resnets[0]!.forward(x, temb);
    return [h, this.downsamplers[0]!.forward(h)];
  }
}

/** A stride-2 transposed conv to twice the size, then a resnet block over it joined with the skip. */
export class UpBlock2D extends nn.Module {
  upsamplers: nn.ConvTranspose2d[];
  resnets: ResnetBlock2D[];

  constructor(inChannels: number, skipChannels: number, outChannels: number, c: UNetConfig) {
    super();
    // A 2×2 kernel at stride 2 gives each input pixel its own 2×2 block: no uneven overlap, so no checkerboard.
    this.upsamplers = [new nn.ConvTranspose2d(inChannels, inChannels, 2, { stride: 2 })];
    this.resnets = [new ResnetBlock2D(inChannels + skipChannels, outChannels, c.timeEmbedDim, c.groups)];
  }

  forward(x: Tensor, skip: Tensor, temb: Tensor): Tensor {
    return this.resnets[0]!.forward(cat([this.upsamplers[0]!.forward(x), skip], 1), temb);
  }
}

/** A resnet block, self-attention, and another resnet block at the lowest resolution. */
export class MidBlock2D extends nn.Module {
  resnets: ResnetBlock2D[];
  attentions: Attention[];

  constructor(inChannels: number, channels: number, c: UNetConfig) {
    super();
    this.resnets = [new ResnetBlock2D(inChannels, channels, c.timeEmbedDim, c.groups), new ResnetBlock2D(channels, channels, c.timeEmbedDim, c.groups)];
    this.attentions = [new Attention(channels, c.heads, c.groups)];
  }

  forward(x: Tensor, temb: Tensor): Tensor {
    return this.resnets[1]!.forward(this.attentions[0]!.forward(this.resnets[0]!.forward(x, temb)), temb);
  }
}

/**
 * The UNet: [N, 1, 28, 28] noised images and their timesteps to the predicted noise, [N, 1, 28, 28].
 * Down 28 → 14 → 7 with skip connections, self-attention at 7×7, up 7 → 14 → 28.
 *
 * @example
 * const unet = makeUNet();
 * const { sample, timesteps, target } = exampleBatch(8, 1000, new Generator().manualSeed(0));
 * nn.functional.mseLoss(unet.forward(sample, timesteps), target).backward();
 */
export class UNet2DModel extends nn.Module {
  time_embedding: TimestepEmbedding;
  conv_in: nn.Conv2d;
  down_blocks: DownBlock2D[];
  mid_block: MidBlock2D;
  up_blocks: UpBlock2D[];
  conv_norm_out: nn.GroupNorm;
  conv_out: nn.Conv2d;

  constructor(readonly config: UNetConfig = UNET_CONFIG) {
    super();
    const [c0, c1, c2] = config.channels;
    this.time_embedding = new TimestepEmbedding(c0, config.timeEmbedDim);
    this.conv_in = new nn.Conv2d(1, c0, 3, { padding: 1 });
    this.down_blocks = [new DownBlock2D(c0, c0, config), new DownBlock2D(c0, c1, config)];
    this.mid_block = new MidBlock2D(c1, c2, config);
    this.up_blocks = [new UpBlock2D(c2, c1, c1, config), new UpBlock2D(c1, c0, c0, config)];
    this.conv_norm_out = new nn.GroupNorm(config.groups, c0);
    this.conv_out = new nn.Conv2d(c0, 1, 3, { padding: 1 });
  }

  /** The predicted noise for `sample` [N, 1, 28, 28] at `timesteps` (one integer step per image). */
  forward(sample: Tensor, timesteps: readonly number[]): Tensor {
    const temb = this.time_embedding.forward(timesteps);
    let h = this.conv_in.forward(sample);
    const skips: Tensor[] = [];
    for (const block of this.down_blocks) {
      const [skip, down] = block.forward(h, temb);
      skips.push(skip);
      h = down;
    }
    h = this.mid_block.forward(h, temb);
    for (const block of this.up_blocks) h = block.forward(h, skips.pop()!, temb);
    return this.conv_out.forward(F.silu(this.conv_norm_out.forward(h)));
  }
}

/** A new UNet with PyTorch's default initialization, drawn from the global generator. */
export function makeUNet(config: UNetConfig = UNET_CONFIG): UNet2DModel {
  return new UNet2DModel(config);
}

/** A new UNet of `model`'s config holding a copy of its weights. */
export function copyOf(model: UNet2DModel): UNet2DModel {
  const copy = new UNet2DModel(model.config);
  copy.loadStateDict(model.stateDict());
  return copy;
}

/** Random inputs of one training step's shapes (for benches): noised images, their timesteps in [0, T), and noise. */
export function exampleBatch(batch: number, numTimesteps: number, g: Generator): { sample: Tensor; timesteps: number[]; target: Tensor } {
  const normal = (n: number) => Float32Array.from({ length: n }, () => g.nextNormal());
  return {
    sample: fromTypedArray(normal(batch * 784), [batch, 1, 28, 28]),
    timesteps: Array.from({ length: batch }, () => Math.floor(g.nextUniform() * numTimesteps)),
    target: fromTypedArray(normal(batch * 784), [batch, 1, 28, 28]),
  };
}
