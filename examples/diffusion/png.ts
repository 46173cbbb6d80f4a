// The diffusion demo's image writer: a grid of 28×28 samples as an 8-bit grayscale PNG, encoded
// here (signature, IHDR, one zlib-compressed IDAT, IEND; each chunk with its CRC-32).
import { deflateSync } from 'node:zlib';
import { PIXELS } from './data.js';
import { crc32 } from '../shared/crc32.js';

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** PNG's eight signature bytes. */
export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A grayscale PNG of `width`×`height` pixels, one byte each, row by row. */
export function encodePng(gray: Uint8Array, width: number, height: number): Buffer {
  if (gray.length !== width * height) throw new Error(`encodePng: ${gray.length} pixels for ${width}×${height}`);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bits per pixel
  header[9] = 0; // grayscale; bytes 10–12: deflate, adaptive filtering, no interlace
  // Each row starts with its filter type (0: none).
  const rows = Buffer.alloc(height * (width + 1));
  for (let y = 0; y < height; y++) rows.set(gray.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', header), chunk('IDAT', deflateSync(rows)), chunk('IEND', new Uint8Array(0))]);
}

/** Options of `sampleGrid`. */
export interface GridOptions {
  columns: number;
  /** Each pixel drawn as scale×scale (default 2). */
  scale?: number;
  /** Gap between images, in drawn pixels (default 2). */
  gap?: number;
}

/** Images [count·784] in [-1, 1] (ink high) as a PNG grid: white ink on black, gray gaps. */
export function sampleGrid(images: Float32Array, opts: GridOptions): { png: Buffer; width: number; height: number } {
  const count = images.length / PIXELS, scale = opts.scale ?? 2, gap = opts.gap ?? 2;
  const cols = Math.min(opts.columns, count), rowsOfImages = Math.ceil(count / cols), cell = 28 * scale;
  const width = gap + cols * (cell + gap), height = gap + rowsOfImages * (cell + gap);
  const gray = new Uint8Array(width * height).fill(96);
  for (let i = 0; i < count; i++) {
    const x0 = gap + (i % cols) * (cell + gap), y0 = gap + Math.floor(i / cols) * (cell + gap);
    for (let y = 0; y < cell; y++) {
      for (let x = 0; x < cell; x++) {
        const v = images[i * PIXELS + Math.floor(y / scale) * 28 + Math.floor(x / scale)]!;
        gray[(y0 + y) * width + x0 + x] = Math.round(255 * Math.min(1, Math.max(0, (v + 1) / 2)));
      }
    }
  }
  return { png: encodePng(gray, width, height), width, height };
}
