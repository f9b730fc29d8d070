"""Level-set mean-curvature flow: an independent, vectorised numpy statement of the scheme in
wasm/src/levelset.ts (central differences in mm on an edge-padded array, explicit Euler, narrow band
|phi| < band), evolving in float32 like the kernel. Inputs are signed distances from
scipy.ndimage.distance_transform_edt (positive outside, negative inside) of real white-matter masks.
"""
import numpy as np
from scipy.ndimage import distance_transform_edt

from make_goldens import load_nifti_zyx, save, write_cases

EPS = np.float32(1e-12)


def sdf(mask, spacing_xyz):
    sampling = spacing_xyz[::-1]
    m = mask.astype(bool)
    return (distance_transform_edt(~m, sampling=sampling) - distance_transform_edt(m, sampling=sampling)).astype(np.float32)


def flow(phi, spacing_xyz, iterations, band=None, dt=None):
    sx, sy, sz = spacing_xyz
    active = [n > 1 for n in phi.shape[::-1]]
    inv = sum(1 / s ** 2 for s, a in zip(spacing_xyz, active) if a)
    dt = np.float32(1 / (4 * inv) if dt is None else dt)
    band = np.float32(3 * min(spacing_xyz) if band is None else band)
    f32 = np.float32
    hx, hy, hz = f32(1 / (2 * sx)), f32(1 / (2 * sy)), f32(1 / (2 * sz))
    ixx, iyy, izz = f32(1 / sx ** 2), f32(1 / sy ** 2), f32(1 / sz ** 2)
    qxy, qxz, qyz = f32(1 / (4 * sx * sy)), f32(1 / (4 * sx * sz)), f32(1 / (4 * sy * sz))
    phi = phi.astype(np.float32)
    nz, ny, nx = phi.shape
    for _ in range(iterations):
        p = np.pad(phi, 1, mode='edge')

        def at(dz, dy, dx):
            return p[1 + dz:1 + dz + nz, 1 + dy:1 + dy + ny, 1 + dx:1 + dx + nx]

        two = phi * f32(2)
        fx = (at(0, 0, 1) - at(0, 0, -1)) * hx
        fy = (at(0, 1, 0) - at(0, -1, 0)) * hy
        fz = (at(1, 0, 0) - at(-1, 0, 0)) * hz
        fxx = (at(0, 0, 1) + at(0, 0, -1) - two) * ixx
        fyy = (at(0, 1, 0) + at(0, -1, 0) - two) * iyy
        fzz = (at(1, 0, 0) + at(-1, 0, 0) - two) * izz
        fxy = ((at(0, 1, 1) - at(0, 1, -1)) - (at(0, -1, 1) - at(0, -1, -1))) * qxy
        fxz = ((at(1, 0, 1) - at(1, 0, -1)) - (at(-1, 0, 1) - at(-1, 0, -1))) * qxz
        fyz = ((at(1, 1, 0) - at(-1, 1, 0)) - (at(1, -1, 0) - at(-1, -1, 0))) * qyz
        gx2, gy2, gz2 = fx * fx, fy * fy, fz * fz
        num = (fyy + fzz) * gx2 + (fxx + fzz) * gy2 + (fxx + fyy) * gz2
        num = num - (fx * fy * fxy + fx * fz * fxz + fy * fz * fyz) * f32(2)
        den = gx2 + gy2 + gz2 + EPS
        phi = np.where(np.abs(phi) < band, phi + dt * (num / den), phi).astype(np.float32)
    return phi


def make(out_dir):
    cases = []
    wm, _ = load_nifti_zyx('brain-wm/labelsTr/fsB.nii.gz')  # fsB's WM: a jagged, voxelised boundary
    crop = (wm[120:140, 70:110, 60:95] > 0).astype(np.uint8)  # (20, 40, 35)
    mni, _ = load_nifti_zyx('brain-wm/labelsTr/mni152.nii.gz')
    slice2d = (mni[90:91, 60:130, 50:121] > 0).astype(np.uint8)  # a [71, 70, 1] slice
    odd = crop[8:13, 12:23, 14:21]  # (5, 11, 7), 38 % foreground
    for name, mask, spacing, iterations, opts in [
        ('wm_iso', crop, (1.0, 1.0, 1.0), 12, {}),
        ('wm_aniso', crop, (0.8, 1.1, 2.5), 10, {}),
        ('wm_2d', slice2d, (0.7, 0.7, 5.0), 15, {}),
        ('wm_odd_band', odd, (1.0, 1.3, 0.9), 6, {'band': 2.0, 'dt': 0.1}),
    ]:
        phi = sdf(mask, spacing)
        out = flow(phi, spacing, iterations, opts.get('band'), opts.get('dt'))
        cases.append({'name': name, 'spacing': list(spacing), 'iterations': iterations, **opts,
                      'mask': save(out_dir, name + '_mask', mask), 'phi': save(out_dir, name + '_phi', phi),
                      'expected': save(out_dir, name + '_expected', out)})
    write_cases(out_dir, cases)
