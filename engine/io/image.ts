/**
 * @module
 * The common result of every reader. Conventions (shared with the kernels):
 * - `shape` is `[nx, ny, nz]` in NIfTI axis order i, j, k; `data` is stored x fastest, i.e. the
 *   same bytes as a numpy C-order array of shape `(nz, ny, nx)`.
 * - With `channels` > 1, `data` holds `channels` whole volumes one after another (channel-blocked,
 *   numpy `(c, nz, ny, nx)`), which is nnU-Net's layout and NIfTI's on-disk order for dim[4].
 * - `affine` maps voxel indices (i, j, k, 1) to world RAS+ millimetres, as nibabel's `img.affine`.
 * - 2D images (PNG, JPEG, one DICOM slice) are `[w, h, 1]`: x = column, y = row, row 0 the top row.
 */

/** Voxel extents `[nx, ny, nz]`. */
export type Shape3 = [number, number, number];
/** Voxel size in mm, same axis order as {@link Shape3}. */
export type Spacing3 = [number, number, number];
/** A 4x4 row-major matrix. */
export type Matrix4 = number[][];

/** Source formats a volume can come from. */
export type ImageFormat = 'nifti1' | 'nifti2' | 'png' | 'jpeg' | 'dicom';

/** The raw NIfTI header fields a writer needs to reproduce the input's geometry and metadata. */
export interface NiftiHeaderInfo {
  version: 1 | 2;
  littleEndian: boolean;
  /** dim[0..7] as stored. */
  dim: number[];
  /** pixdim[0..7] as stored (pixdim[0] is qfac). */
  pixdim: number[];
  datatypeCode: number;
  bitpix: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  calMax: number;
  calMin: number;
  dimInfo: number;
  sliceStart: number;
  sliceEnd: number;
  sliceCode: number;
  sliceDuration: number;
  toffset: number;
  xyztUnits: number;
  intentCode: number;
  intentP: [number, number, number];
  intentName: string;
  descrip: string;
  auxFile: string;
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d. */
  quatern: [number, number, number];
  /** qoffset_x, qoffset_y, qoffset_z. */
  qoffset: [number, number, number];
  /** srow_x, srow_y, srow_z (3 rows of 4). */
  srow: number[][];
}

/**
 * Voxel arrays a volume can hold: float32 (decoded, rescaling applied), or, when a reader is asked
 * to keep it (`readImage`'s `storedType`), the integer type the file stores, whose every value
 * float32 holds exactly: a 256^3 uint8 MRI stays 16 MiB instead of 64 MiB.
 */
export type VoxelArray = Float32Array | Uint8Array | Int8Array | Int16Array | Uint16Array;

/** A decoded image: geometry plus intensities, float32 unless `D` says the stored type was kept. */
export interface ImageVolume<D extends VoxelArray = Float32Array> {
  shape: Shape3;
  spacing: Spacing3;
  affine: Matrix4;
  data: D;
  /** Source datatype name, e.g. 'uint8', 'int16', 'float32'. */
  datatype: string;
  format: ImageFormat;
  /** Number of channel volumes in `data` (absent means 1). */
  channels?: number;
  /** Present for NIfTI input: what {@link writeNifti} copies to keep the geometry. */
  nifti?: NiftiHeaderInfo;
}

/**
 * What a reader knows from the header alone, before it allocates the voxels. A caller's
 * `inspect` hook (read-image.ts) sees it, so the work an input implies is refused before any
 * buffer sized by the input exists (docs/work-bounds.md).
 */
export interface DeclaredGeometry {
  shape: Shape3;
  spacing: Spacing3;
  channels: number;
}

/** Called with the declared geometry before the voxels are allocated; throws to refuse the input. */
export type InspectGeometry = (geometry: DeclaredGeometry) => void;

/**
 * {@link InspectGeometry} as `readImage` calls it, also told the bytes held while the image is
 * decoded: the input as given, and a zip's inflated files besides (engine/pipeline/work.ts counts them).
 */
export type InspectInput = (geometry: DeclaredGeometry, heldBytes: number) => void;

/**
 * A uint8 volume of `[nx, ny, nz]` read a run of z-planes at a time, so that a writer can stream it
 * without the whole array existing (a label map held as its crop box, engine/pipeline/label-map.ts).
 * `length` is the voxel count; `planes(z0, z1)` the voxels of planes `[z0, z1)`, x fastest.
 */
export interface PlaneSource {
  readonly length: number;
  planes(z0: number, z1: number): Uint8Array;
}

/** The geometry part of a volume, as returned by the geometry helpers. */
export interface Geometry {
  shape: Shape3;
  spacing: Spacing3;
  affine: Matrix4;
}
