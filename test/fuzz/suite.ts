import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Tensor, TsgradError, nn, optim, scope, tensor, zeros } from '../../src/index.js';
import { ENTRIES, type ArgDesc, argArb, describeCall, materialize, tensorDescArb, tensorsIn } from './calls.js';
import { backendBeforeAll } from '../backendAvailable.js';
import type { MatrixEntry } from '../matrix.js';

/** Fixed, so every run checks the same calls; set FUZZ_SEED to explore others. */
const SEED = Number(process.env.FUZZ_SEED ?? 12);

interface Snapshot {
  shape: readonly number[];
  dtype: string;
  requiresGrad: boolean;
  data: number[];
}

async function snap(ts: Tensor[]): Promise<(Snapshot | null)[]> {
  return Promise.all(ts.map(async (t) => (t.isDisposed ? null : { shape: t.shape, dtype: t.dtype, requiresGrad: t.requiresGrad, data: Array.from(await t.data()) })));
}

/** Runs `call`; a raw error, or a TsgradError under another op's name, fails with the call printed. */
async function outcome(what: string, ops: string[], call: () => unknown): Promise<'ok' | 'refused'> {
  try {
    const r = await call();
    // GPU backends may fail late, when a result is read: read it.
    if (typeof r === 'object' && r !== null && (r as Tensor)._isTensor && !(r as Tensor).isDisposed) await (r as Tensor).data();
    return 'ok';
  } catch (e) {
    if (!(e instanceof TsgradError)) throw new Error(`${what} threw a raw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    if (!ops.includes(e.op)) throw new Error(`${what} threw a TsgradError named '${e.op}', not ${ops.map((o) => `'${o}'`).join(' or ')}: ${e.message}`);
    if (!e.message.startsWith(`${e.op}: `) || e.message.length < e.op.length + 12) throw new Error(`${what} threw an uninformative message: ${e.message}`);
    return 'refused';
  }
}

/**
 * The fuzz suite for one matrix entry: random calls across the public API (ops, creation, nn, optim)
 * must return or throw a TsgradError under the called op's name, and a refused call must leave
 * every tensor, model and optimizer it was given as it was. A missing driver fails under CI and
 * is skipped loudly elsewhere.
 */
export function defineFuzz(entry: MatrixEntry, numRuns: number): void {
  const backend = entry.backend;
  describe(`fuzz: ${entry.name}`, () => {
    const available = backendBeforeAll(backend, 'fuzz suite', entry);
    const test = (name: string, fn: () => Promise<void>) =>
      it(name, async (ctx) => {
        if (!available()) return ctx.skip();
        await fn();
      });

    test('every call returns or throws a TsgradError naming it, and a refused call changes none of its tensors', async () => {
      const callArb = fc.integer({ min: 0, max: ENTRIES.length - 1 }).chain((i) => {
        const e = ENTRIES[i]!;
        const rest = fc.array(argArb, { minLength: e.arity - (e.method ? 1 : 0), maxLength: e.arity - (e.method ? 1 : 0) });
        return fc.tuple(fc.constant(i), e.method ? fc.tuple(tensorDescArb, rest).map(([r, a]) => [r, ...a]) : rest);
      });
      await fc.assert(
        fc.asyncProperty(callArb, async ([i, descs]: [number, ArgDesc[]]) => {
          const entry = ENTRIES[i]!;
          await scope(async () => {
            const args = descs.map((d) => materialize(d, backend));
            const inputs = tensorsIn(args);
            const before = await snap(inputs);
            const what = describeCall(entry, descs);
            const result = await outcome(what, entry.ops, () => entry.call(args, backend));
            // In-place ops (named with a trailing _, as in PyTorch) may change their receiver when they succeed; nothing else may.
            if (result === 'ok' && entry.name.endsWith('_')) return;
            const after = await snap(inputs);
            if (JSON.stringify(after) !== JSON.stringify(before)) throw new Error(`${what} (${result}) changed its inputs`);
          });
        }),
        { numRuns, seed: SEED },
      );
    });

    test('a refused loadStateDict leaves the model as it was', async () => {
      const stateArb = fc.dictionary(fc.constantFrom('0.weight', '0.bias', '2.weight', '2.bias', 'extra'), argArb, { maxKeys: 5 });
      await fc.assert(
        fc.asyncProperty(stateArb, fc.boolean(), async (descs, strict) => {
          await scope(async () => {
            // Module logic is backend-independent: the model and the state live on the CPU.
            const model = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU(), new nn.Linear(3, 1));
            const state = Object.fromEntries(Object.entries(descs).map(([k, d]) => [k, materialize(d, 'cpu')]));
            const before = await snap(model.parameters());
            const what = `loadStateDict(${JSON.stringify(Object.keys(descs))}, { strict: ${strict} })`;
            const result = await outcome(what, ['loadStateDict'], () => model.loadStateDict(state as never, { strict }));
            if (result === 'refused' && JSON.stringify(await snap(model.parameters())) !== JSON.stringify(before)) {
              throw new Error(`${what} was refused but changed the model`);
            }
          });
        }),
        { numRuns: Math.ceil(numRuns / 4), seed: SEED },
      );
    });

    test('a refused optimizer step changes no parameter, moment or step count', async () => {
      const gradArb = fc.tuple(fc.oneof(tensorDescArb, argArb), fc.oneof(tensorDescArb, argArb), fc.constantFrom('SGD', 'Adam', 'AdamW'));
      await fc.assert(
        fc.asyncProperty(gradArb, async ([g1, g2, kind]) => {
          await scope(async () => {
            const p = tensor([[1, 2, 3], [4, 5, 6]], { backend, requiresGrad: true });
            const q = tensor([1, 2, 3], { backend, requiresGrad: true });
            const opt = kind === 'SGD' ? new optim.SGD([p, q], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 })
              : kind === 'Adam' ? new optim.Adam([p, q], { lr: 0.1 }) : new optim.AdamW([p, q], { lr: 0.1 });
            // One good step first, so there are moments to protect.
            p.grad = tensor([[1, 1, 1], [1, 1, 1]], { backend });
            q.grad = tensor([1, 1, 1], { backend });
            opt.step();
            p.grad = materialize(g1, backend) as Tensor;
            q.grad = materialize(g2, backend) as Tensor;
            const state = () => snap([p, q, ...opt.stateTensors()]).then((s) => JSON.stringify([s, opt.stateOf(p)?.step, opt.stateOf(q)?.step]));
            const before = await state();
            const what = `${kind}.step() with gradients ${describeCall({ name: '', arity: 2, ops: [], call: () => 0 }, [g1, g2])}`;
            const result = await outcome(what, [`${kind}.step`], () => opt.step());
            if (result === 'refused' && (await state()) !== before) throw new Error(`${what} was refused but changed the optimizer or its parameters`);
          });
        }),
        { numRuns: Math.ceil(numRuns / 4), seed: SEED },
      );
    });

    test("valid extreme inputs give PyTorch's results", async () => {
      const on = { backend };
      const read = async (t: Tensor) => Array.from(await t.data());
      await scope(async () => {
        // Empty and 0-d tensors (torch.zeros(2, 0).sum(1) is [0, 0]; a 0-d softmax is 1).
        expect(await read(zeros([2, 0], on).sum(1))).toEqual([0, 0]);
        expect(await read(zeros([0], on).sum())).toEqual([0]);
        expect((zeros([3, 0], on).softmax(1)).shape).toEqual([3, 0]);
        expect(await read(tensor(2, on).softmax(-1))).toEqual([1]);
        expect(await read(tensor(3, on).argmax(0))).toEqual([0]);
        expect(await read(zeros([2, 0], on).matmul(zeros([0, 3], on)))).toEqual([0, 0, 0, 0, 0, 0]);
        // Huge logits stay finite: softmax([1000, 1001]) = [1/(1+e), e/(1+e)].
        const s = await read(tensor([[1000, 1001]], on).softmax(1));
        expect(s[0]).toBeCloseTo(1 / (1 + Math.E), 5);
        expect(s[1]).toBeCloseTo(Math.E / (1 + Math.E), 5);
        expect(await read(tensor([-1000, 0], on).logSoftmax(0))).toEqual([-1000, 0]);
        const ce = await read(nn.functional.crossEntropy(tensor([[1e4, -1e4, 0]], on), tensor([1], { ...on, dtype: 'int32' })));
        expect(ce[0]).toBeCloseTo(2e4, 0);
        // Infinities and NaN follow IEEE and PyTorch.
        expect(await read(tensor([Infinity, -Infinity], on).sigmoid())).toEqual([1, 0]);
        expect(await read(tensor([Infinity, -Infinity], on).tanh())).toEqual([1, -1]);
        expect(await read(tensor([NaN, -1, 2], on).relu())).toEqual([NaN, 0, 2]);
        expect(await read(tensor([NaN, 1], on).maximum(tensor([1, NaN], on)))).toEqual([NaN, NaN]);
        // Subnormals survive arithmetic that does not flush them (float32's smallest normal is 1.18e-38).
        const sub = await read(tensor([1e-39], on).mul(1));
        expect(sub[0]! === 0 || Math.abs(sub[0]! - 1e-39) < 1e-44).toBe(true);
      });
    });
  });
}
