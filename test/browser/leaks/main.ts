// A page that leaks two webgpu tensors, each from its own line, deeper in the stack than V8's
// default 10 frames; test/browser/leaks.test.ts bundles it with tsgrad into one minified file.
import { getBackendInfo, randn, setBackend } from 'tsgrad';

/** Calls `f` from `depth` frames down. */
function nested(depth: number, f: () => void): void {
  if (depth === 0) f();
  else nested(depth - 1, f);
}

async function leakTwo(): Promise<{ backend: string; stackTraceLimit: number }> {
  await setBackend('webgpu');
  nested(12, () => {
    randn([61], { backend: 'webgpu' });
  });
  nested(12, () => {
    randn([62], { backend: 'webgpu' });
  });
  return { backend: getBackendInfo().name, stackTraceLimit: (Error as { stackTraceLimit?: number }).stackTraceLimit ?? -1 };
}

Object.assign(globalThis, { leakTwo });
