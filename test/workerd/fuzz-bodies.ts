/**
 * Hostile image bodies sent to `POST /v1/segment` (and a few through an upload and a job): mutated
 * NIfTI, absurd dimensions and spacings, compression bombs, mutated PNG/JPEG/DICOM. These may
 * reach a model, so the fuzzer sends them one at a time.
 */
import { gzipSync } from 'node:zlib';
import {
  dicoms,
  dicomWithText,
  dicomWithUs,
  greyPng,
  gzipZeros,
  jpegWithSize,
  mutateNifti,
  niftiOf,
  pngBomb,
  pngWithSize,
  slicePng,
  smallJpeg,
  SMALL_SHAPE,
  smallNifti,
  xrayJpeg,
  zipOf,
  type RandomTools,
} from './fuzz-inputs.js';
import { bearer, ProbeList } from './fuzz-probe.js';

const ACCEPTS = ['application/gzip', 'application/json', 'image/png', '*/*'];

/** Adds the heavy categories to `list`. */
export function heavyProbes(list: ProbeList, r: RandomTools): void {
  const segment = (category: string, what: string, body: Uint8Array) => {
    const accept = r.pick(ACCEPTS);
    list.http(
      category,
      `${what} (${body.byteLength} bytes, Accept ${accept})`,
      (ctx) => ({
        method: 'POST',
        path: '/v1/segment?model=brain-wm-2d',
        headers: { ...bearer(ctx.key), 'content-type': 'application/octet-stream', accept },
        body,
      }),
      true,
    );
  };
  const nifti = smallNifti();
  const data = nifti.subarray(352);
  const crop = `${SMALL_SHAPE.join('x')} crop`;
  const small = niftiOf(nifti, SMALL_SHAPE, [2, 2, 3], data);
  const [ct, mr] = dicoms();

  // Mutated NIfTI: one or three header fields, truncation, bit flips; a fifth sent gzipped.
  for (let n = 0; n < 80; n++) {
    const m = mutateNifti(nifti, r);
    if (r.int(5) === 0) segment('nifti-mutation', `${m.what}, gzipped`, gzipSync(m.body));
    else segment('nifti-mutation', m.what, m.body);
  }

  // Mutated PNG, JPEG and DICOM from the real fixtures.
  const png = slicePng();
  const jpg = smallJpeg();
  const xray = xrayJpeg();
  for (let n = 0; n < 12; n++) {
    const mode = r.int(4);
    if (mode === 0)
      segment(
        'png-mutation',
        `slice PNG, ${1 << r.int(6)} bit flips after IHDR`,
        r.flipBits(png, 1 << r.int(6), 33),
      );
    else if (mode === 1) {
      const [w, h] = [r.pick([0, 1, 181, 65535, 2 ** 31 - 1, 2 ** 32 - 1]), r.pick([0, 1, 217, 65535])];
      segment('png-mutation', `slice PNG, IHDR says ${w}x${h}`, pngWithSize(png, w, h));
    } else if (mode === 2) {
      const at = r.int(png.length);
      segment('png-mutation', `slice PNG truncated at ${at}`, png.slice(0, at));
    } else {
      const [w, h] = [r.pick([1, 3, 1000, 20_000]), r.pick([1, 7, 1000])];
      segment('png-mutation', `grey PNG ${w}x${h}`, greyPng(w, h));
    }
  }
  for (let n = 0; n < 12; n++) {
    const mode = r.int(3);
    if (mode === 0)
      segment(
        'jpeg-mutation',
        `64x64 X-ray JPEG, ${1 << r.int(6)} bit flips`,
        r.flipBits(jpg, 1 << r.int(6), 20),
      );
    else if (mode === 1) {
      const [w, h] = [r.pick([0, 1, 64, 65535]), r.pick([0, 1, 65535])];
      const big = r.int(2) === 1;
      segment(
        'jpeg-mutation',
        `${big ? '512x512' : '64x64'} X-ray JPEG, SOF says ${w}x${h}`,
        jpegWithSize(big ? xray : jpg, w, h),
      );
    } else {
      const at = r.int(jpg.length);
      segment('jpeg-mutation', `64x64 X-ray JPEG truncated at ${at}`, jpg.slice(0, at));
    }
  }
  const dicomCases: [string, (b: Uint8Array) => Uint8Array][] = [
    ['rows 0', (b) => dicomWithUs(b, 0x28, 0x10, 0)],
    ['rows 65535', (b) => dicomWithUs(b, 0x28, 0x10, 65535)],
    ['columns 65535', (b) => dicomWithUs(b, 0x28, 0x11, 65535)],
    ['bits allocated 0', (b) => dicomWithUs(b, 0x28, 0x100, 0)],
    ['bits allocated 7', (b) => dicomWithUs(b, 0x28, 0x100, 7)],
    ['bits allocated 64', (b) => dicomWithUs(b, 0x28, 0x100, 64)],
    ['samples per pixel 3', (b) => dicomWithUs(b, 0x28, 0x02, 3)],
    ['pixel spacing 0\\0', (b) => dicomWithText(b, 0x28, 0x30, '0\\0')],
    ['pixel spacing -1\\-1', (b) => dicomWithText(b, 0x28, 0x30, '-1\\-1')],
    ['pixel spacing NaN\\NaN', (b) => dicomWithText(b, 0x28, 0x30, 'NaN\\NaN')],
    ['pixel spacing 1e30\\1e30', (b) => dicomWithText(b, 0x28, 0x30, '1e30\\1e30')],
    ['pixel spacing 196608\\196608', (b) => dicomWithText(b, 0x28, 0x30, '196608\\196608')],
    ['truncated by half', (b) => b.slice(0, b.length >> 1)],
    ['truncated after the preamble', (b) => b.slice(0, 140)],
  ];
  for (const [what, mutate] of dicomCases) {
    const [name, file] = r.int(2) ? ['CT', ct] : ['MR', mr];
    let body: Uint8Array;
    try {
      body = mutate(file);
    } catch {
      body = mutate(name === 'CT' ? mr : ct);
    }
    segment('dicom-mutation', `${name} DICOM, ${what}`, body);
  }
  for (let n = 0; n < 8; n++) {
    const file = r.pick([ct, mr]);
    const flips = r.pick([1, 8, 64]);
    segment('dicom-mutation', `DICOM, ${flips} bit flips after the preamble`, r.flipBits(file, flips, 128));
  }

  // The same kind of input through an upload and a job: it must end, failed or succeeded, in time.
  const jobBodies: [string, Uint8Array][] = [
    ['truncated NIfTI', nifti.slice(0, 1000)],
    ['NIfTI with datatype 0', withDatatype0(small)],
    ['NIfTI with NaN spacing', niftiOf(nifti, SMALL_SHAPE, [NaN, 2, 3], data)],
    [`${crop} at z spacing 196608`, niftiOf(nifti, SMALL_SHAPE, [2, 2, 196608], data)],
  ];
  for (const [what, body] of jobBodies)
    list.add('job-input', `upload + job: ${what}`, { kind: 'job', body }, true);

  // Absurd dimensions: declared far beyond the data sent.
  const dims: number[][] = [
    [0, 32, 8],
    [-1, 32, 8],
    [32767, 32767, 32767],
    [32767, 1, 1],
    [1, 1, 32767],
    [-32768, 4, 4],
    [1, 1, 1],
    [512, 512, 1024],
  ];
  for (const shape of dims)
    segment(
      'absurd-dims',
      `dims [${shape}] with 8 KiB of data`,
      niftiOf(nifti, shape, [2, 2, 3], new Uint8Array(8192)),
    );
  // The 255 KB body: 512x512x1024 zeros at 1 mm, gzipped.
  segment(
    'absurd-dims',
    'dims [512,512,1024] of zeros at 1 mm, gzipped',
    gzipZeros(niftiOf(nifti, [512, 512, 1024], [1, 1, 1]), 512 * 512 * 1024),
  );
  segment(
    'absurd-dims',
    'dims [512,512,64] of zeros at 2x2x3 mm, gzipped',
    gzipZeros(niftiOf(nifti, [512, 512, 64], [2, 2, 3]), 512 * 512 * 64),
  );

  // Absurd spacings on the real crop, axis by axis.
  const spacings = [0, -1, NaN, Infinity, 1e-30, 1e30, 196608, 65535, 300];
  for (const s of spacings) {
    const axis = r.int(3);
    const spacing = [2, 2, 3];
    spacing[axis] = s;
    segment('absurd-spacing', `${crop}, spacing[${axis}]=${s}`, niftiOf(nifti, SMALL_SHAPE, spacing, data));
  }
  segment(
    'absurd-spacing',
    `${crop} at 196608 mm on every axis`,
    niftiOf(nifti, SMALL_SHAPE, [196608, 196608, 196608], data),
  );
  segment(
    'absurd-spacing',
    '64x64x8 zeros at 16x16x1 mm (small enough for the edge)',
    niftiOf(nifti, [64, 64, 8], [16, 16, 1], new Uint8Array(64 * 64 * 8)),
  );
  segment(
    'absurd-spacing',
    `${crop} at 1e-3 mm in-plane`,
    niftiOf(nifti, SMALL_SHAPE, [1e-3, 1e-3, 3], data),
  );

  // Bombs: small compressed bodies that expand hugely.
  segment('bomb', `gzip: ${crop} NIfTI followed by 1 GiB of zeros (64 members)`, gzipZeros(small, 2 ** 30));
  segment(
    'bomb',
    `gzip: ${crop} NIfTI followed by 2 GiB of zeros (128 members)`,
    gzipZeros(small, 2 * 2 ** 30),
  );
  segment('bomb', 'gzip inside gzip (NIfTI gzipped twice)', gzipSync(gzipSync(small)));
  segment('bomb', 'gzip of 64 MiB zeros that is not NIfTI', gzipZeros(new Uint8Array(0), 64 * 2 ** 20));
  segment('bomb', 'PNG declaring 65535x65535 with a 1 KiB IDAT', pngBomb(65535, 65535, 1024));
  segment('bomb', 'PNG 8192x8192 grey whose IDAT inflates to 64 MiB', pngBomb(8192, 8192, 8192 * 8193));
  segment('bomb', 'PNG 64x64 whose IDAT inflates to 128 MiB', pngBomb(64, 64, 128 * 2 ** 20));
  segment('bomb', 'zip of one 64 MiB zero entry', zipOf({ 'a.dcm': new Uint8Array(64 * 2 ** 20) }));
  segment(
    'bomb',
    'zip of 500 copies of the MR DICOM',
    zipOf(Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`s/${i}.dcm`, mr]))),
  );
  segment('bomb', 'zip inside zip (DICOM series)', zipOf({ 'inner.zip': zipOf({ 'a.dcm': ct }) }));
  segment('bomb', 'zip with ../ entry names', zipOf({ '../../etc/a.dcm': ct, '/abs/b.dcm': mr }));
  segment('bomb', 'zip with a lying uncompressed size', lyingZip(zipOf({ 'a.dcm': ct })));
}

function withDatatype0(nifti: Uint8Array): Uint8Array {
  const out = nifti.slice();
  out[70] = 0;
  out[71] = 0;
  return out;
}

/** Sets every size field of a zip (local and central headers) to 0xffffffff. */
function lyingZip(zip: Uint8Array): Uint8Array {
  const out = zip.slice();
  const v = new DataView(out.buffer);
  for (let i = 0; i + 30 < out.length; i++) {
    const sig = v.getUint32(i, true);
    if (sig === 0x04034b50) v.setUint32(i + 22, 0xffffffff, true);
    if (sig === 0x02014b50) v.setUint32(i + 24, 0xffffffff, true);
  }
  return out;
}
