"""PlainConvUNet in nnU-Net v2's 2D conventions, with a level-set head and an optional fused skip.

Parameter names follow `dynamic_network_architectures` (encoder.stages.S.0.convs.C.{conv,norm},
decoder.{stages,transpconvs,seg_layers}, decoder.encoder.*), so official nnU-Net v2 checkpoints load
with strict=True (the level-set head is the only extra; see `load_nnunet_weights`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class UNetConfig:
    """Topology of a 2D PlainConvUNet (what nnU-Net's plans call `architecture.arch_kwargs`)."""

    input_channels: int = 1
    num_classes: int = 2
    features_per_stage: list[int] = field(default_factory=lambda: [32, 64, 128, 256, 512, 512])
    strides: list = field(default_factory=lambda: [1, 2, 2, 2, 2, 2])  # int or [sy, sx] per stage
    kernel_size: int = 3
    n_conv_per_stage: int = 2
    n_conv_per_stage_decoder: int = 2
    deep_supervision: bool = True
    levelset_head: bool = True
    # Extra channels concatenated to one encoder skip before the decoder sees it (nnSAM fusion).
    fused_skip_index: int = 3
    fused_skip_channels: int = 0

    @property
    def n_stages(self) -> int:
        return len(self.features_per_stage)


class ConvNormAct(nn.Module):
    """Conv -> InstanceNorm(eps 1e-5, affine) -> LeakyReLU(0.01), named like nnU-Net's ConvDropoutNormReLU."""

    def __init__(self, cin: int, cout: int, k: int, stride):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, _pair(stride), k // 2, bias=True)
        self.norm = nn.InstanceNorm2d(cout, eps=1e-5, affine=True)
        self.nonlin = nn.LeakyReLU(0.01, inplace=True)
        self.all_modules = nn.Sequential(self.conv, self.norm, self.nonlin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.all_modules(x)


class StackedConvs(nn.Module):
    """n ConvNormAct blocks; only the first one strides."""

    def __init__(self, n: int, cin: int, cout: int, k: int, stride):
        super().__init__()
        blocks = [ConvNormAct(cin, cout, k, stride)] + [ConvNormAct(cout, cout, k, 1) for _ in range(n - 1)]
        self.convs = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.convs(x)


class PlainConvEncoder(nn.Module):
    """Strided-conv encoder returning every stage's output (the skips; the last is the bottleneck)."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        stages, cin = [], cfg.input_channels
        for f, s in zip(cfg.features_per_stage, cfg.strides):
            stages.append(nn.Sequential(StackedConvs(cfg.n_conv_per_stage, cin, f, cfg.kernel_size, s)))
            cin = f
        self.stages = nn.Sequential(*stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        skips = []
        for stage in self.stages:
            x = stage(x)
            skips.append(x)
        return skips


class UNetDecoder(nn.Module):
    """Transposed-conv decoder with 1x1 segmentation layers per stage and a level-set layer on top."""

    def __init__(self, encoder: PlainConvEncoder, cfg: UNetConfig):
        super().__init__()
        self.encoder = encoder  # registered on purpose: official checkpoints carry decoder.encoder.* keys
        self.cfg = cfg
        feats, n = cfg.features_per_stage, cfg.n_stages
        self.stages, self.transpconvs, self.seg_layers = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for s in range(1, n):
            below, skip, stride = feats[-s], feats[-(s + 1)], cfg.strides[-s]
            extra = cfg.fused_skip_channels if (n - 1 - s) == cfg.fused_skip_index else 0
            self.transpconvs.append(nn.ConvTranspose2d(below, skip, _pair(stride), _pair(stride), bias=True))
            self.stages.append(
                StackedConvs(cfg.n_conv_per_stage_decoder, 2 * skip + extra, skip, cfg.kernel_size, 1)
            )
            self.seg_layers.append(nn.Conv2d(skip, cfg.num_classes, 1, 1, 0, bias=True))
        # One tanh-scaled signed distance per foreground class, at full resolution only.
        self.levelset_layer = nn.Conv2d(feats[0], cfg.num_classes - 1, 1) if cfg.levelset_head else None

    def forward(self, skips: list[torch.Tensor]):
        x, seg, n = skips[-1], [], len(self.stages)
        for s in range(n):
            x = self.transpconvs[s](x)
            x = self.stages[s](torch.cat((x, skips[-(s + 2)]), 1))
            if self.cfg.deep_supervision or s == n - 1:
                seg.append(self.seg_layers[s](x))
        seg = seg[::-1]  # highest resolution first, as nnU-Net orders deep-supervision outputs
        ls = torch.tanh(self.levelset_layer(x)) if self.levelset_layer is not None else None
        return seg, ls


class PlainConvUNet(nn.Module):
    """Encoder + decoder. forward(x, fused=None) -> (list of logits, level set or None)."""

    def __init__(self, cfg: UNetConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = PlainConvEncoder(cfg)
        self.decoder = UNetDecoder(self.encoder, cfg)
        init_weights(self)

    def forward(self, x: torch.Tensor, fused: torch.Tensor | None = None):
        skips = self.encoder(x)
        if fused is not None:
            i = self.cfg.fused_skip_index
            skips[i] = torch.cat((skips[i], fused), 1)
        return self.decoder(skips)


def _pair(s) -> tuple[int, int]:
    return (s, s) if isinstance(s, int) else (int(s[0]), int(s[1]))


def config_from_plans(plans: dict, num_classes: int, configuration: str = '2d', **overrides) -> UNetConfig:
    """UNetConfig from nnU-Net v2 plans (the `architecture.arch_kwargs` format or the v2.1 fields)."""
    c = plans['configurations'][configuration]
    if 'architecture' in c:
        a = c['architecture']['arch_kwargs']
        feats, strides = list(a['features_per_stage']), a['strides']
        k = a['kernel_sizes'][0][0]
        nce, ncd = a['n_conv_per_stage'][0], a['n_conv_per_stage_decoder'][0]
    else:  # nnU-Net v2.1 (the nnSAM fork): derive features from base and max
        strides = c['pool_op_kernel_sizes']
        feats = [min(c['UNet_base_num_features'] * 2**i, c['unet_max_num_features']) for i in range(len(strides))]
        k = c['conv_kernel_sizes'][0][0]
        nce, ncd = c['n_conv_per_stage_encoder'][0], c['n_conv_per_stage_decoder'][0]
    cfg = UNetConfig(
        input_channels=len(c['normalization_schemes']), num_classes=num_classes, features_per_stage=feats,
        strides=[list(s) if not isinstance(s, int) else s for s in strides], kernel_size=k,
        n_conv_per_stage=nce, n_conv_per_stage_decoder=ncd,
    )
    for key, val in overrides.items():
        setattr(cfg, key, val)
    return cfg


def init_weights(module: nn.Module) -> None:
    """He (kaiming normal, a=0.01) init of convs and zero biases, as nnU-Net's InitWeights_He."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.kaiming_normal_(m.weight, a=1e-2)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def load_nnunet_weights(net: PlainConvUNet, state: dict) -> None:
    """Load an official nnU-Net v2 `network_weights` dict strictly; only our level-set head may be absent."""
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith('decoder.levelset_layer.')]
    if missing or unexpected:
        raise KeyError(f'weights do not match the topology: missing={missing[:5]} unexpected={unexpected[:5]}')
