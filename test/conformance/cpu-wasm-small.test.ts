// The conformance suite on the 'cpu-wasm-small' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('conformance', 'cpu-wasm-small');
