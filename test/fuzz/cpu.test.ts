// The fuzz suite on the 'cpu' entry of the backend matrix (test/matrix.ts).
import { runSuite } from '../suites.js';

runSuite('fuzz', 'cpu');
