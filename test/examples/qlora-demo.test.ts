// The QLoRA example at a small size, its token embedding (and the tied head) in NF4 or in 16 bits:
// the base's bytes as the formats define them, float32 LoRA adapters over it, and a training step
// that runs.
import { describe, expect, it } from 'vitest';
import { runQLoRA } from '../../examples/qlora/gpt2Small.js';

describe('npm run demo:qlora (a small config)', () => {
  it.each([[true], [false]])('holds the blocks (and wte: %s) in NF4 and the rest in bfloat16, and trains float32 LoRA over them', async (quantizeEmbedding) => {
    const [V, P, C, L, r] = [500, 32, 64, 2, 4];
    const result = await runQLoRA({ config: { vocabSize: V, nPositions: P, nEmbd: C, nLayer: L, nHead: 4 }, quantizeEmbedding, rank: r, batch: 2, context: 16, steps: 2, log: () => {} });
    // GPT-2's parameters: embeddings, per block two LayerNorms and four Conv1D layers, the final LayerNorm (lm_head tied to wte).
    const total = V * C + P * C + L * (2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)) + 2 * C;
    // The blocks' layers, and the table once when quantized (lm_head reads it, tied).
    const quantized = L * 12 * C * C + (quantizeEmbedding ? V * C : 0);
    expect(result.parameters).toBe(total);
    expect(result.float32Bytes).toBe(4 * total);
    expect(result.quantized).toMatchObject({ layers: 4 * L + (quantizeEmbedding ? 2 : 0), bytesBefore: 4 * quantized });
    // NF4: two codes a byte, an 8-bit absmax per block of 64 (double quantization), a few float32 second-level scales.
    expect(result.quantized.bytesAfter).toBeGreaterThanOrEqual(quantized / 2 + quantized / 64);
    expect(result.quantized.bytesAfter).toBeLessThan(quantized / 2 + quantized / 32);
    // Everything NF4 leaves is 2 bytes a value.
    expect(result.memory.frozenParams.bytes).toBe(2 * (total - quantized) + result.quantized.bytesAfter);
    // LoRA on c_attn: A [r, C] and B [3C, r] per block, float32, with a gradient and AdamW's two moments each.
    const lora = L * r * (C + 3 * C);
    expect(result.memory.trainableParams).toMatchObject({ elements: lora, bytes: 4 * lora });
    expect(result.memory.gradients.bytes).toBe(4 * lora);
    expect(result.memory.optimizerState.bytes).toBe(8 * lora);
    expect(result.memory.activations.bytes).toBeGreaterThan(0);
    // Random tokens: the loss starts near ln(V) and stays finite.
    expect(result.losses).toHaveLength(3);
    for (const l of result.losses) expect(Math.abs(l - Math.log(V))).toBeLessThan(1);
    expect(result.msPerStep).toBeGreaterThan(0);
  }, 60_000);
});
