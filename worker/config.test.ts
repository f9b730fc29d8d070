import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readConfig } from './config.js';

const MiB = 2 ** 20;
const PRICES =
  '{"currency": "EUR", "models": {"brain-wm-2d": {"base_micros": 5, "per_megavoxel_micros": 7}}}';

describe('readConfig', () => {
  it('gives the documented defaults for unset and empty vars', () => {
    for (const env of [
      {},
      { MAX_BODY_BYTES: '', EDGE_MAX_VOXELS: '', INFERENCE_NODES: '', NODE_TOKEN: '' },
    ]) {
      assert.deepEqual(readConfig(env), {
        maxBodyBytes: 32 * MiB,
        maxChunkBytes: 8 * MiB,
        maxUploadBytes: 2 * 2 ** 30,
        uploadTtlSeconds: 86_400,
        resultTtlSeconds: 86_400,
        maxJobSeconds: 900,
        maxConcurrentJobs: 4,
        inferenceNodes: [],
        nodeToken: undefined,
        defaultPrices: null,
        edgeMaxVoxels: 262_144,
        work: { maxEvaluations: 32_768, maxPeakBytes: 2048 * MiB },
        maxTenantEvaluations: 131_072,
        edgeWork: { maxEvaluations: 64, maxPeakBytes: 48 * MiB },
        oneShotSeconds: 120,
      });
    }
  });

  it('reads every var, memory bounds in MiB', () => {
    const config = readConfig({
      MAX_BODY_BYTES: '1000',
      MAX_CHUNK_BYTES: '1000',
      MAX_UPLOAD_BYTES: '5000',
      UPLOAD_TTL_SECONDS: '60',
      RESULT_TTL_SECONDS: '61',
      MAX_JOB_SECONDS: '62',
      MAX_CONCURRENT_JOBS: '1',
      EDGE_MAX_VOXELS: '0',
      MAX_EVALUATIONS: '10',
      MAX_WORK_MEMORY_MB: '3',
      MAX_TENANT_EVALUATIONS: '20',
      EDGE_MAX_EVALUATIONS: '2',
      EDGE_MAX_MEMORY_MB: '1',
      ONE_SHOT_SECONDS: '5',
      NODE_TOKEN: 's3cret',
      DEFAULT_PRICES: PRICES,
      INFERENCE_NODES: 'http://127.0.0.1:8788',
    });
    assert.equal(config.maxBodyBytes, 1000);
    assert.equal(config.maxChunkBytes, 1000);
    assert.equal(config.maxUploadBytes, 5000);
    assert.deepEqual(
      [config.uploadTtlSeconds, config.resultTtlSeconds, config.maxJobSeconds, config.oneShotSeconds],
      [60, 61, 62, 5],
    );
    assert.equal(config.maxConcurrentJobs, 1);
    assert.equal(config.edgeMaxVoxels, 0, 'EDGE_MAX_VOXELS=0 turns edge runs off');
    assert.deepEqual(config.work, { maxEvaluations: 10, maxPeakBytes: 3 * MiB });
    assert.equal(config.maxTenantEvaluations, 20);
    assert.deepEqual(config.edgeWork, { maxEvaluations: 2, maxPeakBytes: 1 * MiB });
    assert.equal(config.nodeToken, 's3cret');
    assert.deepEqual(config.defaultPrices, JSON.parse(PRICES));
  });

  it('takes decimal integers with surrounding blanks', () => {
    assert.equal(readConfig({ MAX_JOB_SECONDS: ' 30 ' }).maxJobSeconds, 30);
    assert.equal(readConfig({ MAX_JOB_SECONDS: '007' }).maxJobSeconds, 7);
  });

  it('refuses anything but a positive decimal integer, naming the var and the value', () => {
    for (const bad of [
      '0',
      '-1',
      '1.5',
      'abc',
      '12abc',
      '0x10',
      '1e3',
      ' ',
      'Infinity',
      '9007199254740993',
    ]) {
      assert.throws(
        () => readConfig({ MAX_CONCURRENT_JOBS: bad }),
        { name: 'RangeError', message: `MAX_CONCURRENT_JOBS must be a positive integer, got '${bad}'` },
        JSON.stringify(bad),
      );
    }
  });

  it('lets EDGE_MAX_VOXELS be 0 but not negative or blank', () => {
    assert.equal(readConfig({ EDGE_MAX_VOXELS: '0' }).edgeMaxVoxels, 0);
    for (const bad of ['-1', ' ', '\t']) {
      assert.throws(() => readConfig({ EDGE_MAX_VOXELS: bad }), {
        name: 'RangeError',
        message: `EDGE_MAX_VOXELS must be a non-negative integer, got '${bad}'`,
      });
    }
  });

  it('refuses a chunk larger than the body cap, as a PATCH could never carry it', () => {
    assert.throws(() => readConfig({ MAX_BODY_BYTES: '1000', MAX_CHUNK_BYTES: '1001' }), {
      name: 'RangeError',
      message: 'MAX_CHUNK_BYTES exceeds MAX_BODY_BYTES',
    });
    assert.throws(() => readConfig({ MAX_BODY_BYTES: String(4 * MiB) }), /MAX_CHUNK_BYTES exceeds/);
  });

  it('reads INFERENCE_NODES as origins, dropping blanks and trailing slashes, in order', () => {
    assert.deepEqual(
      readConfig({ INFERENCE_NODES: ' https://a.example , http://10.0.0.2:8788/,,http://b//' })
        .inferenceNodes,
      ['https://a.example', 'http://10.0.0.2:8788', 'http://b'],
    );
    for (const bad of ['ftp://a.example', 'a.example', 'http://a.example/v1', 'http://', 'http://a b']) {
      assert.throws(() => readConfig({ INFERENCE_NODES: `http://ok,${bad}` }), {
        name: 'RangeError',
        message: /^INFERENCE_NODES: '.+' is not an http\(s\) origin$/,
      });
    }
  });

  it('refuses a DEFAULT_PRICES that is not a valid price table', () => {
    assert.throws(() => readConfig({ DEFAULT_PRICES: '{"currency": "USD"' }), SyntaxError);
    assert.throws(
      () =>
        readConfig({
          DEFAULT_PRICES:
            '{"currency": "USD", "models": {"m": {"base_micros": -1, "per_megavoxel_micros": 0}}}',
        }),
      RangeError,
    );
  });
});
