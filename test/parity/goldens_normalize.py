"""Intensity normalisation: nnU-Net v2 ZScoreNormalization (with/without use_mask_for_norm) and CTNormalization.

Z-score references are computed in float64 from the float32 image (our kernels' statistics are f64);
CT follows nnU-Net's float32 steps (clip with f32 bounds, subtract, divide).
"""
import numpy as np
import pydicom
from scipy.ndimage import binary_fill_holes

from make_goldens import SHARED, load_nifti_zyx, save, write_cases


def zscore(image, mask=None):
    x = image.astype(np.float64)
    sel = np.ones(x.shape, bool) if mask is None else mask.astype(bool)
    if not sel.any():
        return image.copy()
    mean = x[sel].mean()
    std = x[sel].std()
    out = x.copy()
    out[sel] = (x[sel] - mean) / max(std, 1e-8)
    return out.astype(np.float32)


def ct(image, stats, mask=None):
    """nnU-Net's CTNormalization.run on a float32 image; with a mask only mask voxels change (our extension)."""
    img = image.astype(np.float32, copy=True)
    np.clip(img, stats['p00_5'], stats['p99_5'], out=img)
    img -= stats['mean']
    img /= max(stats['std'], 1e-8)
    if mask is not None:
        img = np.where(mask.astype(bool), img, image)
    return img.astype(np.float32)


def make(out_dir):
    cases = []
    brain, _ = load_nifti_zyx('brain-wm/imagesTr/fsB_0000.nii.gz')  # skull-stripped: zero outside the brain
    vol = brain[100:124, 60:96, 40:81].astype(np.float32)  # the brain's edge: a real non-zero mask
    mask = binary_fill_holes(vol != 0).astype(np.uint8)
    mr, _ = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz')
    odd = mr[30:37, 40:53, 50:61].astype(np.float32)  # (7, 13, 11): no axis a multiple of 4
    slice2d = mr[31:32, 20:90, 25:102].astype(np.float32)  # a [77, 70, 1] image
    dcm = pydicom.dcmread(f'{SHARED}/fixtures/dicom/CT_small.dcm')
    hu = (dcm.pixel_array.astype(np.float64) * float(dcm.RescaleSlope) + float(dcm.RescaleIntercept))
    hu = hu.astype(np.float32)[None, 20:101, 10:115]  # (1, 81, 105)
    fg = hu[hu > -300].astype(np.float64)
    stats = {'mean': float(fg.mean()), 'std': float(fg.std()),
             'p00_5': float(np.percentile(fg, 0.5)), 'p99_5': float(np.percentile(fg, 99.5))}
    ct_mask = (hu > -300).astype(np.uint8)

    saved = {}

    def add(name, image, out, kind, m=None, st=None):
        # Cases sharing an input image share its file.
        if id(image) not in saved:
            saved[id(image)] = save(out_dir, name + '_in', image)
        case = {'name': name, 'kind': kind, 'image': saved[id(image)], 'expected': save(out_dir, name + '_out', out)}
        if m is not None:
            case['mask'] = save(out_dir, name + '_mask', m)
        if st is not None:
            case['stats'] = st
        cases.append(case)

    add('brain_zscore', vol, zscore(vol), 'zscore')
    add('brain_zscore_masked', vol, zscore(vol, mask), 'zscore', mask)
    add('mr_odd_zscore', odd, zscore(odd), 'zscore')
    add('mr_2d_zscore_masked', slice2d, zscore(slice2d, slice2d > 40), 'zscore', (slice2d > 40).astype(np.uint8))
    add('ct', hu, ct(hu, stats), 'ct', None, stats)
    add('ct_masked', hu, ct(hu, stats, ct_mask), 'ct', ct_mask, stats)
    write_cases(out_dir, cases)
