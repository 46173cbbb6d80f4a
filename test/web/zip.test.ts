// The playground's zip writer, read back by Python's zipfile (an independent reader that checks
// every CRC) and checked against zlib's CRC-32.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { afterAll, expect, it } from 'vitest';
import { crc32 } from '../../examples/shared/crc32.js';
import { zip } from '../../web/zip.js';

const dir = mkdtempSync(join(tmpdir(), 'tsgrad-zip-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

it('computes the CRC-32 zlib computes', () => {
  for (const bytes of [new Uint8Array(0), new TextEncoder().encode('123456789'), Uint8Array.from({ length: 1000 }, (_, i) => (i * 7919) % 256)]) {
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
  }
});

it("writes an archive Python's zipfile reads back exactly, CRCs checked", () => {
  const weights = Uint8Array.from({ length: 3000 }, (_, i) => (i * 31) % 251);
  const config = JSON.stringify({ peft_type: 'LORA', r: 4, note: 'façade ✓' }, null, 2);
  const path = join(dir, 'adapter.zip');
  writeFileSync(path, zip({ 'adapter_model.safetensors': weights, 'adapter_config.json': config, 'empty.txt': '' }));
  const script = [
    'import json, sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    'assert z.testzip() is None',
    'print(json.dumps([[i.filename, i.compress_type, list(z.read(i))] for i in z.infolist()]))',
  ].join('\n');
  const read = JSON.parse(execFileSync('python3', ['-c', script, path], { encoding: 'utf8' })) as [string, number, number[]][];
  expect(read.map(([name, method]) => [name, method])).toEqual([['adapter_model.safetensors', 0], ['adapter_config.json', 0], ['empty.txt', 0]]);
  expect(Uint8Array.from(read[0]![2])).toEqual(weights);
  expect(new TextDecoder().decode(Uint8Array.from(read[1]![2]))).toBe(config);
  expect(read[2]![2]).toEqual([]);
});
