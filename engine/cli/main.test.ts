// The CLI end to end, in-process, on shared data: every subcommand's output is read back and checked,
// and bad input gives a clear message with a non-zero exit.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, SHARED_DATA } from '../../test/support/goldens.js';
import { nonzeroMask } from '../../wasm/src/crop.js';
import { sharedKernels } from '../../wasm/src/node-loader.js';
import { readImage } from '../io/index.js';
import { COMMANDS, runCli } from './main.js';

const T1 = `${SHARED_DATA}fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz`; // 128x128x62, 2x2x3 mm
const SEG = `${SHARED_DATA}fixtures/mr-aniso/KmeansTest_T1KmeansPrelimSegmentation.nii.gz`;
const BRAIN = `${SHARED_DATA}brain-wm/imagesTr/fsB_0000.nii.gz`;
const tmp = mkdtempSync(join(tmpdir(), 'nnsam-cli-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: (t) => (out += t), stderr: (t) => (err += t), isTTY: false });
  return { code, out, err };
}

async function json<T>(...argv: string[]): Promise<T> {
  const r = await cli(...argv, '--json');
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as T;
}

const readBack = (path: string) => readImage(new Uint8Array(readFileSync(path)), { name: path });

test('every subcommand has --help', async () => {
  for (const c of COMMANDS) {
    const r = await cli(c.name, '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, new RegExp(`usage: nnsam ${c.name}`));
  }
  const top = await cli('--help');
  assert.equal(top.code, 0);
  for (const c of COMMANDS) assert.match(top.out, new RegExp(`\\b${c.name}\\b`));
});

test('info reports the geometry of a shared volume', async () => {
  const info = await json<{
    shape: number[];
    spacing: number[];
    datatype: string;
    orientation: string;
    affine: number[][];
  }>('info', BRAIN);
  assert.deepEqual(info.shape, [256, 256, 256]);
  assert.deepEqual(info.spacing, [1, 1, 1]);
  assert.equal(info.orientation.length, 3);
  assert.equal(info.affine.length, 4);
});

test('resample follows round(old/new*shape) and separates z on anisotropic input', async () => {
  const out = join(tmp, 'res.nii.gz');
  // 2x2x3 mm -> 2x2x6.5 mm: the target's anisotropy (3.25 > 3) makes k the separately resampled axis.
  const r = await json<{ new_shape: number[]; separate_z_axis: number | null }>(
    'resample',
    T1,
    out,
    '--spacing',
    '2,2,6.5',
  );
  assert.deepEqual(r.new_shape, [128, 128, Math.round((3 / 6.5) * 62)]);
  assert.equal(r.separate_z_axis, 2);
  const img = readBack(out);
  assert.deepEqual(img.shape, r.new_shape);
  const lbl = join(tmp, 'res-label.nii.gz');
  await json('resample', SEG, lbl, '--spacing', '4,4,3', '--label');
  const labels = new Set(readBack(lbl).data);
  for (const v of labels) assert.ok(Number.isInteger(v), 'label resampling keeps integer labels');
  assert.ok(labels.size > 2);
});

test('normalize zscore with mask gives zero mean and unit std inside the mask', async () => {
  const out = join(tmp, 'norm.nii.gz');
  await json('normalize', BRAIN, out, '--scheme', 'zscore', '--use-mask');
  const src = readBack(BRAIN);
  const mask = nonzeroMask(await sharedKernels(), [src.data], src.shape);
  const img = readBack(out);
  let n = 0;
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < img.data.length; i++) {
    if (mask[i] === 0) {
      assert.equal(img.data[i], 0, 'voxels outside the hole-filled non-zero mask stay 0');
      continue;
    }
    n++;
    s += img.data[i];
    s2 += img.data[i] ** 2;
  }
  assert.ok(Math.abs(s / n) < 1e-3);
  assert.ok(Math.abs(Math.sqrt(s2 / n - (s / n) ** 2) - 1) < 1e-3);
});

test('crop prints the bounding box and writes the cropped volume', async () => {
  const out = join(tmp, 'crop.nii.gz');
  const r = await json<{ bbox: { start: number[]; end: number[] }; cropped_shape: number[] }>(
    'crop',
    BRAIN,
    out,
  );
  assert.deepEqual(readBack(out).shape, r.cropped_shape);
  assert.ok(r.cropped_shape.every((n, i) => n < 256 && n === r.bbox.end[i] - r.bbox.start[i]));
});

test('edt, components, smooth and metrics on a real label map', async () => {
  const wm = join(tmp, 'wm.nii.gz');
  await json('resample', `${SHARED_DATA}brain-wm/labelsTr/fsA.nii.gz`, wm, '--spacing', '3,3,3', '--label');
  const edt = await json<{ max_mm: number; min_mm: number }>('edt', wm, join(tmp, 'edt.nii.gz'));
  assert.equal(edt.min_mm, 0);
  assert.ok(edt.max_mm >= 3);
  const sdf = await json<{ max_mm: number; min_mm: number }>('edt', wm, join(tmp, 'sdf.nii.gz'), '--signed');
  assert.ok(sdf.min_mm < 0 && sdf.max_mm > 0);
  const cc = await json<{ count: number; sizes: number[] }>('components', wm, join(tmp, 'cc.nii.gz'));
  assert.equal(cc.sizes.length, cc.count);
  const largest = join(tmp, 'largest.nii.gz');
  await json('components', wm, largest, '--largest');
  const kept = readBack(largest).data.reduce((a, b) => a + b, 0);
  assert.equal(kept, Math.max(...cc.sizes));
  const smooth = join(tmp, 'smooth.nii.gz');
  const sm = await json<{ voxels_changed: number }>('smooth', wm, smooth, '--iterations', '5');
  assert.ok(sm.voxels_changed > 0);
  const self = await json<Record<string, { dice: number; asd_mm: number; hd95_mm: number }>>(
    'metrics',
    wm,
    wm,
  );
  assert.deepEqual(self['1'], { dice: 1, asd_mm: 0, hd95_mm: 0 });
  const vs = await json<Record<string, { dice: number; asd_mm: number }>>(
    'metrics',
    smooth,
    wm,
    '--labels',
    '1',
  );
  assert.ok(vs['1'].dice > 0.8 && vs['1'].dice < 1);
  assert.ok(vs['1'].asd_mm > 0);
});

test('bad input: clear errors and non-zero exits', async () => {
  const garbage = join(tmp, 'garbage.nii');
  writeFileSync(garbage, Buffer.from('this is not an image at all, not even close'));
  const cases: [string[], number, RegExp][] = [
    [['nope'], 2, /unknown command/],
    [['info'], 2, /takes 1 argument/],
    [['info', join(tmp, 'missing.nii.gz')], 1, /file_not_found/],
    [['info', garbage], 1, /error \[/],
    [['resample', T1, join(tmp, 'x.nii')], 2, /--spacing is required/],
    [['resample', T1, join(tmp, 'x.nii'), '--spacing', '1,1'], 2, /3 comma-separated/],
    [['resample', T1, join(tmp, 'x.nii'), '--spacing', '1,1,1', '--order', '2'], 2, /--order must be one of/],
    [['normalize', T1, join(tmp, 'x.nii'), '--scheme', 'ct'], 2, /--ct-stats is required/],
    [['smooth', SEG, join(tmp, 'x.nii'), '--iterations', '-3'], 2, /--iterations/],
    [['metrics', T1, BRAIN], 1, /shape_mismatch/],
    [['edt', T1, join(tmp, 'no-such-dir', 'x.nii')], 1, /write_failed/],
    // Removed in issue 13: the reason, not "unknown option", and nothing runs.
    [
      ['segment', BRAIN, '-o', join(tmp, 'x.nii.gz'), '--model', 'brain-wm-2d', '--refine'],
      2,
      /--refine was removed/,
    ],
  ];
  for (const [argv, code, message] of cases) {
    const r = await cli(...argv);
    assert.equal(r.code, code, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, message, argv.join(' '));
  }
});

test('no command writes over its input or names one output file twice; the files stay as they were', async () => {
  const scan = join(tmp, 'victim.nii.gz');
  copyFileSync(T1, scan);
  const link = join(tmp, 'victim-link.nii.gz');
  symlinkSync(scan, link);
  const before = readFileSync(scan);
  const seg = ['--model', 'brain-wm-2d', '--no-tta'];
  const cases: [string[], RegExp][] = [
    [['segment', scan, '-o', scan, ...seg], /is the input/],
    [['segment', scan, '-o', join(tmp, 'fine.nii.gz'), '--stats', scan, ...seg], /is the input/],
    [['segment', scan, '-o', join(tmp, 'fine.nii.gz'), '--probabilities', link, ...seg], /is the input/],
    [
      ['segment', scan, '-o', join(tmp, 'a.nii.gz'), '--stats', join(tmp, 'a.nii.gz'), ...seg],
      /same output file/,
    ],
    [['resample', scan, link, '--spacing', '2,2,2'], /is the input/],
    [['crop', link, join(tmp, '.', 'victim.nii.gz')], /is the input/],
    [['smooth', scan, scan], /is the input/],
  ];
  for (const [argv, message] of cases) {
    const r = await cli(...argv);
    assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
    assert.match(r.err, message, argv.join(' '));
  }
  assert.deepEqual(readFileSync(scan), before);
  // A file of an input folder (a DICOM series) is the input too; a new file beside the series is not.
  const dir = mkdtempSync(join(tmp, 'series-'));
  const series = join(REPO_ROOT, 'test/fixtures/dicom/series');
  for (const name of readdirSync(series)) copyFileSync(join(series, name), join(dir, name));
  const slice = join(dir, readdirSync(series)[0]);
  const inFolder = await cli('segment', dir, '-o', join(tmp, 'series.nii.gz'), '--stats', slice, ...seg);
  assert.equal(inFolder.code, 2, inFolder.err);
  assert.match(inFolder.err, /a file of the input folder/);
  assert.equal((await cli('segment', dir, '-o', join(dir, 'labels.nii.gz'), ...seg)).code, 0);
});

test('segment reads a folder of DICOM files and links to them, passing over sub-folders and hidden files; a dangling link is an error', async () => {
  const dir = mkdtempSync(join(tmp, 'series-'));
  const series = join(REPO_ROOT, 'test/fixtures/dicom/series');
  // Half copied, half linked (git-annex and PACS caches link their files).
  readdirSync(series).forEach((name, i) =>
    i % 2
      ? symlinkSync(join(series, name), join(dir, name))
      : copyFileSync(join(series, name), join(dir, name)),
  );
  mkdirSync(join(dir, 'thumbnails'));
  writeFileSync(join(dir, '.DS_Store'), 'Bud1 not DICOM');
  const out = join(tmp, 'series-labels.nii.gz');
  const r = await cli('segment', dir, '-o', out, '--model', 'brain-wm-2d', '--no-tta');
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(readBack(out).shape, [48, 40, 6]);
  // A link to a file that is not there (git-annex, not fetched) is a missing slice, not nothing.
  symlinkSync(join(tmp, 'no-such-file.dcm'), join(dir, 'img_999.dcm'));
  const missing = await cli('segment', dir, '-o', out, '--model', 'brain-wm-2d', '--no-tta');
  assert.equal(missing.code, 1, missing.err);
  assert.match(missing.err, /dicom_missing_file.*img_999\.dcm.*git annex get/);
  rmSync(join(dir, 'img_999.dcm'));
  // A file that is not DICOM, not hidden, is the series' error, named, with a non-zero exit.
  writeFileSync(join(dir, 'readme.txt'), 'notes');
  const bad = await cli('segment', dir, '-o', out, '--model', 'brain-wm-2d', '--no-tta');
  assert.equal(bad.code, 1, bad.err);
  assert.match(bad.err, /dicom_bad_magic/);
});
