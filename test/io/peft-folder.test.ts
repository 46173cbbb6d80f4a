// PEFT itself opens tsgrad's adapter folders: the record that pairs the weights with their config
// sits in the safetensors metadata, which PEFT takes without a warning, and PEFT's outputs are
// tsgrad's.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { io, noGrad, randn } from '../../src/index.js';
import { hfUnavailable, runHfPython } from '../huggingface.js';
import { versions } from './crash-versions.js';

const skip = hfUnavailable('PEFT opening tsgrad adapter folders');

describe.skipIf(skip)('PeftModel.from_pretrained on a folder from saveAdapterDir', () => {
  it('loads without a warning and computes the same outputs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsgrad-peft-folder-'));
    const { base, adapters } = versions();
    await io.saveSafetensors(join(dir, 'base.safetensors'), base.stateDict());
    await io.saveAdapterDir(adapters[1]!, join(dir, 'adapter'));
    const x = randn([3, 16]);
    await io.saveSafetensors(join(dir, 'x.safetensors'), { x });
    expect(io.safetensorsHeader(readFileSync(join(dir, 'adapter', 'adapter_model.safetensors'))).metadata['tsgrad.adapter_config']).toContain('"lora_alpha":16');
    const { warnings, y } = await runHfPython<{ warnings: string[]; y: number[][] }>(join(import.meta.dirname, 'peft_folder.py'), [dir]);
    expect(warnings).toEqual([]);
    const want = Array.from(noGrad(() => adapters[1]!.forward(x)).dataSync());
    y.flat().forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
  });
});
