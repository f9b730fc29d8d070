"""Sliding-window aggregation, nnU-Net v2: compute_gaussian (scipy gaussian_filter of a centred delta),
compute_steps_for_sliding_window, and the weighted accumulation of _internal_predict_sliding_window_return_logits.

The Gaussian and the steps restate nnU-Net's code with numpy/scipy (nnunetv2 itself needs torch, which is
not installed here); the accumulation is done in float64.
"""
import numpy as np
from scipy.ndimage import gaussian_filter

from make_goldens import load_nifti_zyx, save, write_cases


def compute_gaussian(tile_size, sigma_scale=1. / 8):
    tmp = np.zeros(tile_size)
    tmp[tuple(i // 2 for i in tile_size)] = 1
    g = gaussian_filter(tmp, [i * sigma_scale for i in tile_size], 0, mode='constant', cval=0)
    g /= np.max(g)
    mask = g == 0
    if mask.any():
        g[mask] = np.min(g[~mask])
    return g


def compute_steps(image_size, tile_size, tile_step_size):
    target = [i * tile_step_size for i in tile_size]
    num_steps = [int(np.ceil((i - k) / j)) + 1 for i, j, k in zip(image_size, target, tile_size)]
    steps = []
    for dim in range(len(tile_size)):
        max_step_value = image_size[dim] - tile_size[dim]
        actual = max_step_value / (num_steps[dim] - 1) if num_steps[dim] > 1 else 99999999999
        steps.append([int(np.round(actual * i)) for i in range(num_steps[dim])])
    return steps


def xyz(zyx):
    return [int(v) for v in zyx[::-1]]


def make(out_dir):
    cases = {'gaussian': [], 'steps': [], 'accumulate': []}
    for patch in [(1, 40, 56), (12, 20, 16), (5, 7, 9), (3, 1, 6), (1, 1, 1), (2, 64, 80)]:
        name = 'gauss_' + 'x'.join(map(str, patch))
        cases['gaussian'].append({'patch': xyz(patch), 'map': save(out_dir, name, compute_gaussian(patch).astype(np.float32))})
    for image, patch, step in [((110, 64, 64), (64, 64, 64), 0.5), ((1, 512, 512), (1, 448, 448), 0.5),
                               ((37, 301, 299), (20, 96, 160), 0.5), ((57, 133, 91), (56, 40, 17), 0.25),
                               ((9, 9, 9), (3, 4, 9), 1.0), ((200, 100, 50), (7, 33, 49), 0.7),
                               ((300, 300, 300), (128, 128, 128), 0.5), ((5, 5, 5), (5, 5, 5), 0.5)]:
        cases['steps'].append({'image': xyz(image), 'patch': xyz(patch), 'step': step,
                               'steps': [s for s in compute_steps(image, patch, step)[::-1]]})
    # Accumulation: logits-like patches cut from real image channels at nnU-Net's window offsets, with
    # a seeded perturbation so overlapping windows disagree (as network outputs do).
    mr, _ = load_nifti_zyx('fixtures/mr-aniso/KmeansTest_T1UCharRaw.nii.gz')
    rng = np.random.default_rng(7)
    for name, volume, patch, channels in [('acc_3d', (4, 30, 35), (3, 20, 24), 2), ('acc_2d', (1, 37, 61), (1, 24, 28), 3)]:
        steps = compute_steps(volume, patch, 0.5)
        g = compute_gaussian(patch)
        acc = np.zeros((channels, *volume))
        weights = np.zeros(volume)
        patches, offsets = [], []
        for z in steps[0]:
            for y in steps[1]:
                for x in steps[2]:
                    sl = (slice(z, z + patch[0]), slice(y, y + patch[1]), slice(x, x + patch[2]))
                    base = mr[10:10 + volume[0], 30:30 + volume[1], 20:20 + volume[2]][sl]
                    p = np.stack([(base - 60) / 30 * (c + 1) + rng.normal(0, 0.5, base.shape) for c in range(channels)])
                    p = p.astype(np.float32)
                    acc[(slice(None), *sl)] += p * g
                    weights[sl] += g
                    patches.append(p)
                    offsets.append([x, y, z])
        cases['accumulate'].append({
            'name': name, 'channels': channels, 'volume': xyz(volume), 'patch': xyz(patch), 'offsets': offsets,
            'patches': save(out_dir, name + '_patches', np.stack(patches)),
            'expected': save(out_dir, name + '_expected', (acc / weights).astype(np.float32)),
        })
    write_cases(out_dir, cases)
