// What the Worker reads of an input before admission: a one-shot's DICOM header only from its
// first bytes (the isolate's heap), and the voxels a request can be charged for, held against the
// budget: the declared shape's, or the work bounds' most when the header cannot be read.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { maxVoxelsWithin, type ModelManifest } from '../../engine/edge.js';
import { readConfig } from '../config.js';
import { bodyGeometry, bodyVoxelBound, HEADER_PREFIX_BYTES, reserveWork } from './work-check.js';

const fixture = (path: string) =>
  new Uint8Array(readFileSync(new URL(`../../../../shared/data/fixtures/${path}`, import.meta.url)));
const CT = fixture('dicom/CT_small.dcm');
const SLICE = fixture('mr-aniso/BrainT1Slice.png');
const manifest = JSON.parse(
  readFileSync(new URL('../../../models/brain-wm-2d/manifest.json', import.meta.url), 'utf8'),
) as ModelManifest;

/** CT_small with a private OB element of `bytes` right after its meta group: its header grows. */
function withLongHeader(bytes: number): Uint8Array {
  const metaEnd = 132 + 12 + new DataView(CT.buffer, CT.byteOffset).getUint32(140, true);
  const element = new Uint8Array(12 + bytes);
  const dv = new DataView(element.buffer);
  dv.setUint16(0, 0x0009, true);
  dv.setUint16(2, 0x1010, true);
  element.set([0x4f, 0x42], 4); // OB
  dv.setUint32(8, bytes, true);
  return Uint8Array.from([...CT.subarray(0, metaEnd), ...element, ...CT.subarray(metaEnd)]);
}

describe('bodyGeometry', () => {
  it('reads a PNG and a small DICOM whole', () => {
    assert.deepEqual(bodyGeometry(SLICE)?.shape, [181, 217, 1]);
    assert.deepEqual(bodyGeometry(CT)?.shape, [128, 128, 1]);
  });

  it('reads a DICOM from its first HEADER_PREFIX_BYTES only: past them it is unknown, for a node', () => {
    assert.deepEqual(bodyGeometry(withLongHeader(1000))?.shape, [128, 128, 1], 'a private element is fine');
    // A header within the prefix whose pixels run past it (any real slice over 64 KiB): known.
    const crossing = withLongHeader(40_000);
    assert.ok(crossing.length > HEADER_PREFIX_BYTES);
    assert.deepEqual(bodyGeometry(crossing)?.shape, [128, 128, 1]);
    // The same header grown past the prefix: the Worker does not parse the rest.
    assert.equal(bodyGeometry(withLongHeader(HEADER_PREFIX_BYTES)), null);
  });
});

describe('reserveWork', () => {
  const config = readConfig({});
  it("holds the declared shape's voxels, or the work bounds' most when the header is unread", () => {
    const known = reserveWork(config, manifest, bodyGeometry(SLICE), { tta: true });
    assert.equal(known.chargeVoxels, 181 * 217);
    const unknown = reserveWork(config, manifest, null, { tta: true });
    assert.equal(unknown.chargeVoxels, maxVoxelsWithin(config.work));
    assert.equal(unknown.evaluations, config.work.maxEvaluations);
    // A zip's declared slice bytes bound it (at least one a voxel), never above the work bounds' most.
    const zip = zipSync({ 'series/ct.dcm': CT });
    assert.equal(bodyVoxelBound(zip), CT.length);
    assert.equal(bodyVoxelBound(CT), null, 'not a zip');
    // A DICOM file whose free preamble starts like a zip, with a small directory appended claiming
    // one 1-byte slice: the reader takes it as DICOM, so must the Worker (its shape, not 1 voxel).
    const polyglot = Uint8Array.from([
      ...CT,
      ...zipSync({ 'a.dcm': new Uint8Array(1) }, { level: 0 }).subarray(0),
    ]);
    polyglot.set([0x50, 0x4b, 0x03, 0x04], 0);
    assert.equal(bodyVoxelBound(polyglot), null);
    assert.deepEqual(bodyGeometry(polyglot)?.shape, [128, 128, 1]);
    assert.equal(
      reserveWork(config, manifest, null, { tta: true }, bodyVoxelBound(zip)).chargeVoxels,
      CT.length,
    );
    assert.equal(
      reserveWork(config, manifest, null, { tta: true }, 1e15).chargeVoxels,
      maxVoxelsWithin(config.work),
    );
  });
});
