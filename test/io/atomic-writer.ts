// Child process for the crash-safety test: writes one large checkpoint over `path`, slowly
// enough to be killed mid-write.
import { full, io } from '../../src/index.js';

const [path, megabytes] = process.argv.slice(2);
await io.saveSafetensors(path!, { w: full([Number(megabytes) * 262144], 2) });
