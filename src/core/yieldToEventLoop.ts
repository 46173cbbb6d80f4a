/**
 * A promise that settles on a later turn of the event loop (a macrotask), not in the current
 * microtask queue. Reads await it, so a training loop that awaits `data()` lets timers, I/O and
 * (in a page) rendering run between steps even when the backend answered synchronously —
 * headless-gl and the CPU backend do, and a chain of resolved promises never yields otherwise.
 * Await it in a long synchronous loop (CPU training in a page) to keep timers and the UI alive.
 *
 * @example
 * for (let step = 0; step < 1000; step++) { trainStep(); if (step % 10 === 0) await yieldToEventLoop(); }
 */
export function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  // Browsers: a MessageChannel message is a macrotask without setTimeout's 4 ms clamp.
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}
