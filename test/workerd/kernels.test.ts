// The scipy / scikit-image goldens, run inside workerd on the kernel module exactly as the edge
// router loads it (pre-compiled, 64 MB memory cap). Same tolerances as test/parity: resampling max abs
// error <= 1e-3 (order 3) / 1e-5 (orders 0, 1) of the data range; EDT <= 1e-4 mm; label maps and
// components identical.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Miniflare } from 'miniflare';
import type { Shape3, Spacing3 } from '../../wasm/src/shape.js';
import { dataRange, firstMismatch, maxAbsDiff } from '../support/compare.js';
import { goldens, REPO_ROOT } from '../support/goldens.js';
import { niftiShape } from '../support/npy.js';
import type { ProbeRequest } from './probe-request.js';

let mf: Miniflare;

before(async () => {
  const { startBundledWorker } = await import('./miniflare-bundle.js');
  mf = startBundledWorker(`${REPO_ROOT}test/workerd/probe.wrangler.toml`, `${REPO_ROOT}dist/workerd-probe`);
});

after(async () => {
  await mf?.dispose();
});

const b64 = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');

async function probe(req: Omit<ProbeRequest, 'data'>, data: ArrayBufferView): Promise<Buffer> {
  const res = await mf.dispatchFetch('http://probe/', {
    method: 'POST',
    body: JSON.stringify({ ...req, data: b64(data) }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const { data: out } = (await res.json()) as { data: string };
  return Buffer.from(out, 'base64');
}
const asF32 = (b: Buffer) => new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
const asI32 = (b: Buffer) => new Int32Array(b.buffer, b.byteOffset, b.byteLength / 4);

interface ResampleCase {
  kind: string;
  name: string;
  input: string;
  output: string;
  isSeg: boolean;
  order: 0 | 1 | 3;
  orderZ: 0 | 1 | 3;
  separateZAxis: 0 | 1 | 2 | null;
  shape: Shape3;
  newShape: Shape3;
}

test('resampling goldens in workerd', async () => {
  const g = goldens<ResampleCase>('resample');
  const cases = g.cases.filter((c) => c.kind === 'resample');
  assert.ok(cases.length >= 20);
  for (const c of cases) {
    const input = g.npy(c.input).data;
    const expected = g.npy(c.output).data;
    const options = { order: c.order, orderZ: c.orderZ, separateZAxis: c.separateZAxis };
    const req = { shape: c.shape, newShape: c.newShape, options };
    if (c.isSeg) {
      const out = asI32(await probe({ kernel: 'resample-labels', ...req }, Int32Array.from(input)));
      assert.equal(firstMismatch(out, expected), -1, `${c.name}: label map differs`);
    } else {
      const out = asF32(await probe({ kernel: 'resample', ...req }, input));
      const tol = (c.order === 3 || c.orderZ === 3 ? 1e-3 : 1e-5) * dataRange(input);
      const err = maxAbsDiff(out, expected);
      assert.ok(err <= tol, `${c.name}: max abs error ${err} > ${tol}`);
    }
  }
});

test('EDT and signed distance goldens in workerd', async () => {
  const g = goldens<{ name: string; mask: string; spacing: Spacing3; edt: string; sdf: string }>('edt');
  for (const c of g.cases) {
    const mask = g.npy(c.mask);
    const shape = niftiShape(mask.shape);
    const maskBytes = Uint8Array.from(mask.data, (v) => (v ? 1 : 0));
    const edt = asF32(await probe({ kernel: 'edt', shape, spacing: c.spacing }, maskBytes));
    const expected = g.npy(c.edt).data;
    assert.ok(maxAbsDiff(edt, expected) <= 1e-4, `${c.name}: EDT off by ${maxAbsDiff(edt, expected)} mm`);
    const sdf = asF32(await probe({ kernel: 'signed-distance', shape, spacing: c.spacing }, maskBytes));
    const sdfErr = maxAbsDiff(sdf, g.npy(c.sdf).data);
    assert.ok(sdfErr <= 1e-4, `${c.name}: signed distance off by ${sdfErr} mm`);
  }
});

test('connected-component goldens in workerd', async () => {
  const g = goldens<{ name: string; mask: string; labels: string }>('components');
  for (const c of g.cases) {
    const mask = g.npy(c.mask);
    const out = asI32(
      await probe(
        { kernel: 'components', shape: niftiShape(mask.shape) },
        Uint8Array.from(mask.data, (v) => (v ? 1 : 0)),
      ),
    );
    assert.equal(firstMismatch(out, g.npy(c.labels).data), -1, `${c.name}: labels differ from scipy`);
  }
});
