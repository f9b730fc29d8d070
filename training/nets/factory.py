"""Build the network a plans file describes: PlainConvUNet (+ level-set head), or nnSAM."""

from __future__ import annotations

from torch import nn

from .plain_conv_unet import PlainConvUNet, config_from_plans


def build_network(plans: dict, num_classes: int, sam: bool = False, sam_checkpoint: str | None = None,
                  configuration: str = '2d', deep_supervision: bool = True) -> nn.Module:
    """The 'no SAM branch' switch is `sam=False`: an nnU-Net plus level-set head."""
    if not sam:
        return PlainConvUNet(config_from_plans(plans, num_classes, configuration, deep_supervision=deep_supervision))
    from .nnsam import NnSam

    return NnSam(config_from_plans(plans, num_classes, configuration, deep_supervision=deep_supervision),
                 sam_checkpoint=sam_checkpoint)
