"""Connected components: scipy.ndimage.label with a full 3x3x3 structure (8-connectivity for a 2D image,
saved as (1, h, w)), and nnU-Net's remove_all_but_largest_component (acvl_utils: every component whose
size equals the largest is kept)."""
import numpy as np
from scipy.ndimage import label

from make_goldens import load_nifti_zyx, save, write_cases


def reference(mask):
    labels, count = label(mask, structure=np.ones((3, 3, 3)))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    keep_ids = [i + 1 for i, s in enumerate(sizes) if s == sizes.max()] if count else []
    keep = np.isin(labels, keep_ids)
    return labels, count, sizes, keep


def make(out_dir):
    rng = np.random.default_rng(11)
    wm, _ = load_nifti_zyx('brain-wm/labelsTr/fsB.nii.gz')
    kmeans, _ = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1KmeansPrelimSegmentation.nii.gz')
    two_d = rng.random((1, 23, 31)) > 0.55
    ties = np.zeros((6, 9, 10), bool)
    ties[1:3, 1:3, 1:3] = True
    ties[3:5, 5:7, 6:8] = True  # same size as the first: both kept
    ties[0, 8, 0] = True
    masks = {
        'wm_crop': wm[144:168, 130:162, 80:120] > 0,  # 24 x 32 x 40, 29 components
        'aniso_fixture': kmeans[10:40, 30:70, 30:67] == 5,
        'random_odd': rng.random((5, 7, 9)) > 0.8,
        'two_d': two_d,
        'line_x': (rng.random((1, 1, 13)) > 0.5),
        'column_z': (rng.random((9, 1, 1)) > 0.5),
        'ties': ties,
        'all_zero': np.zeros((3, 4, 5), bool),
        'all_one': np.ones((3, 4, 5), bool),
    }
    cases = []
    for name, mask in masks.items():
        labels, count, sizes, keep = reference(mask)
        assert count < 32767
        cases.append({
            'name': name,
            'mask': save(out_dir, f'{name}_mask', mask.astype(np.uint8)),
            'labels': save(out_dir, f'{name}_labels', labels.astype(np.int16)),
            'count': int(count),
            'sizes': [int(s) for s in sizes],
            'keep': save(out_dir, f'{name}_keep', keep.astype(np.uint8)),
        })
    write_cases(out_dir, cases)
