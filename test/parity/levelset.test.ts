// Parity: curvature flow against an independent vectorised numpy statement of the same scheme
// (test/parity/goldens_levelset.py), started from scipy signed distances of real white-matter masks.
// Tolerance: evolved phi max abs error <= 1e-4 x max |phi| (same input phi). smoothMask starts from
// our f32 signed distance, which differs from scipy's by ~1e-6 mm; a voxel whose |phi| sits on the
// band edge can then fall on the other side of it and change its neighbourhood's evolution, so
// smoothMask must equal numpy's `phi < 0` wherever numpy's |phi| >= 0.05 mm.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { curvatureFlow, smoothMask } from '../../wasm/src/levelset.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import type { Spacing3 } from '../../wasm/src/shape.js';
import { maxAbsDiff } from '../support/compare.js';
import { goldens } from '../support/goldens.js';
import { niftiShape } from '../support/npy.js';

interface LevelsetCase {
  name: string;
  spacing: Spacing3;
  iterations: number;
  band?: number;
  dt?: number;
  mask: string;
  phi: string;
  expected: string;
}

const RELATIVE_TOLERANCE = 1e-4;
const NEAR_ZERO_MM = 0.05;
const g = goldens<LevelsetCase>('levelset');

for (const c of g.cases) {
  test(`curvature flow parity: ${c.name}`, async () => {
    const core = await sharedKernels();
    const phiIn = g.npy(c.phi);
    const shape = niftiShape(phiIn.shape);
    const phi = phiIn.data as Float32Array;
    const expected = g.npy(c.expected).data as Float32Array;
    const tol = RELATIVE_TOLERANCE * Math.max(...Array.from(phi, Math.abs));
    const out = curvatureFlow(core, phi, shape, c.spacing, {
      iterations: c.iterations,
      band: c.band,
      dt: c.dt,
    });
    const err = maxAbsDiff(out, expected);
    assert.ok(err <= tol, `max error ${err} > ${tol}`);
    if (c.band === undefined) {
      const mask = g.npy(c.mask).data as Uint8Array;
      const smooth = smoothMask(core, mask, shape, c.spacing, { iterations: c.iterations });
      for (let i = 0; i < mask.length; i++) {
        if (Math.abs(expected[i]) >= NEAR_ZERO_MM)
          assert.equal(smooth[i], expected[i] < 0 ? 1 : 0, `voxel ${i}`);
      }
    }
  });
}
