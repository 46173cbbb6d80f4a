import { afterEach } from 'vitest';

// Vitest's worker reports each test to the runner over RPC and gives up on a reply after 60 s,
// but it runs a file's tests back to back without turning the event loop. Tests that only
// compute synchronously (dataSync on the CPU) would hold the loop for the whole file, so a
// long file on a slow machine would fail with "Timeout calling onTaskUpdate". Library reads
// yield on their own (Tensor.data); this covers tests that never read asynchronously.
afterEach(() => new Promise<void>((resolve) => setImmediate(resolve)));
