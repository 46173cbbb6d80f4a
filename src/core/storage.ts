import type { Backend } from './backend.js';

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

const registry = new FinalizationRegistry<StorageRef>((ref) => ref.release());

/** Ties one reference on `ref` to the lifetime of `owner`; returns the token to unregister it. */
export function adopt(owner: object, ref: StorageRef): object {
  ref.retain();
  const token = {};
  registry.register(owner, ref, token);
  return token;
}

export function unadopt(token: object): void {
  registry.unregister(token);
}
