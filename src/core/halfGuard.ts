import type { DType } from './dtype.js';
import { isHalf } from './dtype.js';
import { TsgradError } from './errors.js';

// float16 and bfloat16 tensors hold frozen weights: core casts them, views them, gathers their
// rows and multiplies them by a float operand (see ops/halfMatmul.ts), and nothing else. Every
// other kernel refuses a 16-bit operand here, before it runs, so no op widens one silently; the
// error reaches the user under the method they called (ops/define.ts renames it).

/** The primitives that take 16-bit operands: conversions, bit copies and row gathers. */
const HALF_PRIMITIVES: ReadonlySet<string> = new Set(['cast', 'copy', 'gather']);

/** The fused kernels that take 16-bit operands. */
const HALF_FUSED: ReadonlySet<string> = new Set(['halfMatmul']);

/** What to do with a 16-bit tensor that an op does not take. */
export function halfUnsupported(what: string, dtype: DType): string {
  return `${what} does not compute on ${dtype} (a storage dtype: only casts, views, gathers and matmuls with a float32 operand read it); cast first with t.float()`;
}

/** Why a 16-bit tensor cannot require gradients. */
export function halfFrozen(dtype: DType): string {
  return `${dtype} tensors hold frozen weights and cannot require gradients; train a float32 copy (t.float()) or float32 adapters over them (nn.applyLoRA)`;
}

/** The dtype of a 16-bit view among `args` (or inside a record of views), else null. */
function halfOperand(args: readonly unknown[]): DType | null {
  for (const a of args) {
    if (typeof a !== 'object' || a === null) continue;
    const dtype = (a as { dtype?: DType }).dtype;
    if (dtype !== undefined) {
      if (isHalf(dtype)) return dtype;
    } else if (!Array.isArray(a)) {
      for (const v of Object.values(a)) {
        const d = typeof v === 'object' && v !== null ? (v as { dtype?: DType }).dtype : undefined;
        if (d !== undefined && isHalf(d)) return d;
      }
    }
  }
  return null;
}

/**
 * Throws a TsgradError when a kernel is given a 16-bit operand it does not take. `key` names it
 * as core counts it: a primitive (`matmul`), a primitive and its op (`binary:add`), or `fused:`
 * and a fused kernel.
 */
export function refuseHalf(key: string, args: readonly unknown[]): void {
  // Runs on every kernel call: the operands are looked at first, the key parsed only for a 16-bit one.
  const dtype = halfOperand(args);
  if (!dtype) return;
  const [kind, name] = key.split(':') as [string, string | undefined];
  if (kind === 'fused' ? HALF_FUSED.has(name!) : HALF_PRIMITIVES.has(kind)) return;
  throw new TsgradError(name ?? kind, halfUnsupported(`the ${kind === 'fused' ? 'fused kernel' : 'primitive'} '${name ?? kind}'`, dtype));
}
