import type { Arena } from './arena.js';

/** The memory a kernel's own module imports: the runtime's, by its size limit and sharing. */
export interface ModuleMemory {
  maxPages: number;
  shared: boolean;
}

/**
 * A small module of a kernel's own (each under the 4 KiB a browser compiles synchronously),
 * instantiated on the runtime's memory the first time an arena on that memory asks; the same
 * exports after. Null where the engine does not validate the module (no SIMD, say), so the
 * caller falls back to JavaScript.
 *
 * @example
 * const kernels = ownModule<{ copy_rows: CopyRows }>((memory) => copyModuleBytes(memory));
 * kernels(arena)?.copy_rows(...);
 */
export function ownModule<E>(bytes: (memory: ModuleMemory) => Uint8Array<ArrayBuffer>): (arena: Arena) => E | null {
  const cache = new WeakMap<WebAssembly.Memory, E | null>();
  return (arena) => {
    const { memory, maxBytes, shared } = arena.rt;
    let exports = cache.get(memory);
    if (exports === undefined) {
      const b = bytes({ maxPages: maxBytes / 65536, shared });
      exports = WebAssembly.validate(b) ? (new WebAssembly.Instance(new WebAssembly.Module(b), { env: { memory } }).exports as E) : null;
      cache.set(memory, exports);
    }
    return exports;
  };
}
