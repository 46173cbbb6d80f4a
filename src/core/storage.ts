import type { Backend } from './backend.js';
import { creationSite, reportLeak } from './leaks.js';

/**
 * A backend storage shared by a tensor and its views. It is freed when the last tensor using it
 * is disposed (or garbage-collected: a FinalizationRegistry is the safety net).
 */
export class StorageRef {
  private refs = 0;
  /** Bumped by every in-place write, so backward can tell a saved tensor was changed. */
  version = 0;
  constructor(
    readonly backend: Backend,
    readonly storage: unknown,
  ) {}

  get bytes(): number {
    return this.backend.bytes(this.storage);
  }

  get freed(): boolean {
    return this.refs <= 0;
  }

  /** True when more than one tensor uses this storage. */
  get shared(): boolean {
    return this.refs > 1;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) this.backend.free(this.storage);
  }
}

/** A reference tied to a tensor's lifetime; `site` (GPU backends) says where the tensor was made. */
interface Held {
  ref: StorageRef;
  site: string | null;
}

const registry = new FinalizationRegistry<Held>(({ ref, site }) => {
  // Only the last reference frees memory; a view collected beside a live base leaks nothing.
  if (site && !ref.shared && !ref.freed) reportLeak(ref.backend.name, ref.bytes, site);
  ref.release();
});

/** Ties one reference on `ref` to the lifetime of `owner`; returns the token to unregister it. */
export function adopt(owner: object, ref: StorageRef): object {
  ref.retain();
  const token = {};
  // Only GPU (asynchronous) backends pay for the creation site: their memory is the scarce kind.
  registry.register(owner, { ref, site: ref.backend.readSync ? null : creationSite() }, token);
  return token;
}

export function unadopt(token: object): void {
  registry.unregister(token);
}
