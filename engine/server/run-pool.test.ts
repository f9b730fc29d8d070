// The run workers on their own, with the real model and brain data: a run's messages come in the
// contract's order; a run stopped half way frees its worker, and the next run on that worker is not
// stopped by the last one's flag; closing the pool stops a run in flight and ends every worker.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fsbBox, tempDir } from '../../test/engine/engine-helpers.js';
import { SHARED_DATA } from '../../test/support/goldens.js';
import { DEFAULT_MODELS_DIR } from '../cli/models-root.js';
import { DEFAULT_READ_LIMITS } from '../io/index.js';
import { DEFAULT_WORK_LIMITS } from '../pipeline/work.js';
import type { FromRunWorker, RunJob } from './run-messages.js';
import { RunPool, type WorkerRun } from './run-pool.js';

const SLICE = new Uint8Array(readFileSync(`${SHARED_DATA}fixtures/mr-aniso/BrainT1Slice.png`));
const config = {
  modelsDir: DEFAULT_MODELS_DIR,
  device: 'cpu' as const,
  threads: 1,
  limits: { ...DEFAULT_READ_LIMITS },
  work: DEFAULT_WORK_LIMITS,
  slabPlanes: 8,
};

const job = (bytes: Uint8Array, format: RunJob['format'] = 'json'): RunJob => ({
  type: 'run',
  model: 'brain-wm-2d',
  format,
  tta: false,
  bytes: bytes.slice(),
  arrivedAt: performance.timeOrigin + performance.now(),
  queuedMs: 0,
});

/** Reads a run to its last message, pulling after each data chunk. */
async function drain(run: WorkerRun, until?: (m: FromRunWorker) => boolean): Promise<FromRunWorker[]> {
  const seen: FromRunWorker[] = [];
  for (;;) {
    const m = await run.next();
    seen.push(m);
    if (m.type === 'data') run.pull();
    if (until?.(m) || m.type === 'end' || m.type === 'failed' || m.type === 'cancelled') return seen;
  }
}

async function sagittalSlab(): Promise<Uint8Array> {
  const box = await fsbBox(tempDir(), 'fsB-pool.nii.gz', [100, 40, 90], [124, 216, 150]);
  return new Uint8Array(readFileSync(box.path));
}

test('a run tells its steps in order; a stopped run frees its worker for a full next run', async () => {
  const pool = new RunPool(1, config);
  try {
    const first = pool.start(job(SLICE));
    const kinds = (await drain(first)).map((m) => (m.type === 'stage' ? `stage:${m.stage}` : m.type));
    assert.deepEqual(
      kinds.filter((k) => k !== 'progress'),
      [
        'stage:reading',
        'runtime',
        'slices',
        'stage:preprocess',
        'stage:predict',
        'stage:postprocess',
        'meta',
        'data',
        'end',
      ],
    );
    await first.settled;

    const stopped = pool.start(job(await sagittalSlab()));
    assert.equal(stopped.worker, first.worker, 'one worker, reused');
    const head = await drain(stopped, (m) => m.type === 'progress' && m.body.stage === 'predict');
    assert.equal(head.at(-1)!.type, 'progress');
    stopped.cancel();
    assert.equal((await drain(stopped)).at(-1)!.type, 'cancelled');
    await stopped.settled;

    const next = pool.start(job(SLICE, 'png'));
    const tail = await drain(next);
    assert.equal(tail.at(-1)!.type, 'end', JSON.stringify(tail.at(-1)));
    assert.ok(tail.some((m) => m.type === 'data' && m.chunk.byteLength > 0));
    await next.settled;
    assert.throws(() => {
      pool.start(job(SLICE));
      pool.start(job(SLICE));
    }, /all 1 run workers are busy/);
  } finally {
    await pool.close();
  }
});

test('closing the pool stops a run in flight and ends every worker', async () => {
  const pool = new RunPool(2, config);
  const quick = pool.start(job(SLICE));
  const busy = pool.start(job(await sagittalSlab()));
  assert.notEqual(quick.worker, busy.worker);
  assert.equal((await drain(quick)).at(-1)!.type, 'end');
  await quick.settled;
  await drain(busy, (m) => m.type === 'progress' && m.body.stage === 'predict');
  await pool.close();
  assert.equal((await drain(busy)).at(-1)!.type, 'cancelled');
  await busy.settled;
  assert.throws(() => pool.start(job(SLICE)), /closed/);
});

test('a cancelled run that does not stop within the grace has its worker terminated and replaced', async () => {
  // A 1 ms grace: the worker is still decoding the volume (one synchronous step, as a hostile
  // input's would be) when the grace ends, so it cannot have seen the stop flag.
  const pool = new RunPool(1, config, 1);
  try {
    const stuck = pool.start(job(await sagittalSlab()));
    stuck.cancel();
    const last = (await drain(stuck)).at(-1)!;
    assert.equal(last.type, 'failed');
    assert.match((last as { cause?: string }).cause ?? '', /the run worker died/);
    await stuck.settled;
    const next = pool.start(job(SLICE));
    assert.notEqual(next.worker, stuck.worker, 'a new worker');
    assert.equal((await drain(next)).at(-1)!.type, 'end');
    await next.settled;
  } finally {
    await pool.close();
  }
});
