// The fuzz suite on the CPU backend (every run, every machine).
import { defineFuzz } from './suite.js';

defineFuzz('cpu', { numRuns: 4000 });
