import { fromHalfBits, fromTypedArray } from '../core/creation.js';
import type { DType, StorageArray, TypedArray } from '../core/dtype.js';
import { widenHalf } from '../core/half.js';
import { storedData } from '../core/seams.js';
import { TsgradError, check } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import { assertTensor, describeValue, isPlainObject } from '../core/validate.js';

/** safetensors dtype names tsgrad writes, and those it can read. */
const WRITE: Record<DType, string> = { float32: 'F32', float64: 'F64', int32: 'I32', float16: 'F16', bfloat16: 'BF16' };
interface Reader {
  bytes: number;
  dtype: DType;
  decode: (b: Uint8Array, n: number, name: string) => TypedArray;
  /** The 16-bit float dtype the file stores, for `keepHalf`. */
  half?: 'float16' | 'bfloat16';
}
const READERS: Record<string, Reader> = {
  F32: { bytes: 4, dtype: 'float32', decode: (b, n) => new Float32Array(aligned(b), 0, n) },
  F64: { bytes: 8, dtype: 'float64', decode: (b, n) => new Float64Array(aligned(b), 0, n) },
  I32: { bytes: 4, dtype: 'int32', decode: (b, n) => new Int32Array(aligned(b), 0, n) },
  // Half-precision files (common for published adapters) are widened to float32, unless `keepHalf`.
  F16: { bytes: 2, dtype: 'float32', half: 'float16', decode: (b, n) => widenHalf(new Uint16Array(aligned(b), 0, n), 'float16') },
  BF16: { bytes: 2, dtype: 'float32', half: 'bfloat16', decode: (b, n) => widenHalf(new Uint16Array(aligned(b), 0, n), 'bfloat16') },
  // PyTorch writes integer tensors as int64; tsgrad holds int32, so every value must fit.
  I64: { bytes: 8, dtype: 'int32', decode: (b, n, name) => int64ToInt32(new BigInt64Array(aligned(b), 0, n), name) },
};
// A Map, so that a dtype read from a file ('__proto__', 'toString') finds nothing of Object's.
const READ = new Map(Object.entries(READERS));

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

/**
 * Serializes named tensors in the safetensors format (8-byte header length, JSON header, raw
 * little-endian data). Async because GPU tensors are read back with `await t.data()`.
 *
 * @example
 * writeFileSync('adapter_model.safetensors', await encodeSafetensors({ w: randn([2, 2]) }));
 */
export async function encodeSafetensors(tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): Promise<Uint8Array<ArrayBuffer>> {
  const op = 'encodeSafetensors';
  check(isPlainObject(tensors), op, () => `tensors must be an object of named tensors such as { w: t }, got ${describeValue(tensors)}`);
  for (const [name, t] of Object.entries(tensors)) assertTensor(op, t, `tensors['${name}']`);
  check(isPlainObject(metadata) && Object.values(metadata).every((v) => typeof v === 'string'), op, () =>
    `metadata must be an object of strings such as { format: 'pt' }, got ${describeValue(metadata)}${isPlainObject(metadata) ? ' holding a value that is not a string' : ''}`);
  check(!Object.hasOwn(tensors, '__metadata__'), op, () => "a tensor is named '__metadata__', which the format reserves for the metadata; rename it");
  const names = Object.keys(tensors).sort();
  // As stored: a float16/bfloat16 tensor's bit patterns are the file's bytes.
  const datas: StorageArray[] = await Promise.all(names.map((n) => storedData(tensors[n]!)));
  // Null-prototype: a tensor named '__proto__' is written like any other.
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  names.forEach((n, i) => {
    const t = tensors[n]!;
    header[n] = { dtype: WRITE[t.dtype], shape: [...t.shape], data_offsets: [offset, offset + datas[i]!.byteLength] };
    offset += datas[i]!.byteLength;
  });
  return assemble(header, datas.map((d) => new Uint8Array(d.buffer, d.byteOffset, d.byteLength)));
}

/** The file: header length, the header's JSON padded with spaces to keep the data 8-byte aligned, then the data. */
function assemble(header: Record<string, unknown>, chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const text = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(text.length / 8) * 8;
  const size = chunks.reduce((n, c) => n + c.length, 0);
  const out = new Uint8Array(8 + padded + size).fill(0x20, 8 + text.length, 8 + padded);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(text, 8);
  let at = 8 + padded;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const MAX_HEADER = 100_000_000;
/** serde_json's recursion limit, which the reference (Rust) reader parses headers with. */
const MAX_DEPTH = 128;
/**
 * More entries than any real checkpoint has in one file (the largest published models hold a few
 * thousand tensors per shard); refused before parsing, so a small file of many empty tensors
 * cannot cost seconds and gigabytes.
 */
const MAX_TENSORS = 100_000;

interface Entry {
  name: string;
  kind: Reader;
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

/** A value from a header for an error message: short, whatever its size. */
function show(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

const [QUOTE, BACKSLASH, OPEN_OBJECT, CLOSE_OBJECT, OPEN_ARRAY, CLOSE_ARRAY, COMMA] = [...'"\\{}[],'].map((c) => c.charCodeAt(0));

function backslashesBefore(text: string, at: number): number {
  let n = 0;
  while (text.charCodeAt(at - 1 - n) === BACKSLASH) n++;
  return n;
}

/**
 * One pass over the header text before it is parsed: refuses nesting deeper than MAX_DEPTH and
 * more than MAX_TENSORS entries, so neither costs more than this scan, and finds the first key
 * that appears twice in one object (`JSON.parse` keeps the last silently, so two readers could
 * see different tensors). Malformed text is left for `JSON.parse` to name.
 */
function scanHeader(op: string, text: string): string | null {
  const objects: (Set<string> | null)[] = [];
  let expectKey = false;
  let entries = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // The closing quote is the next one not escaped by an odd run of backslashes.
      let j = text.indexOf('"', i + 1);
      while (j > 0 && text.charCodeAt(j - 1) === BACKSLASH && backslashesBefore(text, j) % 2 === 1) j = text.indexOf('"', j + 1);
      if (j < 0) return null;
      if (expectKey) {
        const keys = objects[objects.length - 1]!;
        let key = text.slice(i + 1, j);
        if (key.includes('\\')) {
          try {
            key = JSON.parse(text.slice(i, j + 1)) as string;
          } catch {
            return null;
          }
        }
        if (keys.has(key)) return key;
        keys.add(key);
        if (objects.length === 1) {
          entries++;
          check(entries <= MAX_TENSORS, op, () => `header has more than ${MAX_TENSORS} entries, more than any real checkpoint holds in one file`);
        }
        expectKey = false;
      }
      i = j;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      objects.push(c === OPEN_OBJECT ? new Set() : null);
      check(objects.length <= MAX_DEPTH, op, () => `header nests deeper than ${MAX_DEPTH} levels; a safetensors header is an object of flat tensor entries`);
      expectKey = c === OPEN_OBJECT;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      objects.pop();
      expectKey = false;
    } else if (c === COMMA) {
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
  const dup = scanHeader(op, text);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new TsgradError(op, `header is not valid JSON (${(e as Error).message.slice(0, 200)})`);
  }
  check(isObject(header), op, () => 'header must be a JSON object of tensor entries');
  check(dup === null, op, () => `header has the key '${dup}' twice; readers would disagree on which one counts`);

  // Null-prototype: a tensor or metadata key may be any string, '__proto__' included.
  const metadata: Record<string, string> = Object.create(null);
  const entries: Entry[] = [];
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      check(isObject(entry) && Object.values(entry).every((v) => typeof v === 'string'), op, () => '__metadata__ must map strings to strings');
      for (const [k, v] of Object.entries(entry)) metadata[k] = v as string;
      continue;
    }
    check(isObject(entry), op, () => `tensor '${name}' must be an object with dtype, shape and data_offsets, got ${show(entry)}`);
    const { dtype, shape, data_offsets: offsets } = entry;
    check(typeof dtype === 'string', op, () => `tensor '${name}' has no dtype string`);
    const kind = READ.get(dtype);
    check(kind, op, () => `tensor '${name}' has dtype ${dtype.slice(0, 40)}; supported: ${[...READ.keys()].join(', ')}`);
    check(Array.isArray(shape) && shape.every(isOffset), op, () => `tensor '${name}' has shape ${show(shape)}; a shape is an array of non-negative integers`);
    check(Array.isArray(offsets) && offsets.length === 2 && offsets.every(isOffset) && offsets[0] <= offsets[1], op, () =>
      `tensor '${name}' has data_offsets ${show(offsets)}; expected [begin, end] with 0 ≤ begin ≤ end`);
    let n = 1;
    for (const d of shape as number[]) {
      n *= d;
      check(Number.isSafeInteger(n * kind.bytes), op, () => `tensor '${name}' of shape ${show(shape)} has more elements than any buffer can hold`);
    }
    const [begin, end] = offsets as [number, number];
    check(end - begin === n * kind.bytes, op, () =>
      `tensor '${name}' of shape ${show(shape)} and dtype ${dtype} needs ${n * kind.bytes} bytes but its offsets [${begin}, ${end}] give ${end - begin}`);
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
 * F16/BF16 widened to float32 (kept as float16/bfloat16 with `keepHalf`), I64 narrowed to int32
 * when every value fits. The whole header is
 * checked first (lengths, UTF-8 JSON, nesting depth, entry count, duplicate keys, dtypes, shapes,
 * offsets that tile the data exactly), so a malformed file is a TsgradError and no tensor is
 * created from it. `tensors` and `metadata` have no prototype, so any name in a file is a plain key.
 *
 * @example
 * const { tensors, metadata } = decodeSafetensors(readFileSync('adapter_model.safetensors'));
 */
export function decodeSafetensors(bytes: Uint8Array, opts: { backend?: string; keepHalf?: boolean } = {}): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  check(isPlainObject(opts) && (opts.keepHalf === undefined || typeof opts.keepHalf === 'boolean'), 'decodeSafetensors', () =>
    `options must be an object such as { backend: 'cpu', keepHalf: true }, got ${describeValue(opts)}`);
  const { entries, metadata, data } = readHeader(bytes);
  const keep = (e: Entry) => opts.keepHalf === true && e.kind.half !== undefined;
  const arrays = entries.map((e) => keep(e) ? new Uint16Array(aligned(data.subarray(e.begin, e.end)), 0, e.count) : e.kind.decode(data.subarray(e.begin, e.end), e.count, e.name));
  const tensors: Record<string, Tensor> = Object.create(null);
  try {
    entries.forEach((e, i) => (tensors[e.name] = keep(e)
      ? fromHalfBits(arrays[i] as Uint16Array, e.shape, { dtype: e.kind.half!, backend: opts.backend })
      : fromTypedArray(arrays[i] as TypedArray, e.shape, { dtype: e.kind.dtype, backend: opts.backend })));
  } catch (err) {
    for (const t of Object.values(tensors)) t.dispose();
    throw err;
  }
  return { tensors, metadata };
}
