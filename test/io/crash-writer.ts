// Child process for the crash tests: saves over one place in a loop, alternating between the two
// versions of crash-versions.ts, until the parent kills it; prints 'ready' after the first save.
//   crash-writer adapter <dir>: saveAdapterDir, lora_alpha 8 and 16 in turn
//   crash-writer state <path>: saveStateDict, all 1s and all 2s in turn
import { io } from '../../src/index.js';
import { versions } from './crash-versions.js';

const [mode, where] = process.argv.slice(2);
const { adapters, models } = versions();
const save = (i: number) => (mode === 'adapter' ? io.saveAdapterDir(adapters[i % 2]!, where!) : io.saveStateDict(where!, models[i % 2]!));
await save(0);
process.stdout.write('ready\n');
for (let i = 1; ; i++) await save(i);
