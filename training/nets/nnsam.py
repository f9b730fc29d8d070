"""nnSAM: PlainConvUNet plus a frozen MobileSAM TinyViT whose embedding is concatenated at skip 3."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .plain_conv_unet import PlainConvUNet, UNetConfig
from .tiny_vit import TinyViT, load_mobile_sam_encoder


class NnSam(nn.Module):
    """forward(x [B, C, H, W] nnU-Net-normalised) -> (logits list, level set).

    The SAM branch: repeat to 3 channels, bilinear (align_corners=True) to img_size x img_size, no SAM
    pixel mean/std, TinyViT -> 256 x S/16 x S/16, bilinear (align_corners=True) to the size of encoder
    skip `fused_skip_index`, concatenated there for the decoder. Pretrained weights are loaded after
    initialisation (never re-initialised), and the encoder stays frozen in eval mode (BatchNorm
    statistics do not drift) whatever mode the parent is put in.
    """

    def __init__(self, cfg: UNetConfig, sam_checkpoint: str | dict | None = None, img_size: int = 1024):
        super().__init__()
        cfg.fused_skip_channels = 256
        self.unet = PlainConvUNet(cfg)
        self.image_encoder = TinyViT(img_size=img_size)
        if sam_checkpoint is not None:
            load_mobile_sam_encoder(self.image_encoder, sam_checkpoint)
        for p in self.image_encoder.parameters():
            p.requires_grad_(False)
        self.image_encoder.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.image_encoder.eval()
        return self

    def sam_embedding(self, x: torch.Tensor, size) -> torch.Tensor:
        """Frozen TinyViT embedding resized to `size`."""
        x3 = x[:, :1].repeat(1, 3, 1, 1) if x.shape[1] != 3 else x
        s = self.image_encoder.img_size
        x3 = F.interpolate(x3, size=(s, s), mode='bilinear', align_corners=True)
        emb = self.image_encoder(x3)
        return F.interpolate(emb, size=size, mode='bilinear', align_corners=True)

    def forward(self, x: torch.Tensor):
        cfg = self.unet.cfg
        size = list(x.shape[-2:])
        for s in cfg.strides[: cfg.fused_skip_index + 1]:
            st = (s, s) if isinstance(s, int) else s
            size = [size[0] // st[0], size[1] // st[1]]
        with torch.no_grad():
            emb = self.sam_embedding(x, size)
        return self.unet(x, fused=emb)
