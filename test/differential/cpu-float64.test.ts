// The differential suite on the 'cpu-float64' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('differential', 'cpu-float64');
