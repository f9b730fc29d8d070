// The key format and digests, against Node's own crypto.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { constantTimeEqual, isTenantId, sha256Hex } from './api-key.js';

test('sha256Hex matches node:crypto on ASCII and UTF-8 text', async () => {
  for (const text of ['', 'nsk_0123456789abcdef_secret', 'tenant é ✓']) {
    assert.equal(await sha256Hex(text), createHash('sha256').update(text, 'utf8').digest('hex'));
  }
});

test('constantTimeEqual is plain equality, lengths included', () => {
  const a = 'f'.repeat(64);
  assert.equal(constantTimeEqual(a, a), true);
  assert.equal(constantTimeEqual(a, `${'f'.repeat(63)}e`), false);
  assert.equal(constantTimeEqual(a, a.slice(1)), false);
  assert.equal(constantTimeEqual('', ''), true);
  assert.equal(constantTimeEqual('a', ''), false);
});

test('tenant ids are short lower-case slugs', () => {
  for (const ok of ['acme', 'a', 'tenant-01_x']) assert.equal(isTenantId(ok), true, ok);
  for (const bad of ['', 'Acme', '-x', 'a b', 'x'.repeat(64), 'a/b'])
    assert.equal(isTenantId(bad), false, bad);
});
