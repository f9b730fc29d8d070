"""Metrics as docs/metrics.md defines them, written with numpy/scipy: Dice; surface = mask minus its
binary_erosion by a full box (3x3x3; 3x3 for a 2D image saved as (1, h, w)), border_value=0; distances
from each surface voxel of one mask to the nearest surface voxel of the other via distance_transform_edt
of the other surface's complement with sampling; ASD = mean and HD95 = np.percentile(pool, 95)."""
import numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt, shift

from make_goldens import load_nifti_zyx, save, write_cases


def surface(mask):
    return mask & ~binary_erosion(mask, structure=np.ones((3,) * mask.ndim))


def binary_metrics(pred, ref, spacing_xyz):
    pred = pred.astype(bool)
    ref = ref.astype(bool)
    if pred.shape[0] == 1:  # a [w, h, 1] image: 2D structure
        pred, ref = pred[0], ref[0]
        spacing_xyz = spacing_xyz[:2]
    sampling = tuple(reversed(spacing_xyz))
    na, nb = int(pred.sum()), int(ref.sum())
    if na == 0 and nb == 0:
        return {'dice': 1.0, 'asd_mm': 0.0, 'hd95_mm': 0.0}
    dice = 2.0 * int((pred & ref).sum()) / (na + nb)
    if na == 0 or nb == 0:
        return {'dice': dice, 'asd_mm': None, 'hd95_mm': None}
    sa, sb = surface(pred), surface(ref)
    a_to_b = distance_transform_edt(~sb, sampling=sampling)[sa]
    b_to_a = distance_transform_edt(~sa, sampling=sampling)[sb]
    pool = np.concatenate([a_to_b, b_to_a])
    return {'dice': dice, 'asd_mm': float(pool.mean()), 'hd95_mm': float(np.percentile(pool, 95))}


def make(out_dir):
    label, _ = load_nifti_zyx('brain-wm/labelsTr/fsA.nii.gz')
    ref = label[100:136, 60:100, 70:118] > 0  # 36 x 40 x 48
    # A plausible prediction: eroded, shifted one voxel and with a blob added.
    pred = binary_erosion(ref, iterations=1)
    pred = np.roll(pred, 1, axis=2)
    pred[5:9, 30:36, 10:15] = True
    kmeans, (sx, sy, sz) = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1KmeansPrelimSegmentation.nii.gz')
    kref = kmeans[20:40, 40:76, 30:63].astype(np.int16)  # 20 x 36 x 33, labels 0..6
    kpred = np.round(shift(kref.astype(float), (0, 1, -1), order=0, mode='nearest')).astype(np.int16)
    kpred[kpred == 2] = 3  # label 2 vanishes from the prediction: one-sided empty
    rng = np.random.default_rng(3)
    two_ref = np.zeros((1, 29, 37), bool)
    two_ref[0, 5:22, 6:30] = True
    two_pred = np.roll(two_ref, 2, axis=1) & (rng.random((1, 29, 37)) > 0.1)
    odd_ref = rng.random((5, 7, 9)) > 0.5
    odd_pred = rng.random((5, 7, 9)) > 0.5
    binary = {
        'wm_eroded_shifted': (pred, ref, (1.0, 1.0, 1.0)),
        'wm_extreme_spacing': (pred, ref, (0.1, 7.0, 1.3)),
        'two_d': (two_pred, two_ref, (0.7, 0.7, 1.0)),
        'odd_random': (odd_pred, odd_ref, (1.0, 2.0, 0.5)),
        'full_volume': (np.ones((4, 5, 6), bool), np.ones((4, 5, 6), bool) & (np.arange(6) > 0), (1.0, 1.0, 1.0)),
        'both_empty': (np.zeros((3, 4, 5), bool), np.zeros((3, 4, 5), bool), (1.0, 1.0, 1.0)),
        'pred_empty': (np.zeros((3, 4, 5), bool), np.ones((3, 4, 5), bool), (1.0, 1.0, 1.0)),
    }
    cases = []
    for name, (p, r, spacing) in binary.items():
        pf = save(out_dir, f'{name}_pred', p.astype(np.uint8))
        rf = save(out_dir, f'{name}_ref', r.astype(np.uint8))
        cases.append({'name': name, 'kind': 'binary', 'pred': pf, 'ref': rf, 'spacing': list(spacing),
                      'expected': {'1': binary_metrics(p, r, spacing)}})
    labels = [1, 2, 3, 4, 5, 6, 9]  # 9 is in neither map
    spacing = (sx, sy, sz)
    cases.append({
        'name': 'aniso_labels', 'kind': 'labels', 'labels': labels, 'spacing': list(spacing),
        'pred': save(out_dir, 'aniso_labels_pred', kpred), 'ref': save(out_dir, 'aniso_labels_ref', kref),
        'expected': {str(l): binary_metrics(kpred == l, kref == l, spacing) for l in labels},
    })
    write_cases(out_dir, cases)
