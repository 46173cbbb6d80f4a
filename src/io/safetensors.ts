import { fromTypedArray } from '../core/creation.js';
import type { DType, TypedArray } from '../core/dtype.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';

/** safetensors dtype names tsgrad writes, and those it can read. */
const WRITE: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32' };
const READ: Record<string, { bytes: number; dtype: DType; decode: (b: Uint8Array, n: number) => TypedArray }> = {
  F32: { bytes: 4, dtype: 'float32', decode: (b, n) => new Float32Array(aligned(b), 0, n) },
  F64: { bytes: 8, dtype: 'float64', decode: (b, n) => new Float64Array(aligned(b), 0, n) },
  I32: { bytes: 4, dtype: 'int32', decode: (b, n) => new Int32Array(aligned(b), 0, n) },
  // Half-precision files (common for published adapters) are widened to float32.
  F16: { bytes: 2, dtype: 'float32', decode: (b, n) => Float32Array.from(new Uint16Array(aligned(b), 0, n), halfToFloat) },
  BF16: { bytes: 2, dtype: 'float32', decode: (b, n) => new Float32Array(Uint32Array.from(new Uint16Array(aligned(b), 0, n), (h) => h << 16).buffer) },
};

/**
 * A copy of `b` in an ArrayBuffer of its own, so typed-array views start aligned at 0. Not
 * `b.slice()`: a Node Buffer's slice shares the (pooled) buffer instead of copying.
 */
function aligned(b: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(b.length);
  copy.set(b);
  return copy.buffer;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/**
 * Serializes named tensors in the safetensors format (8-byte header length, JSON header, raw
 * little-endian data). Async because GPU tensors are read back with `await t.data()`.
 *
 * @example
 * writeFileSync('adapter_model.safetensors', await encodeSafetensors({ w: randn([2, 2]) }));
 */
export async function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<Uint8Array> {
  const names = Object.keys(tensors).sort();
  const datas = await Promise.all(names.map((n) => tensors[n]!.data()));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  names.forEach((n, i) => {
    const t = tensors[n]!;
    header[n] = { dtype: WRITE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + datas[i]!.byteLength] };
    offset += datas[i]!.byteLength;
  });
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8; // spaces keep the data 8-byte aligned
  json = new Uint8Array([...json, ...new Array<number>(padded - json.length).fill(0x20)]);
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  let at = 8 + padded;
  for (const d of datas) {
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/**
 * Reads a safetensors buffer into tensors on the current backend (F16/BF16 become float32).
 *
 * @example
 * const { tensors, metadata } = decodeSafetensors(readFileSync('adapter_model.safetensors'));
 */
export function decodeSafetensors(bytes: Uint8Array, opts: { backend?: string } = {}): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  check(bytes.length >= 8, 'decodeSafetensors', () => `buffer of ${bytes.length} bytes is too short for a header`);
  const headerLen = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  check(8 + headerLen <= bytes.length, 'decodeSafetensors', () => `header length ${headerLen} runs past the end of the ${bytes.length}-byte buffer`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLen)));
  } catch (e) {
    throw new TsgradError('decodeSafetensors', `header is not valid JSON (${(e as Error).message})`);
  }
  const data = bytes.subarray(8 + headerLen);
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: [begin, end] } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    const kind = READ[dtype];
    check(kind, 'decodeSafetensors', () => `tensor '${name}' has dtype ${dtype}; supported: ${Object.keys(READ).join(', ')}`);
    const n = shape.reduce((a, b) => a * b, 1);
    check(end - begin === n * kind.bytes && end <= data.length, 'decodeSafetensors', () =>
      `tensor '${name}' of shape ${fmt(shape)} and dtype ${dtype} needs ${n * kind.bytes} bytes but its offsets [${begin}, ${end}] give ${end - begin}`);
    tensors[name] = fromTypedArray(kind.decode(data.subarray(begin, end), n), shape, { dtype: kind.dtype, backend: opts.backend });
  }
  return { tensors, metadata };
}
