/**
 * @module
 * Deleting many R2 objects. The binding's `delete(keys)` takes at most 1000 keys a call (R2's limit,
 * as S3's DeleteObjects); Miniflare does not enforce it, so a path that worked locally would fail on
 * Cloudflare for an upload of more than 1000 chunks (found by review).
 */

/** Most keys one `R2Bucket.delete` call takes. */
export const R2_DELETE_MAX_KEYS = 1000;

/** Deletes `keys` from `bucket`, at most {@link R2_DELETE_MAX_KEYS} a call. */
export async function deleteKeys(bucket: Pick<R2Bucket, 'delete'>, keys: string[]): Promise<void> {
  for (let i = 0; i < keys.length; i += R2_DELETE_MAX_KEYS) {
    await bucket.delete(keys.slice(i, i + R2_DELETE_MAX_KEYS));
  }
}
