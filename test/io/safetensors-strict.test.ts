// The safetensors reader is strict: every malformed file is a TsgradError naming the problem,
// before any tensor exists, and fuzzed files never escape as another kind of error.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TsgradError, io, tensor } from '../../src/index.js';

/** A file from a header given as JSON text (padded as-is) and data bytes. */
function file(headerText: string, data: ArrayLike<number> = [], headerLen?: bigint): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLen ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(Array.from(data), 8 + json.length);
  return out;
}

const f32 = (name: string, n: number, begin: number) => `"${name}":{"dtype":"F32","shape":[${n}],"data_offsets":[${begin},${begin + 4 * n}]}`;

function rejects(bytes: Uint8Array, message: RegExp): void {
  let thrown: unknown;
  try {
    io.decodeSafetensors(bytes);
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(TsgradError);
  expect((thrown as Error).message).toMatch(message);
}

describe('strict safetensors reader', () => {
  it('accepts a well-formed file with tensors in any key order', () => {
    const { tensors } = io.decodeSafetensors(file(`{${f32('b', 1, 4)},${f32('a', 1, 0)}}`, [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]));
    expect(tensors.a!.arraySync()).toEqual([1]);
    expect(tensors.b!.arraySync()).toEqual([2]);
  });

  it('rejects bad lengths and headers', () => {
    rejects(new Uint8Array(5), /too short/);
    rejects(file('{}', [], 100_000_001n), /exceeds the format's limit of 100000000/);
    rejects(file('{}', [], 2n ** 63n), /exceeds the format's limit/);
    rejects(file('{}', [], 50n), /runs past the end/);
    rejects(file(' {}'), /starting with '\{'/);
    rejects(file('null'), /starting with '\{'/);
    rejects(file('[1]'), /starting with '\{'/);
    rejects(file('{"a":'), /not valid JSON/);
    const badUtf8 = file('{"\u00e9":1}');
    badUtf8[10] = 0xff;
    rejects(badUtf8, /not valid UTF-8/);
  });

  it('rejects malformed entries', () => {
    rejects(file('{"x":null}'), /'x' must be an object/);
    rejects(file('{"x":[1,2]}'), /'x' must be an object/);
    rejects(file('{"x":"F32"}'), /'x' must be an object/);
    rejects(file('{"x":{"shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /no dtype/);
    rejects(file('{"x":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [0]), /dtype U8; supported/);
    rejects(file('{"x":{"dtype":"F32","shape":"1","data_offsets":[0,4]}}', [0, 0, 0, 0]), /shape "1"/);
    rejects(file('{"x":{"dtype":"F32","shape":["1"],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /shape \["1"\]/);
    rejects(file('{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /shape \[-1\]/);
    rejects(file('{"x":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /shape \[1.5\]/);
    rejects(file('{"x":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}'), /data_offsets \[-4,0\]/);
    rejects(file('{"x":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}'), /data_offsets \[4,0\]/);
    rejects(file('{"x":{"dtype":"F32","shape":[1],"data_offsets":[0]}}'), /data_offsets \[0\]/);
    rejects(file('{"x":{"dtype":"F32","shape":[1]}}'), /data_offsets undefined/);
    rejects(file('{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', new Array(8).fill(0)), /needs 12 bytes/);
    rejects(file('{"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /more elements than any buffer/);
  });

  it('rejects offsets that leave holes, overlap, or do not end at the end of the buffer', () => {
    rejects(file(`{${f32('a', 1, 4)}}`, new Array(8).fill(0)), /starts at byte 4, leaving a hole/);
    rejects(file(`{${f32('a', 2, 0)},${f32('b', 1, 4)}}`, new Array(12).fill(0)), /'b' at bytes \[4, 8\] overlaps/);
    rejects(file(`{${f32('a', 1, 0)}}`, new Array(8).fill(0)), /ends at byte 4 but the buffer holds 8/);
    rejects(file(`{${f32('a', 2, 0)}}`, new Array(4).fill(0)), /ends at byte 8 but the buffer holds 4/);
  });

  it("refuses to write a tensor named '__metadata__', which the format reserves", async () => {
    await expect(io.encodeSafetensors({ __metadata__: tensor([1]) })).rejects.toThrow(/named '__metadata__', which the format reserves/);
  });

  it('refuses to write what is not named tensors, or metadata that is not strings', async () => {
    const bad: [unknown, unknown, RegExp][] = [
      [{ a: [1, 2] }, undefined, /^encodeSafetensors: expected a Tensor, got an array \(tensors\['a'\]\); wrap it with tensor\(\)/],
      [null, undefined, /^encodeSafetensors: tensors must be an object of named tensors/],
      [[tensor([1])], undefined, /^encodeSafetensors: tensors must be an object of named tensors .*got an array/],
      [{ a: tensor([1]) }, 5, /^encodeSafetensors: metadata must be an object of strings .*got number 5/],
      [{ a: tensor([1]) }, { step: 3 }, /^encodeSafetensors: metadata must be an object of strings .*holding a value that is not a string/],
    ];
    for (const [tensors, metadata, message] of bad) {
      await expect(io.encodeSafetensors(tensors as never, metadata as never)).rejects.toThrow(message);
      await expect(io.encodeSafetensors(tensors as never, metadata as never)).rejects.toBeInstanceOf(TsgradError);
    }
  });

  it('rejects duplicate keys, which JSON.parse would silently collapse', () => {
    rejects(file(`{${f32('a', 1, 0)},${f32('a', 1, 0)}}`, [0, 0, 0, 0]), /the key 'a' twice/);
    rejects(file('{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', [0, 0, 0, 0]), /the key 'dtype' twice/);
    rejects(file(`{"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},${f32('a', 1, 0)}}`, [0, 0, 0, 0]), /the key 'a' twice/);
    // Equal strings as values, and the same key in different objects, are fine.
    expect(() => io.decodeSafetensors(file(`{"__metadata__":{"a":"a"},${f32('a', 1, 0)}}`, [0, 0, 0, 0]))).not.toThrow();
  });

  it("keeps any name from a file a plain key, '__proto__' included", async () => {
    const { tensors, metadata } = io.decodeSafetensors(file(`{"__metadata__":{"__proto__":"m","constructor":"c"},${f32('__proto__', 1, 0)},${f32('toString', 1, 4)}}`, [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]));
    expect(Object.getPrototypeOf(tensors)).toBe(null);
    expect(Object.keys(tensors)).toEqual(['__proto__', 'toString']);
    expect(tensors['__proto__']!.arraySync()).toEqual([1]);
    expect(tensors['toString']!.arraySync()).toEqual([2]);
    expect({ ...metadata }).toEqual(JSON.parse('{"__proto__":"m","constructor":"c"}'));
    // Written back, it is still a tensor of that name.
    const again = io.decodeSafetensors(await io.encodeSafetensors(tensors)).tensors;
    expect(Object.keys(again)).toEqual(['__proto__', 'toString']);
    // A dtype is looked up in a table: Object's own properties are not dtypes.
    for (const dtype of ['__proto__', 'toString', 'constructor']) {
      rejects(file(`{"x":{"dtype":"${dtype}","shape":[],"data_offsets":[0,4]}}`, [0, 0, 0, 0]), new RegExp(`dtype ${dtype}; supported`));
    }
  });

  it('refuses deep nesting and absurd entry counts early, with a short message', () => {
    for (const [open, close] of [['[', ']'], ['{"a":', '}']]) {
      const deep = `{"x":${open.repeat(100_000)}1${close.repeat(100_000)}}`;
      rejects(file(deep), /nests deeper than 128 levels/);
      rejects(file(`{"__metadata__":${deep.slice(5, -1)}}`), /nests deeper than 128 levels/);
    }
    // 127 levels parse; the malformed entry is named in a message of bounded length.
    const message = (() => {
      try {
        io.decodeSafetensors(file(`{"x":{"dtype":"F32","shape":${'['.repeat(126)}${']'.repeat(126)},"data_offsets":[0,0],"pad":"${'y'.repeat(5000)}"}}`));
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(message).toMatch(/tensor 'x' has shape \[\[\[/);
    expect(message!.length).toBeLessThan(300);
    rejects(file(`{"x":${JSON.stringify({ dtype: 'F32', pad: 'z'.repeat(10_000) }).replace('F32', 'F32","shape":7,"q":"')}}`), /'x' has shape 7;/);
    // 300,000 empty tensors in an 18 MB file: refused while scanning, before parsing.
    const entries = Array.from({ length: 300_000 }, (_, i) => `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    rejects(file(`{${entries.join(',')}}`), /more than 100000 entries/);
    rejects(file(`{${entries.slice(0, 100_001).join(',')}}`), /more than 100000 entries/);
  });

  it('checks that __metadata__ maps strings to strings', () => {
    rejects(file('{"__metadata__":{"format":1}}'), /__metadata__ must map strings to strings/);
    rejects(file('{"__metadata__":null}'), /__metadata__ must map strings to strings/);
    rejects(file('{"__metadata__":["pt"]}'), /__metadata__ must map strings to strings/);
  });

  it('reads F64 natively and I64 into int32 when every value fits', () => {
    const i64 = (values: bigint[]) => {
      const data = new Uint8Array(new BigInt64Array(values).buffer);
      return file(`{"i":{"dtype":"I64","shape":[${values.length}],"data_offsets":[0,${data.length}]}}`, data);
    };
    const { tensors } = io.decodeSafetensors(i64([-2147483648n, 0n, 2147483647n]));
    expect(tensors.i!.dtype).toBe('int32');
    expect(Array.from(tensors.i!.dataSync())).toEqual([-2147483648, 0, 2147483647]);
    rejects(i64([1n, 2n ** 40n]), /'i' is I64 and holds 1099511627776 at index 1/);
    const d = new Uint8Array(new Float64Array([Math.PI]).buffer);
    const { tensors: f } = io.decodeSafetensors(file('{"d":{"dtype":"F64","shape":[],"data_offsets":[0,8]}}', d));
    expect(f.d!.dtype).toBe('float64');
    expect(f.d!.itemSync()).toBe(Math.PI);
  });
});

describe('fuzzing the reader', () => {
  const onlyTsgradErrors = (bytes: Uint8Array) => {
    try {
      io.decodeSafetensors(bytes);
    } catch (e) {
      if (!(e instanceof TsgradError)) throw e;
    }
  };

  it('random bytes, and random headers of any JSON, only ever raise TsgradError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), onlyTsgradErrors), { numRuns: 300 });
    const anyHeader = fc.oneof(
      fc.json(),
      fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 3 })).map((o) => JSON.stringify(o)),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.record({
        dtype: fc.constantFrom('F32', 'F64', 'I32', 'I64', 'F16', 'BF16', 'U8', 3),
        shape: fc.array(fc.oneof(fc.integer({ min: -2, max: 2 ** 33 }), fc.constant('2')), { maxLength: 3 }),
        data_offsets: fc.array(fc.integer({ min: -8, max: 2 ** 40 }), { maxLength: 3 }),
      }, { requiredKeys: [] })).map((o) => JSON.stringify(o)),
    );
    fc.assert(fc.property(anyHeader, fc.uint8Array({ maxLength: 48 }), (h, data) => onlyTsgradErrors(file(h, data))), { numRuns: 500 });
  });

  it('mutated valid files (bytes changed, truncated, extended) only ever raise TsgradError', async () => {
    const valid = await io.encodeSafetensors({ a: tensor([[1, 2], [3, 4]]), b: tensor([5, 6, 7], { dtype: 'int32' }) }, { format: 'pt' });
    const mutation = fc.oneof(
      fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }).map((edits) => {
        const b = valid.slice();
        for (const [i, v] of edits) b[i] = v;
        return b;
      }),
      fc.nat({ max: valid.length }).map((n) => valid.slice(0, n)),
      fc.uint8Array({ minLength: 1, maxLength: 16 }).map((extra) => new Uint8Array([...valid, ...extra])),
    );
    fc.assert(fc.property(mutation, onlyTsgradErrors), { numRuns: 1000 });
  });
});
