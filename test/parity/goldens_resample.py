"""Resampling with nnU-Net v2 semantics.

The reference below re-implements, line by line, nnU-Net v2's
nnunetv2/preprocessing/resampling/default_resampling.py (MIC-DKFZ/nnUNet @0e49508:
compute_new_shape, get_do_separate_z, get_lowres_axis, determine_do_sep_z_and_axis,
resample_data_or_seg) and batchgenerators/augmentations/utils.py resize_segmentation
(MIC-DKFZ/batchgenerators), because nnunetv2 cannot be installed here. It calls the real
skimage.transform.resize (0.19.3) and scipy.ndimage.map_coordinates (1.10.1).
Arrays are numpy (z, y, x); nnU-Net's axis index i is our NIfTI axis 2 - i.
"""
import numpy as np
from scipy.ndimage import map_coordinates
from skimage.transform import resize

from make_goldens import load_nifti_zyx, save, write_cases

ANISO_THRESHOLD = 3  # nnunetv2/configuration.py


def compute_new_shape(old_shape, old_spacing, new_spacing):
    return np.array([int(round(i / j * k)) for i, j, k in zip(old_spacing, new_spacing, old_shape)])


def get_do_separate_z(spacing, anisotropy_threshold=ANISO_THRESHOLD):
    return (np.max(spacing) / np.min(spacing)) > anisotropy_threshold


def get_lowres_axis(new_spacing):
    return np.where(max(new_spacing) / np.array(new_spacing) == 1)[0]


def determine_do_sep_z_and_axis(force_separate_z, current_spacing, new_spacing):
    if force_separate_z is not None:
        do_separate_z = force_separate_z
        axis = get_lowres_axis(current_spacing) if force_separate_z else None
    else:
        if get_do_separate_z(current_spacing):
            do_separate_z, axis = True, get_lowres_axis(current_spacing)
        elif get_do_separate_z(new_spacing):
            do_separate_z, axis = True, get_lowres_axis(new_spacing)
        else:
            do_separate_z, axis = False, None
    if axis is not None:
        if len(axis) in (2, 3):
            do_separate_z, axis = False, None
        else:
            axis = axis[0]
    return do_separate_z, axis


def resize_segmentation(segmentation, new_shape, order=3):
    tpe = segmentation.dtype
    if order == 0:
        return resize(segmentation.astype(float), new_shape, order, mode='edge', clip=True,
                      anti_aliasing=False).astype(tpe)
    reshaped = np.zeros(new_shape, dtype=segmentation.dtype)
    for c in np.unique(segmentation):  # == np.sort(pd.unique(...))
        reshaped_multihot = resize((segmentation == c).astype(float), new_shape, order, mode='edge', clip=True,
                                   anti_aliasing=False)
        reshaped[reshaped_multihot >= 0.5] = c
    return reshaped


def resample_data_or_seg(data, new_shape, is_seg=False, axis=None, order=3, do_separate_z=False, order_z=0):
    assert data.ndim == 4
    if is_seg:
        resize_fn, kwargs = resize_segmentation, {}
    else:
        resize_fn, kwargs = resize, {'mode': 'edge', 'anti_aliasing': False}
    shape = np.array(data[0].shape)
    new_shape = np.array(new_shape)
    reshaped_final = np.zeros((data.shape[0], *new_shape), dtype=data.dtype)
    if not np.any(shape != new_shape):
        return data
    data = data.astype(float, copy=False)
    if do_separate_z:
        new_shape_2d = new_shape[[i for i in range(3) if i != axis]]
        for c in range(data.shape[0]):
            tmp = new_shape.copy()
            tmp[axis] = shape[axis]
            reshaped_here = np.zeros(tmp)
            for slice_id in range(shape[axis]):
                index = [slice(None)] * 3
                index[axis] = slice_id
                reshaped_here[tuple(index)] = resize_fn(data[c][tuple(index)], new_shape_2d, order, **kwargs)
            if shape[axis] != new_shape[axis]:
                rows, cols, dim = new_shape
                orig_rows, orig_cols, orig_dim = reshaped_here.shape
                row_scale, col_scale, dim_scale = float(orig_rows) / rows, float(orig_cols) / cols, float(orig_dim) / dim
                map_rows, map_cols, map_dims = np.mgrid[:rows, :cols, :dim]
                map_rows = row_scale * (map_rows + 0.5) - 0.5
                map_cols = col_scale * (map_cols + 0.5) - 0.5
                map_dims = dim_scale * (map_dims + 0.5) - 0.5
                coord_map = np.array([map_rows, map_cols, map_dims])
                if not is_seg or order_z == 0:
                    reshaped_final[c] = map_coordinates(reshaped_here, coord_map, order=order_z, mode='nearest')[None]
                else:
                    for cl in np.unique(reshaped_here):
                        reshaped_final[c][np.round(map_coordinates((reshaped_here == cl).astype(float), coord_map,
                                                                   order=order_z, mode='nearest')) > 0.5] = cl
            else:
                reshaped_final[c] = reshaped_here
    else:
        for c in range(data.shape[0]):
            reshaped_final[c] = resize_fn(data[c], new_shape, order, **kwargs)
    return reshaped_final


def nifti(v):
    """numpy (z, y, x) triple -> NIfTI [x, y, z] list."""
    return [float(x) if isinstance(x, float) else int(x) for x in v][::-1]


def make(out_dir):
    cases = []
    fsa, _ = load_nifti_zyx('brain-wm/imagesTr/fsA_0000.nii.gz')
    fsa_lab, _ = load_nifti_zyx('brain-wm/labelsTr/fsA.nii.gz')
    mr, _ = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz')
    km, _ = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1KmeansPrelimSegmentation.nii.gz')

    def add(name, data, spacing, new_spacing=None, new_shape=None, orders=(0, 1, 3), order_z=0, force=None,
            is_seg=False, dtype=np.float32):
        """spacing in numpy (z, y, x) order; writes one case per order."""
        inp = save(out_dir, f'{name}_in', data.astype(dtype))
        if new_shape is None:
            new_shape = compute_new_shape(data.shape, spacing, new_spacing)
        sep, axis = determine_do_sep_z_and_axis(force, spacing, new_spacing if new_spacing is not None else spacing)
        for order in orders:
            out = resample_data_or_seg(data.astype(dtype)[None], new_shape, is_seg, axis, order, sep, order_z)[0]
            cases.append({
                'kind': 'resample', 'name': f'{name}_o{order}' + (f'z{order_z}' if sep else ''),
                'input': inp, 'output': save(out_dir, f'{name}_o{order}' + (f'z{order_z}' if sep else ''), out),
                'isSeg': is_seg, 'order': order, 'orderZ': order_z,
                'separateZAxis': None if not sep else 2 - int(axis),
                'spacing': nifti(spacing), 'newSpacing': None if new_spacing is None else nifti(new_spacing),
                'force': {None: 'auto', True: 'on', False: 'off'}[force],
                'shape': nifti(data.shape), 'newShape': nifti(new_shape),
            })

    iso = (1.0, 1.0, 1.0)
    brain = fsa[120:140, 100:128, 96:120]  # (z, y, x) = 20 x 28 x 24: white/grey matter edges
    add('brain_down', brain, iso, (1.5, 1.5, 1.5))
    add('brain_up', fsa[124:138, 104:122, 100:116], iso, (0.7, 0.7, 0.7))
    # Genuinely anisotropic: an MR crop declared (0.8, 0.8, 3.5) mm -> separate z along numpy axis 0.
    aniso = mr[20:32, 40:70, 50:82]
    aniso_sp = (3.5, 0.8, 0.8)
    for order, order_z in ((3, 0), (1, 1), (3, 3), (0, 0)):
        add('aniso', aniso, aniso_sp, (1.5, 1.0, 1.0), orders=(order,), order_z=order_z, force=None)
    add('aniso_xlow', np.ascontiguousarray(aniso.transpose(2, 1, 0))[:, :, :9], (0.8, 0.8, 3.5), (1.0, 1.0, 1.5),
        orders=(3,), order_z=1)
    # Real 2 x 2 x 3 mm fixture: max/min 1.5, no separate z; forced on, the low-res axis is z.
    add('mr_iso', mr[25:35, 50:72, 40:66], (3.0, 2.0, 2.0), (1.5, 1.5, 1.5), orders=(1, 3))
    add('mr_forced', mr[25:35, 50:72, 40:66], (3.0, 2.0, 2.0), (1.5, 1.5, 1.5), orders=(3,), force=True)
    # 2D as [w, h, 1]: a 2D config keeps the first numpy axis' spacing.
    add('two_d', fsa[128:129, 90:119, 80:117], iso, (1.0, 0.6, 0.6), orders=(1, 3))
    # Extreme factors, size-1 axes and exact order-0 ties (8 -> 4).
    add('extreme', fsa[126:132, 60:110, 118:121], iso, new_shape=(6, 2, 17))
    add('size_one', fsa[130:135, 120:121, 100:107], iso, new_shape=(11, 3, 4))
    add('ties', fsa[128:132, 100:106, 100:108], iso, new_shape=(2, 9, 4))

    # Label maps (resize_segmentation; separate z with order_z 0 and 1).
    add('wm_down', fsa_lab[120:140, 100:128, 96:120], iso, (1.5, 1.5, 1.5), orders=(0, 1, 3), is_seg=True,
        dtype=np.uint8)
    add('wm_up', fsa_lab[124:138, 104:122, 100:116], iso, (0.7, 0.7, 0.7), orders=(1,), is_seg=True, dtype=np.uint8)
    kmc = km[20:32, 40:70, 50:82]
    add('kmeans_aniso', kmc, aniso_sp, (1.5, 1.0, 1.0), orders=(0, 1), order_z=0, is_seg=True, dtype=np.int16)
    add('kmeans_aniso', kmc, aniso_sp, (1.5, 1.0, 1.0), orders=(1, 3), order_z=1, is_seg=True, dtype=np.int16)
    add('kmeans_iso', km[25:35, 50:72, 40:66], (3.0, 2.0, 2.0), (1.5, 1.5, 1.5), orders=(1, 3), is_seg=True,
        dtype=np.uint8)
    # compute_new_shape and determine_do_sep_z_and_axis on their own (spacings in NIfTI order).
    for shp, sp, nsp in (((256, 256, 256), (1, 1, 1), (1.5, 1.5, 1.5)), ((256, 256, 256), (1, 1, 1), (0.7, 0.7, 0.7)),
                         ((128, 128, 62), (2, 2, 3), (0.8, 0.8, 0.8)), ((32, 30, 12), (0.8, 0.8, 3.5), (1, 1, 1.5)),
                         ((5, 7, 3), (0.5, 0.5, 0.5), (1, 1, 1)), ((512, 512, 1), (0.24, 0.24, 1), (0.48, 0.48, 1)),
                         ((100, 100, 40), (1.25, 1.25, 0.24), (1, 1, 1)), ((64, 64, 20), (1, 1, 5), (1, 1, 1)),
                         ((64, 64, 20), (1, 1, 1), (1, 1, 4)), ((64, 64, 20), (1, 1, 2), (1, 1, 2))):
        z_shape, z_sp, z_nsp = shp[::-1], tuple(map(float, sp[::-1])), tuple(map(float, nsp[::-1]))
        entry = {'kind': 'shape', 'shape': list(shp), 'spacing': list(sp), 'newSpacing': list(nsp),
                 'newShape': nifti(compute_new_shape(z_shape, z_sp, z_nsp))}
        for mode, force in (('auto', None), ('on', True), ('off', False)):
            sep, axis = determine_do_sep_z_and_axis(force, z_sp, z_nsp)
            entry[mode] = 2 - int(axis) if sep else None
        cases.append(entry)
    write_cases(out_dir, cases)
