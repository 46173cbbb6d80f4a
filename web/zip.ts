// A zip archive of a few files, stored uncompressed: enough to hand over the adapter's two files
// as one download (a browser asks before letting a page start several).
import { crc32 } from '../examples/shared/crc32.js';

/** A zip archive holding `files` (name → bytes or UTF-8 text) in the order given, uncompressed. */
export function zip<K extends string>(files: { readonly [name in K]: Uint8Array | string }): Uint8Array<ArrayBuffer> {
  const utf8 = new TextEncoder();
  const entries = (Object.entries(files) as [string, Uint8Array | string][]).map(([name, data]) => {
    const bytes = typeof data === 'string' ? utf8.encode(data) : data;
    return { name: utf8.encode(name), bytes, crc: crc32(bytes) };
  });
  const size = entries.reduce((s, e) => s + 30 + e.name.length + e.bytes.length + 46 + e.name.length, 22);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  const u16 = (v: number) => (view.setUint16(at, v, true), (at += 2));
  const u32 = (v: number) => (view.setUint32(at, v, true), (at += 4));
  const put = (b: Uint8Array) => (out.set(b, at), (at += b.length));
  // Version 2.0, flags: UTF-8 names, method: stored, time and date: 1980-01-01 00:00.
  const common = (e: (typeof entries)[number]) => {
    u16(20), u16(0x0800), u16(0), u16(0), u16(0x21);
    u32(e.crc), u32(e.bytes.length), u32(e.bytes.length), u16(e.name.length), u16(0);
  };
  const offsets = entries.map((e) => {
    const offset = at;
    u32(0x04034b50), common(e), put(e.name), put(e.bytes);
    return offset;
  });
  const directory = at;
  entries.forEach((e, i) => {
    u32(0x02014b50), u16(20), common(e), u16(0), u16(0), u16(0), u32(0), u32(offsets[i]!), put(e.name);
  });
  const directorySize = at - directory;
  u32(0x06054b50), u16(0), u16(0), u16(entries.length), u16(entries.length), u32(directorySize), u32(directory), u16(0);
  return out;
}
