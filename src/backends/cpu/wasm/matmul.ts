import type { MatOperand } from '../matmul.js';
import { matmulPool, runThreaded } from '../threads.js';
import { type PoolKernel, type PoolProgram, compileKernel } from '../workerPool.js';
import { MR, NR } from './gemm.js';
import type { Arena } from './arena.js';

/*
 * Float32 matmul on the WebAssembly kernel (gemm.ts). The module's `pack` reads each operand
 * through its strides into panels in the scratch, so a transposed weight is never materialised:
 * in place for a storage in the module's memory, from a copy of its span (one memcpy) for any
 * other. The kernel writes C, padded to whole tiles, straight into a result in the memory whose
 * shape has no padding, and into the scratch otherwise, from where it is copied out row by row.
 * Threads split C in whole panels (as the JavaScript path does), along its rows or its columns:
 * each part packs its own panels of the operand split that way (the calling thread packs the
 * other one first, which every part reads), then computes its panels of C. Each tile is summed by
 * the same kernel calls in the same order on any thread, so results are bit-identical for every
 * thread count.
 */

/** What every thread's matmul kernel is built from: the module, its shared memory, and the tile. */
interface GemmSetup {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  mr: number;
  nr: number;
}

/** The module's packing exports (gemm.ts). */
interface PackExports {
  pack(src: number, lineStride: number, elemStride: number, lines: number, k: number, width: number, dst: number, l0: number, p0: number): void;
  pack_rows(src: number, elemStride: number, panels: number, k: number, width: number, dst: number): void;
  pack_cols(src: number, lineStride: number, panels: number, k4: number, width: number, dst: number, k: number): void;
}

/**
 * Packs `lines` lines of k floats into panels of `width` (see gemm.ts): whole panels with SIMD
 * copies where the lines lie side by side, or SIMD transposes where each line is contiguous; the
 * scalar pack does the rest (a last partial panel, the last k % 4 elements). Self-contained: the
 * thread kernels get it as a helper.
 */
function packPanels(ex: PackExports, src: number, lineStride: number, elemStride: number, lines: number, k: number, width: number, dst: number): void {
  const panels = Math.floor(lines / width), whole = panels * width, k4 = k - (k % 4);
  if (panels > 0 && lineStride === 1) {
    ex.pack_rows(src, elemStride, panels, k, width, dst);
    ex.pack(src, lineStride, elemStride, lines, k, width, dst, whole, 0);
  } else if (panels > 0 && elemStride === 1 && k4 > 0) {
    ex.pack_cols(src, lineStride, panels, k4, width, dst, k);
    ex.pack(src, lineStride, elemStride, lines, k, width, dst, 0, k4);
    ex.pack(src, lineStride, elemStride, lines, k, width, dst, whole, 0);
  } else {
    ex.pack(src, lineStride, elemStride, lines, k, width, dst, 0, 0);
  }
}

/**
 * One thread's kernel (see workerPool.ts: compiled from its text, so self-contained): an instance
 * of the module on the shared memory, which computes `part` of `parts` of C in whole panels, or,
 * for a batch of small matrices packed side by side, whole matrices of the batch.
 * args = [a, b, c, mp, np, k, batches, aStep, bStep, cStep, src, lineStride, elemStride, lines]:
 * a batch of 1 splits one C along its rows where it has at least as many row panels as column
 * panels, else along its columns; with src ≥ 0 each part first packs its panels of the operand
 * split (A's rows or B's columns), the lines at byte src with the given strides.
 */
function gemmPartKernel(setup: GemmSetup, pack: typeof packPanels): PoolKernel {
  const { mr, nr } = setup;
  const ex = new WebAssembly.Instance(setup.module, { env: { memory: setup.memory } }).exports as unknown as PackExports & { gemm: (...args: number[]) => void };
  const gemm = ex.gemm;
  return (_buffers, args, part, parts) => {
    const a = args[0]!, b = args[1]!, c = args[2]!, mp = args[3]!, np = args[4]!, k = args[5]!, batches = args[6]!;
    if (batches > 1) {
      const t0 = Math.floor((part * batches) / parts), t1 = Math.floor(((part + 1) * batches) / parts);
      for (let t = t0; t < t1; t++) gemm(a + t * args[7]!, b + t * args[8]!, c + t * args[9]!, np, k, 0, mp, 0, np);
      return;
    }
    const byRows = mp / mr >= np / nr;
    const width = byRows ? mr : nr, panels = (byRows ? mp : np) / width;
    const p0 = Math.floor((part * panels) / parts), p1 = Math.floor(((part + 1) * panels) / parts);
    if (p1 <= p0) return;
    const src = args[10]!, lines = args[13]!;
    if (src >= 0) {
      const l0 = p0 * width, l1 = Math.min(p1 * width, lines);
      pack(ex, src + l0 * args[11]! * 4, args[11]!, args[12]!, l1 - l0, k, width, (byRows ? a : b) + l0 * k * 4);
    }
    if (byRows) gemm(a, b, c, np, k, p0 * mr, p1 * mr, 0, np);
    else gemm(a, b, c, np, k, 0, mp, p0 * nr, p1 * nr);
  };
}

/** Elements of storage one matrix of a batched operand spans from its offset, or -1 with a negative stride. */
function spanOf(x: MatOperand): number {
  const r = x.shape.length;
  const [rs, cs] = [x.strides[r - 2]!, x.strides[r - 1]!];
  if (rs < 0 || cs < 0) return -1;
  return (x.shape[r - 2]! - 1) * rs + (x.shape[r - 1]! - 1) * cs + 1;
}

/** The matmul engine of one runtime: its thread program and this thread's kernel. */
export class WasmMatmul {
  private readonly program: PoolProgram;
  private readonly kernel: PoolKernel;
  private readonly args = new Int32Array(14);

  constructor(private readonly arena: Arena) {
    const { rt } = arena;
    const setup: GemmSetup = { module: rt.module, memory: rt.memory, mr: MR, nr: NR };
    this.program = { kernel: gemmPartKernel, helpers: [packPanels], setup };
    this.kernel = compileKernel(this.program);
  }

  /** `packPanels` on this thread. */
  private pack(src: number, lineStride: number, elemStride: number, lines: number, k: number, width: number, dst: number): void {
    packPanels(this.arena.rt.exports as unknown as PackExports, src, lineStride, elemStride, lines, k, width, dst);
  }

  /** out = a · b for float32 operands with one batch shape; false if the scratch cannot grow that far. */
  run(a: MatOperand, b: MatOperand, out: Float32Array): boolean {
    const r = a.shape.length;
    const m = a.shape[r - 2]!, k = a.shape[r - 1]!, n = b.shape[r - 1]!;
    if (k === 0) {
      out.fill(0);
      return true;
    }
    const aSpan = spanOf(a), bSpan = spanOf(b);
    if (aSpan < 0 || bSpan < 0) return false;
    // A result narrower than a panel of B (x·Aᵀ with a LoRA rank of 4) would be mostly padding:
    // then the kernel computes Cᵀ = Bᵀ·Aᵀ, which sums the same products in the same order (the
    // same bits), and C is transposed out.
    const swap = Math.ceil(n / MR) * Math.ceil(m / NR) * MR * NR < Math.ceil(m / MR) * Math.ceil(n / NR) * MR * NR;
    const rows = swap ? n : m, cols = swap ? m : n;
    const mp = Math.ceil(rows / MR) * MR, np = Math.ceil(cols / NR) * NR;
    const { arena } = this, { rt } = arena;
    const aIn = arena.addressOf(a.data), bIn = arena.addressOf(b.data), outAt = arena.addressOf(out);
    // A result in the memory whose shape fills whole tiles is C itself; otherwise C is padded scratch.
    const direct = !swap && outAt >= 0 && m % MR === 0 && n % NR === 0;
    // Scratch bytes, from its base: the kernel's packed A and B, C, then copies of spans outside the memory.
    const cEnd = (mp * k + np * k + (direct ? 0 : mp * np)) * 4;
    const aCopy = aIn < 0 ? aSpan * 4 : 0, bCopy = bIn < 0 ? bSpan * 4 : 0;
    const base = arena.scratch(cEnd + aCopy + bCopy);
    if (base < 0) return false;
    const aAt = base, bAt = aAt + mp * k * 4, cScratch = bAt + np * k * 4;
    const aSrc = base + cEnd, bSrc = aSrc + aCopy;
    const mem = rt.f32();
    const pool = rt.shared ? matmulPool(this.program, m, k, n) : null;
    const batchShape = a.shape.slice(0, r - 2);
    const batches = batchShape.reduce((x, y) => x * y, 1);
    if (!pool && !swap && batches > 1 && rt.shared && this.runBatch(a, b, out, batchShape, { m, k, n, mp, np, aSpan, bSpan, direct, outAt })) return true;
    const idx = new Array<number>(batchShape.length).fill(0);
    // A batch dim broadcast with stride 0 repeats the same matrix: pack it once.
    let packedA = -1, packedB = -1;
    // With threads, the parts pack the operand C is split along (the kernel's A where C has at
    // least as many row panels as column panels); this thread packs the other.
    const splitA = mp / MR >= np / NR;
    for (let t = 0; t < batches; t++) {
      const cAt = direct ? outAt + t * m * n * 4 : cScratch;
      const args = [aAt, bAt, cAt, mp, np, k, 1, 0, 0, 0, -1, 0, 0, 0];
      let ao = a.offset, bo = b.offset;
      for (let d = 0; d < batchShape.length; d++) {
        ao += idx[d]! * a.strides[d]!;
        bo += idx[d]! * b.strides[d]!;
      }
      // a's rows and b's columns, each packed as the kernel's A or B: [src, lineStride, elemStride, lines, width, dst].
      const ops = [
        { fresh: ao !== packedA, src: aIn < 0 ? aSrc : aIn + ao * 4, line: a.strides[r - 2]!, elem: a.strides[r - 1]!, lines: m, kernelA: !swap },
        { fresh: bo !== packedB, src: bIn < 0 ? bSrc : bIn + bo * 4, line: b.strides[r - 1]!, elem: b.strides[r - 2]!, lines: n, kernelA: swap },
      ];
      if (ops[0]!.fresh && aIn < 0) mem.set(a.data.subarray(ao, ao + aSpan), aSrc / 4);
      if (ops[1]!.fresh && bIn < 0) mem.set(b.data.subarray(bo, bo + bSpan), bSrc / 4);
      for (const op of ops) {
        if (!op.fresh) continue;
        if (pool && op.kernelA === splitA) args.splice(10, 4, op.src, op.line, op.elem, op.lines);
        else this.pack(op.src, op.line, op.elem, op.lines, k, op.kernelA ? MR : NR, op.kernelA ? aAt : bAt);
      }
      // Packed by the parts, an operand stays packed for the next matrix of the batch only if all of it was.
      packedA = pool && ops[0]!.kernelA === splitA ? -1 : ao;
      packedB = pool && ops[1]!.kernelA === splitA ? -1 : bo;
      if (pool) {
        try {
          runThreaded(pool, [], args);
        } catch (e) {
          arena.abandonScratch();
          throw e;
        }
      } else {
        this.args.set(args);
        this.kernel([], this.args, 0, 1);
      }
      const c = cAt / 4, o = t * m * n;
      if (swap) {
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[o + i * n + j] = mem[c + j * np + i]!;
      } else if (!direct) {
        for (let i = 0; i < m; i++) out.set(mem.subarray(c + i * np, c + i * np + n), o + i * n);
      }
      for (let d = batchShape.length - 1; d >= 0; d--) {
        if (++idx[d]! < batchShape[d]!) break;
        idx[d] = 0;
      }
    }
    return true;
  }

  /**
   * A batch of matrices each too small to split (attention's [B·H, T, T] products) spread over
   * the threads whole matrices at a time: every matrix's panels are packed side by side first,
   * then each thread runs the kernel on its share of the batch. Each C is summed by the same
   * kernel calls as on one thread, so the bits are the same. False, having done nothing, when a
   * batch dim is broadcast (stride 0), the batch is too little work for threads, or the scratch
   * cannot hold it; the loop over the batch then runs.
   */
  private runBatch(a: MatOperand, b: MatOperand, out: Float32Array, batchShape: readonly number[], dims: {
    m: number; k: number; n: number; mp: number; np: number; aSpan: number; bSpan: number; direct: boolean; outAt: number;
  }): boolean {
    const { m, k, n, mp, np, aSpan, bSpan, direct, outAt } = dims;
    const batches = out.length / (m * n);
    if (batchShape.some((d, i) => d > 1 && (a.strides[i] === 0 || b.strides[i] === 0))) return false;
    const pool = matmulPool(this.program, batches * m, k, n);
    if (!pool) return false;
    const { arena } = this, r = a.shape.length;
    const aIn = arena.addressOf(a.data), bIn = arena.addressOf(b.data);
    const aStep = mp * k * 4, bStep = np * k * 4, cStep = (direct ? m * n : mp * np) * 4;
    const cBytes = direct ? 0 : batches * cStep;
    const aCopy = aIn < 0 ? aSpan * 4 : 0, bCopy = bIn < 0 ? bSpan * 4 : 0;
    const base = arena.scratch(batches * (aStep + bStep) + cBytes + aCopy + bCopy);
    if (base < 0) return false;
    const aAt = base, bAt = aAt + batches * aStep, cScratch = bAt + batches * bStep;
    const aSrc = cScratch + cBytes, bSrc = aSrc + aCopy;
    const mem = arena.rt.f32();
    const idx = new Array<number>(batchShape.length).fill(0);
    for (let t = 0; t < batches; t++) {
      let ao = a.offset, bo = b.offset;
      for (let d = 0; d < batchShape.length; d++) {
        ao += idx[d]! * a.strides[d]!;
        bo += idx[d]! * b.strides[d]!;
      }
      if (aIn < 0) mem.set(a.data.subarray(ao, ao + aSpan), aSrc / 4);
      this.pack(aIn < 0 ? aSrc : aIn + ao * 4, a.strides[r - 2]!, a.strides[r - 1]!, m, k, MR, aAt + t * aStep);
      if (bIn < 0) mem.set(b.data.subarray(bo, bo + bSpan), bSrc / 4);
      this.pack(bIn < 0 ? bSrc : bIn + bo * 4, b.strides[r - 1]!, b.strides[r - 2]!, n, k, NR, bAt + t * bStep);
      for (let d = batchShape.length - 1; d >= 0; d--) {
        if (++idx[d]! < batchShape[d]!) break;
        idx[d] = 0;
      }
    }
    try {
      runThreaded(pool, [], [aAt, bAt, direct ? outAt : cScratch, mp, np, k, batches, aStep, bStep, cStep]);
    } catch (e) {
      arena.abandonScratch();
      throw e;
    }
    if (!direct) {
      for (let t = 0; t < batches; t++) {
        const c = (cScratch + t * cStep) / 4, o = t * m * n;
        for (let i = 0; i < m; i++) out.set(mem.subarray(c + i * np, c + i * np + n), o + i * n);
      }
    }
    return true;
  }
}
