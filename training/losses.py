"""Dice + CE with deep supervision (nnU-Net) and our level-set boundary loss (SDF + curvature).

Level-set loss, per foreground class k (phi = tanh(sdf / tau), positive inside; band = |sdf_gt| <= b):
    L_ls   = mean((phi_pred - phi_gt)^2) + w_curv * mean_band(|clamp(kappa(phi_pred)) - clamp(kappa(phi_gt))|)
    kappa  = div(grad phi / |grad phi|)   (central differences)
    total  = L_dsDCCE + w_ls * L_ls
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def soft_dice(logits: torch.Tensor, target: torch.Tensor, batch_dice: bool = True, smooth: float = 1e-5):
    """Mean soft Dice over foreground classes (nnU-Net's MemoryEfficientSoftDiceLoss without background)."""
    probs = torch.softmax(logits, 1)[:, 1:]
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].to(probs.dtype)
    dims = (0, 2, 3) if batch_dice else (2, 3)
    inter = (probs * onehot).sum(dims)
    denom = probs.sum(dims) + onehot.sum(dims)
    return ((2 * inter + smooth) / torch.clamp(denom + smooth, min=1e-8)).mean()


def dc_ce(logits: torch.Tensor, target: torch.Tensor, batch_dice: bool = True) -> torch.Tensor:
    """CE + (1 - soft Dice), both weighted 1 as in nnU-Net (which adds -Dice; same gradient)."""
    return F.cross_entropy(logits, target) + (1 - soft_dice(logits, target, batch_dice))


def ds_weights(n: int) -> list[float]:
    """nnU-Net deep-supervision weights: 1/2^i, the lowest resolution dropped, normalised to sum 1."""
    w = [1 / 2**i for i in range(n)]
    w[-1] = 0.0 if n > 1 else w[-1]
    s = sum(w)
    return [x / s for x in w]


def deep_supervision_loss(outputs: list[torch.Tensor], target: torch.Tensor, batch_dice: bool = True):
    """Weighted DC+CE over the deep-supervision outputs; targets downsampled by nearest neighbour."""
    total = outputs[0].new_zeros(())
    for w, out in zip(ds_weights(len(outputs)), outputs):
        if w == 0:
            continue
        t = target
        if out.shape[-2:] != target.shape[-2:]:
            t = F.interpolate(target[:, None].float(), size=out.shape[-2:], mode='nearest')[:, 0].long()
        total = total + w * dc_ce(out, t, batch_dice)
    return total


def _grad(phi: torch.Tensor):
    """Central differences (one-sided at the border) along y and x of [B, K, H, W]."""
    gy = torch.cat([phi[:, :, 1:2] - phi[:, :, :1], (phi[:, :, 2:] - phi[:, :, :-2]) / 2,
                    phi[:, :, -1:] - phi[:, :, -2:-1]], 2)
    gx = torch.cat([phi[..., 1:2] - phi[..., :1], (phi[..., 2:] - phi[..., :-2]) / 2,
                    phi[..., -1:] - phi[..., -2:-1]], 3)
    return gy, gx


def curvature(phi: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """kappa = div(grad phi / |grad phi|); invariant to monotone rescaling such as tanh(sdf/tau)."""
    gy, gx = _grad(phi)
    norm = torch.sqrt(gy**2 + gx**2 + eps)
    ny, _ = _grad(gy / norm)
    _, nx = _grad(gx / norm)
    return ny + nx


def levelset_loss(phi_pred: torch.Tensor, sdf_gt: torch.Tensor, tau: float = 4.0, band: float = 3.0,
                  w_curv: float = 0.1) -> tuple[torch.Tensor, dict]:
    """SDF regression on tanh(sdf/tau) plus curvature agreement in the narrow band |sdf| <= band."""
    phi_gt = torch.tanh(sdf_gt / tau)
    l_sdf = F.mse_loss(phi_pred, phi_gt)
    mask = (sdf_gt.abs() <= band).to(phi_pred.dtype)
    # The SDF of a voxel mask has |kappa| <= ~1/voxel; clamping keeps staircase noise from dominating.
    k_pred = curvature(phi_pred).clamp(-1, 1)
    k_gt = curvature(phi_gt).clamp(-1, 1)
    l_curv = ((k_pred - k_gt).abs() * mask).sum() / mask.sum().clamp(min=1.0)
    return l_sdf + w_curv * l_curv, {'ls_sdf': float(l_sdf.detach()), 'ls_curv': float(l_curv.detach())}


def total_loss(seg_outputs, phi_pred, target, sdf_gt, w_ls: float = 1.0, w_curv: float = 0.1,
               tau: float = 4.0, batch_dice: bool = True):
    """Deep-supervised DC+CE plus w_ls * level-set loss (w_ls = 0 is the ablation without it)."""
    l_seg = deep_supervision_loss(seg_outputs, target, batch_dice)
    parts = {'dc_ce': float(l_seg.detach())}
    if w_ls > 0 and phi_pred is not None:
        l_ls, p = levelset_loss(phi_pred, sdf_gt, tau=tau, w_curv=w_curv)
        parts.update(p)
        return l_seg + w_ls * l_ls, parts
    return l_seg, parts
