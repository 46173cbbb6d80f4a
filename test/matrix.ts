// The backend matrix: one entry per backend (and per dtype or kernel path where that matters)
// says how to make it ready, what it needs installed, how closely it must agree with the oracle
// (test/oracle.ts), and which of the shared suites it joins. Conformance, fuzz, differential and
// soak all read it; each (suite, entry) pair runs from its own one-line file,
// test/<suite>/<entry>.test.ts, so vitest runs them in parallel processes (test/matrix.test.ts
// checks those files match this table). A new backend or dtype is one entry here.
import { type DType, getBackendInfo, initBackend, registerBackend, setBackend } from '../src/index.js';
import { initOracle } from './oracle.js';

export type Suite = 'conformance' | 'fuzz' | 'differential' | 'soak';
export const SUITES: readonly Suite[] = ['conformance', 'fuzz', 'differential', 'soak'];

/** Agreement with the oracle: |got − want| ≤ atol + rtol·|want|, elementwise. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

export interface MatrixEntry {
  /** The entry's name; its suites run from test/<suite>/<name>.test.ts. */
  name: string;
  /** The registered backend the suites create tensors on. */
  backend: string;
  /** The float dtype the suites compute in. */
  dtype: Extract<DType, 'float32' | 'float64'>;
  /** Makes the backend ready (default `initBackend(backend)`); throwing means its driver is missing. */
  init?: () => Promise<void>;
  /** What to install when the driver is missing: shown when skipping on a laptop (CI fails instead). */
  requirement?: string;
  /** Agreement with the oracle (a conformance case's own float32 tolerance widens it). */
  tol: Tolerance;
  /** The suites it joins and their settings: random runs per property. */
  conformance?: { numRuns: number };
  fuzz?: { numRuns: number };
  differential?: { numRuns: number };
  soak?: { steps: number };
}

export const WEBGPU_REQUIREMENT =
  'the webgpu backend needs Mesa: install the Debian/Ubuntu packages libegl-mesa0 libgles2 mesa-vulkan-drivers and set EGL_PLATFORM=surfaceless (or run on a machine with a GPU)';
export const GPUJS_REQUIREMENT =
  "the gpujs backend needs a GL context: start `Xvfb :99 -noreset -screen 0 1024x768x24 &`, export DISPLAY=:99, and build the 'gl' addon " +
  '(apt-get install libxi-dev libx11-dev libxext-dev pkg-config python3 g++ make; npm rebuild gl)';

/** What a backend needs installed, for skip notices of backend-specific tests too. */
export const REQUIREMENTS: Record<string, string> = { webgpu: WEBGPU_REQUIREMENT, gpujs: GPUJS_REQUIREMENT };

const FLOAT32 = { atol: 1e-4, rtol: 1e-3 };
/** float64 against float64: only summation order and libm differ. */
const FLOAT64 = { atol: 1e-10, rtol: 1e-9 };

/** The kernel types that mean gpu.js really runs on GL (it falls back to its CPU kernels silently). */
const GL_KERNELS = ['HeadlessGLKernel', 'WebGL2Kernel', 'WebGLKernel'];

/** Checks the cpu backend is on `path`, switching it to the JavaScript one when that is asked for. */
async function cpuPath(path: 'wasm' | 'js'): Promise<void> {
  if (path === 'js') await setBackend('cpu', { wasm: false });
  if (getBackendInfo('cpu').path !== path) throw new Error(`the cpu backend is not on its ${path} path: ${JSON.stringify(getBackendInfo('cpu'))}`);
}

export const MATRIX: readonly MatrixEntry[] = [
  // The CPU backend on its default WebAssembly path.
  {
    name: 'cpu', backend: 'cpu', dtype: 'float32', tol: FLOAT32, init: () => cpuPath('wasm'),
    conformance: { numRuns: 20 }, fuzz: { numRuns: 4000 }, differential: { numRuns: 300 }, soak: { steps: 1000 },
  },
  // Its plain-JavaScript path, `setBackend('cpu', { wasm: false })`.
  { name: 'cpu-js', backend: 'cpu', dtype: 'float32', tol: FLOAT32, init: () => cpuPath('js'), conformance: { numRuns: 20 } },
  // The WebAssembly kernels taking every float32 op they cover, however small (they normally
  // start at 2,048 elements), so results and gradients through them are checked like any backend's.
  {
    name: 'cpu-wasm-small', backend: 'cpu', dtype: 'float32', tol: FLOAT32, conformance: { numRuns: 20 },
    init: async () => {
      (await import('../src/backends/cpu/wasm/kernels.js')).configureWasmElementwise({ minElements: 1, minInMemory: 1, minRow: 1 });
      await cpuPath('wasm');
    },
  },
  // The CPU backend's float64 kernels, which float32 tensors never reach.
  { name: 'cpu-float64', backend: 'cpu', dtype: 'float64', tol: FLOAT64, conformance: { numRuns: 8 }, differential: { numRuns: 50 } },
  // The oracle itself, against conformance's independent reference loops.
  { name: 'reference', backend: 'reference', dtype: 'float64', tol: FLOAT64, init: initOracle, conformance: { numRuns: 5 } },
  // WebGPU through Dawn (Mesa's llvmpipe without a GPU): fewer runs, each call is a dispatch and a readback.
  {
    name: 'webgpu', backend: 'webgpu', dtype: 'float32', tol: FLOAT32, requirement: WEBGPU_REQUIREMENT,
    conformance: { numRuns: 20 }, fuzz: { numRuns: 300 }, differential: { numRuns: 200 }, soak: { steps: 1000 },
  },
  // gpu.js on headless-gl, refusing its silent fallback to CPU kernels.
  {
    name: 'gpujs', backend: 'gpujs', dtype: 'float32', tol: FLOAT32, requirement: GPUJS_REQUIREMENT,
    init: async () => {
      await initBackend('gpujs');
      const kernel = getBackendInfo('gpujs').kernelType;
      if (!GL_KERNELS.includes(kernel)) throw new Error(`gpujs runs ${kernel}, not a GL kernel`);
    },
    // Fewer differential programs and soak steps than the others: on a 2-core CI machine at full
    // load, 60 programs took 22 s of a 60 s limit and 1,000 steps 40 s of 120 (about 40 ms a
    // step, even alone), too close for a machine three times slower.
    conformance: { numRuns: 12 }, fuzz: { numRuns: 150 }, differential: { numRuns: 40 }, soak: { steps: 400 },
  },
  // gpu.js's own CPU kernels (opt-in, no display needed), running the same kernel sources in JavaScript.
  {
    name: 'gpujs-cpu', backend: 'gpujs-cpu', dtype: 'float32', tol: FLOAT32, conformance: { numRuns: 4 },
    init: async () => {
      const { createGpuJsBackend } = await import('../src/backends/gpujs/index.js');
      registerBackend('gpujs-cpu', () => createGpuJsBackend({ mode: 'cpu' }));
      await initBackend('gpujs-cpu');
    },
  },
];

/** The entry named `name`; an error listing the entries otherwise. */
export function matrixEntry(name: string): MatrixEntry {
  const e = MATRIX.find((m) => m.name === name);
  if (!e) throw new Error(`no backend '${name}' in test/matrix.ts; entries: ${MATRIX.map((m) => m.name).join(', ')}`);
  return e;
}
