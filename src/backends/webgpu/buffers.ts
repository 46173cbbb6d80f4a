/** A tensor storage on the GPU: a (pooled, maybe larger) buffer holding `size` 32-bit elements. */
export class GPUStorage {
  constructor(
    readonly buffer: GPUBuffer,
    readonly size: number,
  ) {}
}

/**
 * Rounds a byte size up to its size class: multiples of 256 bytes up to 4 KiB, then four
 * classes per power of two, so a pooled buffer wastes at most a quarter of itself.
 */
export function sizeClass(bytes: number): number {
  if (bytes <= 4096) return Math.max(256, Math.ceil(bytes / 256) * 256);
  const step = 2 ** (Math.floor(Math.log2(bytes - 1)) - 2);
  return Math.ceil(bytes / step) * step;
}

/**
 * Free GPU buffers kept for reuse, keyed by size class and usage (as in tfjs's buffer manager).
 * Creating a buffer is far slower than reusing one, and training steps allocate the same sizes
 * every step.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>();
  /** Buffers and bytes held by the pool (not in use by any storage). */
  buffers = 0;
  bytes = 0;

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(`${size}|${usage}`);
    const reused = list?.pop();
    if (reused) {
      this.buffers--;
      this.bytes -= size;
      return reused;
    }
    return this.device.createBuffer({ size, usage });
  }

  /** Returns a buffer no pending or future work will read as its previous contents. */
  release(buffer: GPUBuffer): void {
    const key = `${buffer.size}|${buffer.usage}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
    this.buffers++;
    this.bytes += buffer.size;
  }

  /** Destroys every pooled buffer (device memory goes back to the driver). */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.buffers = 0;
    this.bytes = 0;
  }
}

/**
 * Per-dispatch metadata (shapes, strides, offsets) packed into one uniform buffer per batch of
 * dispatches. Each dispatch binds its own aligned slice; the whole arena is written with one
 * `writeBuffer` right before the batch is submitted. Reusing the arena for the next batch is
 * safe: that write is ordered after the previous submit on the queue.
 */
export class UniformArena {
  readonly buffer: GPUBuffer;
  private readonly data: Uint32Array;
  private used = 0;

  constructor(
    device: GPUDevice,
    private readonly align: number,
    readonly capacity = 64 * 1024,
  ) {
    this.buffer = device.createBuffer({ size: capacity, usage: 0x40 | 0x8 /* UNIFORM | COPY_DST */ });
    this.data = new Uint32Array(capacity / 4);
  }

  /** Room for a slice of `bytes` in the current batch? */
  fits(bytes: number): boolean {
    return this.used + bytes <= this.capacity;
  }

  /** Copies `words` into a fresh slice of `bytes` and returns its byte offset. */
  push(words: ArrayLike<number>, bytes: number): number {
    const offset = this.used;
    this.data.fill(0, offset / 4, (offset + bytes) / 4);
    this.data.set(words, offset / 4);
    this.used += Math.ceil(bytes / this.align) * this.align;
    return offset;
  }

  get empty(): boolean {
    return this.used === 0;
  }

  /** Uploads the batch's slices; call right before submitting the batch. */
  upload(queue: GPUQueue): void {
    if (this.used) queue.writeBuffer(this.buffer, 0, this.data.buffer, 0, this.used);
    this.used = 0;
  }

  destroy(): void {
    this.buffer.destroy();
  }
}
