// The tests' garbage collection, shared with the soak loop in bench/.
export { collectGarbage } from '../bench/gc.js';
