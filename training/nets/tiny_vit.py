"""TinyViT image encoder in MobileSAM's `vit_t` configuration.

Module and parameter names match MobileSAM's `image_encoder` (patch_embed.seq.*, layers.L.blocks.B.*,
layers.L.downsample.*, norm_head, head, neck.*), so the `image_encoder.*` part of `mobile_sam.pt` loads
with strict=True (`load_mobile_sam_encoder`). Written from the architecture description; the unused
classification head is kept only so that strict loading succeeds.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

VIT_T = dict(embed_dims=[64, 128, 160, 320], depths=[2, 2, 6, 2], num_heads=[2, 4, 5, 10],
             window_sizes=[7, 7, 14, 7], mlp_ratio=4.0, mbconv_expand_ratio=4.0, local_conv_size=3)


class Conv2d_BN(nn.Sequential):  # noqa: N801 - the name is part of the checkpoint contract
    """Bias-free conv ('c') followed by BatchNorm ('bn')."""

    def __init__(self, a, b, ks=1, stride=1, pad=0, groups=1, bn_weight_init=1.0):
        super().__init__()
        self.add_module('c', nn.Conv2d(a, b, ks, stride, pad, 1, groups, bias=False))
        bn = nn.BatchNorm2d(b)
        nn.init.constant_(bn.weight, bn_weight_init)
        nn.init.zeros_(bn.bias)
        self.add_module('bn', bn)


class PatchEmbed(nn.Module):
    """Two stride-2 3x3 convs: image -> embed_dim at 1/4 resolution."""

    def __init__(self, in_chans, embed_dim, resolution):
        super().__init__()
        self.patches_resolution = (resolution // 4, resolution // 4)
        self.seq = nn.Sequential(Conv2d_BN(in_chans, embed_dim // 2, 3, 2, 1), nn.GELU(),
                                 Conv2d_BN(embed_dim // 2, embed_dim, 3, 2, 1))

    def forward(self, x):
        return self.seq(x)


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, 3x3 depthwise, 1x1 project (zero-initialised BN), residual."""

    def __init__(self, chans, expand_ratio):
        super().__init__()
        hidden = int(chans * expand_ratio)
        self.conv1, self.act1 = Conv2d_BN(chans, hidden), nn.GELU()
        self.conv2, self.act2 = Conv2d_BN(hidden, hidden, 3, 1, 1, groups=hidden), nn.GELU()
        self.conv3, self.act3 = Conv2d_BN(hidden, chans, bn_weight_init=0.0), nn.GELU()

    def forward(self, x):
        y = self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))
        return self.act3(x + y)


class PatchMerging(nn.Module):
    """1x1 conv, depthwise 3x3 (stride 2, or 1 for the 320-channel stage), 1x1 conv; returns tokens."""

    def __init__(self, input_resolution, dim, out_dim):
        super().__init__()
        self.input_resolution = input_resolution
        self.act = nn.GELU()
        self.conv1 = Conv2d_BN(dim, out_dim)
        stride = 1 if out_dim in (320, 448, 576) else 2
        self.conv2 = Conv2d_BN(out_dim, out_dim, 3, stride, 1, groups=out_dim)
        self.conv3 = Conv2d_BN(out_dim, out_dim)

    def forward(self, x):
        if x.ndim == 3:
            h, w = self.input_resolution
            x = x.view(x.shape[0], h, w, -1).permute(0, 3, 1, 2)
        x = self.conv3(self.act(self.conv2(self.act(self.conv1(x)))))
        return x.flatten(2).transpose(1, 2)


class ConvLayer(nn.Module):
    """Stage 0: MBConv blocks then patch merging."""

    def __init__(self, dim, input_resolution, depth, out_dim, expand_ratio):
        super().__init__()
        self.blocks = nn.ModuleList([MBConv(dim, expand_ratio) for _ in range(depth)])
        self.downsample = PatchMerging(input_resolution, dim, out_dim)

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.downsample(x)


class Mlp(nn.Module):
    """LayerNorm -> fc1 -> GELU -> fc2."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.norm, self.fc1, self.fc2, self.act = nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.Linear(hidden, dim), nn.GELU()

    def forward(self, x):
        return self.fc2(self.act(self.fc1(self.norm(x))))


class Attention(nn.Module):
    """Windowed multi-head attention with a learned bias per (|dy|, |dx|) offset and head."""

    def __init__(self, dim, key_dim, num_heads, resolution):
        super().__init__()
        self.num_heads, self.key_dim, self.scale = num_heads, key_dim, key_dim**-0.5
        self.d = key_dim  # attn_ratio 1
        self.dh = key_dim * num_heads
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, self.dh + 2 * key_dim * num_heads)
        self.proj = nn.Linear(self.dh, dim)
        pts = list(itertools.product(range(resolution), range(resolution)))
        offsets, idxs = {}, []
        for p in pts:
            for q in pts:
                off = (abs(p[0] - q[0]), abs(p[1] - q[1]))
                idxs.append(offsets.setdefault(off, len(offsets)))
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, len(offsets)))
        self.register_buffer('attention_bias_idxs', torch.tensor(idxs).view(len(pts), len(pts)), persistent=False)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, n, self.num_heads, -1).split([self.key_dim, self.key_dim, self.d], 3)
        q, k, v = q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3)
        attn = (q @ k.transpose(-2, -1)) * self.scale + self.attention_biases[:, self.attention_bias_idxs]
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(b, n, self.dh)
        return self.proj(x)


class TinyViTBlock(nn.Module):
    """Window attention (zero-padded to whole windows), depthwise local conv, MLP; residuals around both."""

    def __init__(self, dim, input_resolution, num_heads, window_size, mlp_ratio, local_conv_size):
        super().__init__()
        self.input_resolution, self.window_size = input_resolution, window_size
        self.attn = Attention(dim, dim // num_heads, num_heads, window_size)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.local_conv = Conv2d_BN(dim, dim, local_conv_size, 1, local_conv_size // 2, groups=dim)

    def forward(self, x):
        h, w = self.input_resolution
        b, n, c = x.shape
        ws = self.window_size
        res = x
        if h == ws and w == ws:
            x = self.attn(x)
        else:
            x = x.view(b, h, w, c)
            pb, pr = (ws - h % ws) % ws, (ws - w % ws) % ws
            if pb or pr:
                x = F.pad(x, (0, 0, 0, pr, 0, pb))
            ph, pw = h + pb, w + pr
            nh, nw = ph // ws, pw // ws
            x = x.view(b, nh, ws, nw, ws, c).transpose(2, 3).reshape(b * nh * nw, ws * ws, c)
            x = self.attn(x)
            x = x.view(b, nh, nw, ws, ws, c).transpose(2, 3).reshape(b, ph, pw, c)
            x = x[:, :h, :w].contiguous().view(b, n, c)
        x = res + x
        x = self.local_conv(x.transpose(1, 2).reshape(b, c, h, w)).view(b, c, n).transpose(1, 2)
        return x + self.mlp(x)


class BasicLayer(nn.Module):
    """Stages 1-3: TinyViT blocks, then patch merging except in the last stage."""

    def __init__(self, dim, input_resolution, depth, num_heads, window_size, mlp_ratio, local_conv_size,
                 out_dim=None):
        super().__init__()
        self.blocks = nn.ModuleList([
            TinyViTBlock(dim, input_resolution, num_heads, window_size, mlp_ratio, local_conv_size)
            for _ in range(depth)
        ])
        self.downsample = PatchMerging(input_resolution, dim, out_dim) if out_dim else None

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.downsample(x) if self.downsample is not None else x


class LayerNorm2d(nn.Module):
    """LayerNorm over channels of [B, C, H, W] (eps 1e-6), as SAM's neck uses."""

    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c)), eps

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        return self.weight[:, None, None] * ((x - u) / torch.sqrt(s + self.eps)) + self.bias[:, None, None]


class TinyViT(nn.Module):
    """MobileSAM image encoder: [B, 3, S, S] -> [B, 256, S/16, S/16] (S = 1024 for vit_t)."""

    def __init__(self, img_size=1024, in_chans=3, num_classes=1000, **kw):
        super().__init__()
        c = {**VIT_T, **kw}
        dims, depths = c['embed_dims'], c['depths']
        self.img_size = img_size
        self.patch_embed = PatchEmbed(in_chans, dims[0], img_size)
        r = img_size // 4
        self.layers = nn.ModuleList()
        for i in range(len(depths)):
            res = r // (2 ** (i - 1 if i == 3 else i))
            out_dim = dims[min(i + 1, len(dims) - 1)] if i < len(depths) - 1 else None
            if i == 0:
                self.layers.append(ConvLayer(dims[0], (res, res), depths[0], out_dim, c['mbconv_expand_ratio']))
            else:
                self.layers.append(BasicLayer(dims[i], (res, res), depths[i], c['num_heads'][i],
                                              c['window_sizes'][i], c['mlp_ratio'], c['local_conv_size'], out_dim))
        # Unused by SAM; present in mobile_sam.pt, so kept for strict loading.
        self.norm_head = nn.LayerNorm(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)
        self.out_res = img_size // 16
        self.apply(_init)
        self.neck = nn.Sequential(nn.Conv2d(dims[-1], 256, 1, bias=False), LayerNorm2d(256),
                                  nn.Conv2d(256, 256, 3, padding=1, bias=False), LayerNorm2d(256))

    def forward(self, x):
        x = self.patch_embed(x)
        for layer in self.layers:
            x = layer(x)
        b, _, c = x.shape
        x = x.view(b, self.out_res, self.out_res, c).permute(0, 3, 1, 2)
        return self.neck(x)


def _init(m):
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


def load_mobile_sam_encoder(encoder: TinyViT, checkpoint: str | dict) -> None:
    """Load the `image_encoder.*` entries of mobile_sam.pt (path or state dict) with strict=True."""
    state = torch.load(checkpoint, map_location='cpu') if isinstance(checkpoint, str) else checkpoint
    if 'model' in state and isinstance(state['model'], dict):
        state = state['model']
    prefix = 'image_encoder.'
    enc = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    if not enc:
        raise KeyError('no image_encoder.* keys in the checkpoint')
    encoder.load_state_dict(enc, strict=True)
