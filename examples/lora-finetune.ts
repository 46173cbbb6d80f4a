// LoRA fine-tuning end to end on the CPU backend, in a few seconds:
// 1. a small "pretrained" MLP (here: a copy of a teacher network for task A),
// 2. task B = the teacher with a low-rank change to two of its layers,
// 3. applyLoRA on those layers, train A and B only with Adam, watch the loss fall,
// 4. memory by category, then merge and check the merged model computes the same outputs.
import { type Tensor, manualSeed, memoryReport, nn, noGrad, optim, randn, scope } from '../src/index.js';

const F = nn.functional;
manualSeed(0);

const mlp = () => new nn.Sequential(new nn.Linear(32, 128), new nn.GELU(), new nn.Linear(128, 128), new nn.GELU(), new nn.Linear(128, 8));

// The pretrained model, and a task-B teacher: the same weights plus a rank-2 shift in layers 0 and 2.
const model = mlp();
const teacher = mlp();
teacher.loadStateDict(model.stateDict());
noGrad(() => {
  for (const name of ['0', '2']) {
    const w = (teacher.at(Number(name)) as nn.Linear).weight;
    const shift = randn([w.shape[0]!, 2]).matmul(randn([2, w.shape[1]!])).mul(0.08);
    w.copy_(w.add(shift));
  }
});
teacher.freeze();

const report = nn.applyLoRA(model, { targets: ['0', '2'], rank: 4, alpha: 8 });
console.log(`adapted: ${report.replaced.join(', ')}`);
console.log(nn.trainableSummary(model));

const opt = new optim.Adam(model.parameters(), { lr: 1e-2 });
const batch = (): [Tensor, Tensor] => {
  const x = randn([64, 32]);
  return [x, noGrad(() => teacher.forward(x))];
};
const [xVal, yVal] = batch();
const valLoss = () => noGrad(() => scope(() => F.mseLoss(model.forward(xVal), yVal).itemSync()));

const start = performance.now();
const first = valLoss();
console.log(`step   0  validation loss ${first.toFixed(5)}`);
for (let step = 1; step <= 300; step++) {
  scope(() => {
    const [x, y] = batch();
    const loss = F.mseLoss(model.forward(x), y);
    const activations = step === 2 ? memoryReport(model, opt, { output: loss }).activations.bytes : 0;
    loss.backward();
    opt.step();
    if (step === 2) {
      console.log(`\nmemory at step 2, after opt.step() (before zeroGrad):\n${memoryReport(model, opt)}`);
      console.log(`activations saved for backward by this step's forward: ${(activations / 1024).toFixed(1)} KiB\n`);
    }
    opt.zeroGrad();
  });
  if (step % 50 === 0) console.log(`step ${String(step).padStart(3)}  validation loss ${valLoss().toFixed(5)}`);
}
const last = valLoss();
console.log(`trained 300 steps in ${((performance.now() - start) / 1000).toFixed(1)} s; loss ${first.toFixed(5)} → ${last.toFixed(5)}`);
if (!(last < first / 10)) throw new Error('LoRA fine-tuning did not reduce the loss tenfold');

const layer0 = model.at(0) as nn.LoRALinear;
console.log(`W0 of layer 0 still frozen: grad = ${layer0.base.weight.grad}, Adam state = ${opt.stateOf(layer0.base.weight) ?? 'none'}`);

// Merge for inference: one matmul per layer, same outputs.
model.eval();
const unmerged = noGrad(() => model.forward(xVal)).dataSync();
for (const m of model.modules()) if (m instanceof nn.LoRALinear) m.merge();
const merged = noGrad(() => model.forward(xVal)).dataSync();
let maxDiff = 0;
for (let i = 0; i < merged.length; i++) maxDiff = Math.max(maxDiff, Math.abs(merged[i]! - unmerged[i]!));
console.log(`merged vs unmerged outputs: max |diff| = ${maxDiff.toExponential(2)}`);
if (!(maxDiff < 1e-4)) throw new Error('merged and unmerged outputs disagree');
