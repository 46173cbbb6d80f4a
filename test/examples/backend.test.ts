// The example backend of docs/backends.md (examples/backend/) on its own: its options are checked
// like every backend's, and with checkViews on it refuses a view that reaches outside its storage,
// which a fast backend would read silently. The shared suites run it from test/matrix.ts.
import { describe, expect, it } from 'vitest';
import { TsgradError, initBackend, listBackends, registerBackend, removeBackend } from '../../src/index.js';
import { referencePlugin } from '../../examples/backend/plugin.js';
import { ReferenceBackend } from '../../examples/backend/reference.js';
import { errorOf } from '../errorOf.js';

describe('the reference backend', () => {
  it('refuses unknown options and values before creating anything', async () => {
    if (!listBackends().includes('reference')) registerBackend(referencePlugin);
    removeBackend('reference');
    await expect(initBackend('reference', { checkView: true } as never)).rejects.toThrow("setBackend: unknown reference option 'checkView'; known: checkViews");
    await expect(initBackend('reference', { checkViews: 1 } as never)).rejects.toThrow("setBackend: reference option 'checkViews' must be true or false, got number 1");
    const b = await initBackend('reference', { checkViews: false });
    expect(b.info).toEqual({ checkViews: false });
    removeBackend('reference');
  });

  it('with checkViews, refuses a view outside its storage, naming the primitive', () => {
    const b = new ReferenceBackend();
    const storage = b.upload(Float64Array.from([1, 2, 3, 4]));
    const view = { storage, shape: [2, 2], strides: [3, 1], offset: 0, dtype: 'float64' as const };
    const e = errorOf(() => b.unary('exp', view));
    expect(e).toBeInstanceOf(TsgradError);
    expect(e.message).toBe('reference.exp: the view of shape [2,2], strides [3,1] and offset 0 reads element 4 of a storage of 4');
    // Unchecked, it reads past the end as a typed array does (undefined, so NaN).
    expect(Array.from(new ReferenceBackend({ checkViews: false }).readSync(view))).toEqual([1, 2, 4, NaN]);
  });

  it('reads strided views and broadcasts through stride 0', () => {
    const b = new ReferenceBackend();
    const x = b.upload(Float64Array.from([1, 2, 3, 4, 5, 6]));
    const transposed = { storage: x, shape: [3, 2], strides: [1, 3], offset: 0, dtype: 'float64' as const };
    expect(Array.from(b.readSync(transposed))).toEqual([1, 4, 2, 5, 3, 6]);
    const row = { storage: x, shape: [2, 3], strides: [0, 1], offset: 3, dtype: 'float64' as const };
    expect(Array.from(b.readSync(row))).toEqual([4, 5, 6, 4, 5, 6]);
    expect(b.memory()).toEqual({ buffers: 1, bytes: 48 });
    b.free(x);
    expect(b.memory()).toEqual({ buffers: 0, bytes: 0 });
  });
});
