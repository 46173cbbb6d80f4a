// The soak suite on the 'webgpu' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('soak', 'webgpu');
