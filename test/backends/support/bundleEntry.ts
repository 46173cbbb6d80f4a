// Bundled and minified by cpu-bundle.test.ts, then run in a plain Node: a threaded matmul on each
// CPU path, checked against a triple loop on small integers (exact in float32).
import { getBackendInfo, setBackend, tensor } from '../../../src/index.js';

const [m, k, n] = [120, 100, 130];
const a = Array.from({ length: m * k }, (_, i) => ((i * 7) % 17) - 8);
const b = Array.from({ length: k * n }, (_, i) => ((i * 5) % 13) - 6);
const want: number[] = [];
for (let i = 0; i < m; i++) {
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p]! * b[p * n + j]!;
    want.push(s);
  }
}
const report: Record<string, unknown> = {};
for (const wasm of [true, false]) {
  await setBackend('cpu', { wasm });
  const got = Array.from(tensor(a, { shape: [m, k] }).matmul(tensor(b, { shape: [k, n] })).dataSync());
  report[wasm ? 'wasm' : 'js'] = { ...getBackendInfo('cpu'), exact: got.every((x, i) => x === want[i]) };
}
console.log(JSON.stringify(report));
