import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deleteKeys, R2_DELETE_MAX_KEYS } from './r2-delete.js';

describe('deleteKeys', () => {
  it('deletes every key in calls of at most 1000, as R2 requires', async () => {
    const calls: number[] = [];
    const deleted = new Set<string>();
    const bucket = {
      delete: async (keys: string | string[]) => {
        const list = typeof keys === 'string' ? [keys] : keys;
        if (list.length > R2_DELETE_MAX_KEYS) throw new Error('R2: too many keys in one delete');
        calls.push(list.length);
        for (const k of list) deleted.add(k);
      },
    };
    const keys = Array.from({ length: 2 * R2_DELETE_MAX_KEYS + 5 }, (_, i) => `chunk/${i}`);
    await deleteKeys(bucket, keys);
    assert.deepEqual(calls, [1000, 1000, 5]);
    assert.equal(deleted.size, keys.length);
    await deleteKeys(bucket, []);
    assert.equal(calls.length, 3, 'no call for no keys');
  });
});
