// The conv bench in TensorFlow.js: tf.fused.conv2d (convolution and bias in one kernel, tfjs's
// fastest path) on its WebAssembly backend (XNNPACK) and its WebGPU backend, on the same Dawn
// adapter as tsgrad's webgpu backend. tfjs runs in its native layout: input NHWC, filter
// [kh, kw, in, out]; the bench hands it the same numbers transposed.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerTfjsWebgpu } from './tfjsDawn.js';

export const TFJS_WASM = 'tfjs/wasm', TFJS_WEBGPU = 'tfjs/webgpu';
const BACKEND: Record<string, string> = { [TFJS_WASM]: 'wasm', [TFJS_WEBGPU]: 'webgpu' };

/** Starts tfjs's wasm backend and its webgpu backend on tsgrad's Dawn adapter (call after tsgrad's webgpu init). */
export async function initTfjs(): Promise<void> {
  await registerTfjsWebgpu();
  for (const name of ['wasm', 'webgpu']) if (!(await tf.setBackend(name))) throw new Error(`tfjs could not start its ${name} backend`);
}

/** The bench's inputs in PyTorch's layout (x and g [N, C, H, W], w [O, C, 3, 3], b [O]). */
export interface ConvData {
  shape: readonly [number, number, number, number];
  x: Float32Array;
  w: Float32Array;
  b: Float32Array;
  g: Float32Array;
}

/** Reorders the axes of a 4-D array of `shape` by `order` (as tf.transpose), in plain JavaScript so no backend is involved. */
function permute(a: Float32Array, shape: readonly number[], order: readonly number[]): Float32Array {
  const strides = [shape[1]! * shape[2]! * shape[3]!, shape[2]! * shape[3]!, shape[3]!, 1];
  const [d0, d1, d2, d3] = order.map((o) => shape[o]!) as [number, number, number, number];
  const [s0, s1, s2, s3] = order.map((o) => strides[o]!) as [number, number, number, number];
  const out = new Float32Array(a.length);
  let k = 0;
  for (let i = 0; i < d0; i++) for (let j = 0; j < d1; j++) for (let l = 0; l < d2; l++) for (let m = 0; m < d3; m++) out[k++] = a[i * s0 + j * s1 + l * s2 + m * s3]!;
  return out;
}
/** NCHW → NHWC, [O, C, kh, kw] → [kh, kw, C, O], NHWC → NCHW. */
const NHWC = [0, 2, 3, 1], HWIO = [2, 3, 1, 0], NCHW = [0, 3, 1, 2];

/** What a tfjs task computes: the forward output, or the gradients of input, weight and bias, in PyTorch's layouts. */
export interface TfjsConv {
  run: () => Promise<void>;
  /** The whole results, for the one correctness check. */
  results: () => Promise<Float32Array[]>;
  dispose: () => void;
}

/** Builds a forward or forward+backward conv on the current tfjs backend (inputs are created there). */
export function tfjsConv(d: ConvData, backward: boolean): TfjsConv {
  const [n, c, h, w] = d.shape;
  const x = tf.tensor4d(permute(d.x, d.shape, NHWC), [n, h, w, c]);
  const f = tf.tensor4d(permute(d.w, [c, c, 3, 3], HWIO), [3, 3, c, c]);
  const b = tf.tensor1d(d.b), g = tf.tensor4d(permute(d.g, d.shape, NHWC), [n, h, w, c]);
  const conv = (xi: tf.Tensor, fi: tf.Tensor, bi: tf.Tensor) =>
    tf.fused.conv2d({ x: xi as tf.Tensor4D, filter: fi as tf.Tensor4D, strides: 1, pad: 'same', bias: bi });
  const grads = tf.grads((xi: tf.Tensor, fi: tf.Tensor, bi: tf.Tensor) => conv(xi, fi, bi));
  const compute = () => (backward ? grads([x, f, b], g) : [conv(x, f, b)]);
  return {
    run: async () => {
      const outs = compute();
      // One element of each result waits for all the work without timing a large download.
      const firsts = outs.map((o) => tf.slice(o.reshape([-1]), 0, 1));
      await Promise.all(firsts.map((s) => s.data()));
      tf.dispose([...outs, ...firsts]);
    },
    results: async () => {
      const outs = compute();
      // Back to PyTorch's layouts: [N, H, W, C] → [N, C, H, W], a filter [kh, kw, C, O] → [O, C, kh, kw].
      const arrays = await Promise.all(outs.map(async (o, i) => {
        const t = o.rank === 4 ? tf.transpose(o, backward && i === 1 ? [3, 2, 0, 1] : NCHW) : o;
        const a = (await t.data()) as Float32Array;
        if (t !== o) t.dispose();
        return a;
      }));
      tf.dispose(outs);
      return arrays;
    },
    dispose: () => tf.dispose([x, f, b, g]),
  };
}

/** Makes `impl`'s backend current. */
export async function useTfjs(impl: string): Promise<void> {
  if (!(await tf.setBackend(BACKEND[impl]!))) throw new Error(`tfjs could not switch to ${impl}`);
}

export const tfjsVersion = tf.version.tfjs;
