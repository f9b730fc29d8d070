import { readFileSync } from 'node:fs';

/** A numpy array read from a `.npy` file: C-order data and numpy's shape. */
export interface NpyArray {
  shape: number[];
  dtype: string;
  data:
    | Float32Array
    | Float64Array
    | Uint8Array
    | Int8Array
    | Int16Array
    | Uint16Array
    | Int32Array
    | Uint32Array;
}

const DTYPES = {
  '<f4': Float32Array,
  '<f8': Float64Array,
  '|u1': Uint8Array,
  '|b1': Uint8Array,
  '|i1': Int8Array,
  '<i2': Int16Array,
  '<u2': Uint16Array,
  '<i4': Int32Array,
  '<u4': Uint32Array,
} as const;

/** Reads a little-endian, C-order `.npy` file (format versions 1-3) as written by `np.save`. */
export function readNpy(path: string): NpyArray {
  const bytes = readFileSync(path);
  if (bytes.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not a .npy file`);
  const major = bytes[6];
  const headerLen = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const headerStart = major === 1 ? 10 : 12;
  const header = bytes.toString('latin1', headerStart, headerStart + headerLen);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new Error(`${path}: bad .npy header ${header}`);
  if (fortran === 'True') throw new Error(`${path}: Fortran-order .npy is not supported; save C-order`);
  const ctor = DTYPES[descr as keyof typeof DTYPES];
  if (!ctor) throw new Error(`${path}: unsupported dtype ${descr}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = headerStart + headerLen;
  const copy = bytes.buffer.slice(
    bytes.byteOffset + offset,
    bytes.byteOffset + offset + count * ctor.BYTES_PER_ELEMENT,
  );
  return { shape, dtype: descr, data: new ctor(copy) };
}

/** numpy shape `(nz, ny, nx)` (or `(ny, nx)`) as a NIfTI-order `[nx, ny, nz]` shape. */
export function niftiShape(npyShape: number[]): [number, number, number] {
  const r = [...npyShape].reverse();
  while (r.length < 3) r.push(1);
  return [r[0], r[1], r[2]];
}
