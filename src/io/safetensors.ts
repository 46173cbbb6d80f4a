import { fromTypedArray } from '../core/creation.js';
import type { DType, TypedArray } from '../core/dtype.js';
import { TsgradError, check, fmt } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';

/** safetensors dtype names tsgrad writes, and those it can read. */
const WRITE: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32' };
const READ: Record<string, { bytes: number; dtype: DType; decode: (b: Uint8Array, n: number, name: string) => TypedArray }> = {
  F32: { bytes: 4, dtype: 'float32', decode: (b, n) => new Float32Array(aligned(b), 0, n) },
  F64: { bytes: 8, dtype: 'float64', decode: (b, n) => new Float64Array(aligned(b), 0, n) },
  I32: { bytes: 4, dtype: 'int32', decode: (b, n) => new Int32Array(aligned(b), 0, n) },
  // Half-precision files (common for published adapters) are widened to float32.
  F16: { bytes: 2, dtype: 'float32', decode: (b, n) => Float32Array.from(new Uint16Array(aligned(b), 0, n), halfToFloat) },
  BF16: { bytes: 2, dtype: 'float32', decode: (b, n) => new Float32Array(Uint32Array.from(new Uint16Array(aligned(b), 0, n), (h) => h << 16).buffer) },
  // PyTorch writes integer tensors as int64; tsgrad holds int32, so every value must fit.
  I64: { bytes: 8, dtype: 'int32', decode: (b, n, name) => int64ToInt32(new BigInt64Array(aligned(b), 0, n), name) },
};

function int64ToInt32(values: BigInt64Array, name: string): Int32Array {
  const out = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    check(v >= -2147483648n && v <= 2147483647n, 'decodeSafetensors', () =>
      `tensor '${name}' is I64 and holds ${v} at index ${i}, which does not fit the int32 tsgrad uses; store it as I32 or F64`);
    out[i] = Number(v);
  }
  return out;
}

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
export async function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<Uint8Array<ArrayBuffer>> {
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

const MAX_HEADER = 100_000_000;

interface Entry {
  name: string;
  kind: (typeof READ)[string];
  dtype: string;
  shape: number[];
  count: number;
  begin: number;
  end: number;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isOffset(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * The first key that appears twice in one object of well-formed JSON text, or null.
 * `JSON.parse` keeps the last silently, so two readers could see different tensors.
 */
function duplicateKey(text: string): string | null {
  const objects: (Set<string> | null)[] = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        const keys = objects[objects.length - 1]!;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      i = j;
    } else if (c === '{') {
      objects.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      objects.push(null);
    } else if (c === '}' || c === ']') {
      objects.pop();
    } else if (c === ',') {
      expectKey = objects[objects.length - 1] instanceof Set;
    }
  }
  return null;
}

/** Parses and checks the whole header; nothing is allocated from a length it has not checked. */
function readHeader(bytes: Uint8Array): { entries: Entry[]; metadata: Record<string, string>; data: Uint8Array } {
  const op = 'decodeSafetensors';
  check(bytes instanceof Uint8Array, op, () => `expects a Uint8Array (or a Node Buffer), got ${(bytes as object)?.constructor?.name ?? typeof bytes}`);
  check(bytes.length >= 8, op, () => `buffer of ${bytes.length} bytes is too short for the 8-byte header length`);
  const rawLen = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  check(rawLen <= BigInt(MAX_HEADER), op, () => `header length ${rawLen} exceeds the format's limit of ${MAX_HEADER} bytes; this is not a safetensors file`);
  const headerLen = Number(rawLen);
  check(8 + headerLen <= bytes.length, op, () => `header length ${headerLen} runs past the end of the ${bytes.length}-byte buffer`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    throw new TsgradError(op, 'header is not valid UTF-8');
  }
  check(text.startsWith('{'), op, () => `header must be a JSON object starting with '{', got ${JSON.stringify(text.slice(0, 16))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new TsgradError(op, `header is not valid JSON (${(e as Error).message})`);
  }
  check(isObject(header), op, () => 'header must be a JSON object of tensor entries');
  const dup = duplicateKey(text);
  check(dup === null, op, () => `header has the key '${dup}' twice; readers would disagree on which one counts`);

  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      check(isObject(entry) && Object.values(entry).every((v) => typeof v === 'string'), op, () => '__metadata__ must map strings to strings');
      metadata = entry as Record<string, string>;
      continue;
    }
    check(isObject(entry), op, () => `tensor '${name}' must be an object with dtype, shape and data_offsets, got ${JSON.stringify(entry)}`);
    const { dtype, shape, data_offsets: offsets } = entry;
    check(typeof dtype === 'string', op, () => `tensor '${name}' has no dtype string`);
    const kind = READ[dtype];
    check(kind, op, () => `tensor '${name}' has dtype ${dtype}; supported: ${Object.keys(READ).join(', ')}`);
    check(Array.isArray(shape) && shape.every(isOffset), op, () => `tensor '${name}' has shape ${JSON.stringify(shape)}; a shape is an array of non-negative integers`);
    check(Array.isArray(offsets) && offsets.length === 2 && offsets.every(isOffset) && offsets[0] <= offsets[1], op, () =>
      `tensor '${name}' has data_offsets ${JSON.stringify(offsets)}; expected [begin, end] with 0 ≤ begin ≤ end`);
    let n = 1;
    for (const d of shape as number[]) {
      n *= d;
      check(Number.isSafeInteger(n * kind.bytes), op, () => `tensor '${name}' of shape ${fmt(shape as number[])} has more elements than any buffer can hold`);
    }
    const [begin, end] = offsets as [number, number];
    check(end - begin === n * kind.bytes, op, () =>
      `tensor '${name}' of shape ${fmt(shape as number[])} and dtype ${dtype} needs ${n * kind.bytes} bytes but its offsets [${begin}, ${end}] give ${end - begin}`);
    entries.push({ name, kind, dtype, shape: shape as number[], count: n, begin, end });
  }
  // The data is the tensors back to back: no holes, no overlaps, nothing after the last one.
  const data = bytes.subarray(8 + headerLen);
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const e of byOffset) {
    check(e.begin <= at, op, () => `tensor '${e.name}' starts at byte ${e.begin}, leaving a hole after byte ${at}`);
    check(e.begin === at, op, () => `tensor '${e.name}' at bytes [${e.begin}, ${e.end}] overlaps the tensor before it, which ends at ${at}`);
    at = e.end;
  }
  check(at === data.length, op, () => `the tensors' data ends at byte ${at} but the buffer holds ${data.length} bytes after the header`);
  return { entries, metadata, data };
}

/**
 * The tensors a safetensors buffer holds (name, file dtype such as 'BF16', shape) and its
 * metadata, with the header checked as `decodeSafetensors` checks it; no data is read, so a
 * loader can refuse a file before it allocates anything.
 *
 * @example
 * io.safetensorsHeader(bytes).tensors; // [{ name: 'wte.weight', dtype: 'F32', shape: [50257, 768] }, ...]
 */
export function safetensorsHeader(bytes: Uint8Array): { tensors: { name: string; dtype: string; shape: number[] }[]; metadata: Record<string, string> } {
  const { entries, metadata } = readHeader(bytes);
  return { tensors: entries.map((e) => ({ name: e.name, dtype: e.dtype, shape: [...e.shape] })), metadata };
}

/**
 * Reads a safetensors buffer into tensors on the current backend: F32, F64 and I32 as they are,
 * F16/BF16 widened to float32, I64 narrowed to int32 when every value fits. The whole header is
 * checked first (lengths, UTF-8 JSON, duplicate keys, dtypes, shapes, offsets that tile the data
 * exactly), so a malformed file is a TsgradError and no tensor is created from it.
 *
 * @example
 * const { tensors, metadata } = decodeSafetensors(readFileSync('adapter_model.safetensors'));
 */
export function decodeSafetensors(bytes: Uint8Array, opts: { backend?: string } = {}): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  const { entries, metadata, data } = readHeader(bytes);
  const arrays = entries.map((e) => e.kind.decode(data.subarray(e.begin, e.end), e.count, e.name));
  const tensors: Record<string, Tensor> = {};
  try {
    entries.forEach((e, i) => (tensors[e.name] = fromTypedArray(arrays[i]!, e.shape, { dtype: e.kind.dtype, backend: opts.backend })));
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}
