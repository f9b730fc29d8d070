import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InputError } from '../errors.js';
import { compareVersions, formatModelReference, parseModelReference, releaseFileKey } from './reference.js';

test('a model reference is ID or ID@MAJOR.MINOR.PATCH', () => {
  assert.deepEqual(parseModelReference('brain-wm-2d'), { id: 'brain-wm-2d', version: null });
  assert.deepEqual(parseModelReference('brain-wm-2d@1.2.0'), { id: 'brain-wm-2d', version: '1.2.0' });
  assert.deepEqual(parseModelReference('m.v2_x@10.0.12'), { id: 'm.v2_x', version: '10.0.12' });
  assert.equal(formatModelReference('brain-wm-2d', '2.0.0'), 'brain-wm-2d@2.0.0');
  assert.equal(releaseFileKey('brain-wm-2d', '1.2.0', 'model.fp16.onnx'), 'brain-wm-2d@1.2.0/model.fp16.onnx');
  for (const bad of [
    '',
    '@1.2.0',
    'brain-wm-2d@',
    'brain-wm-2d@1.2',
    'brain-wm-2d@v1.2.0',
    'brain-wm-2d@01.2.0',
    'brain-wm-2d@1.2.0-rc1',
    'brain-wm-2d@1.2.0+build',
    'brain-wm-2d@1.2.0@1.2.0',
    'brain wm',
    '../brain-wm-2d',
  ]) {
    assert.throws(
      () => parseModelReference(bad),
      (err: unknown) =>
        err instanceof InputError && err.code === 'bad_model_reference' && /ID@MAJOR\.MINOR\.PATCH/.test(err.message),
      bad,
    );
  }
});

test('versions order numerically, not as text', () => {
  const sorted = ['1.10.0', '1.2.0', '2.0.0', '1.2.10', '0.9.9'].sort(compareVersions);
  assert.deepEqual(sorted, ['0.9.9', '1.2.0', '1.2.10', '1.10.0', '2.0.0']);
  assert.equal(compareVersions('1.2.0', '1.2.0'), 0);
});
