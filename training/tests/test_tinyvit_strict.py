"""TinyViT vit_t: mobile_sam.pt's `image_encoder.*` layout loads with strict=True (self-made state dict)."""

import os
import tempfile
import unittest

import torch

from training.nets.nnsam import NnSam
from training.nets.plain_conv_unet import config_from_plans
from training.nets.tiny_vit import TinyViT, load_mobile_sam_encoder
from training.tests.helpers import tiny_plans

# Keys and shapes as they appear in MobileSAM's checkpoint for vit_t (a sample across every module kind).
OFFICIAL_SAMPLE = {
    'image_encoder.patch_embed.seq.0.c.weight': (32, 3, 3, 3),
    'image_encoder.patch_embed.seq.2.bn.running_var': (64,),
    'image_encoder.layers.0.blocks.0.conv1.c.weight': (256, 64, 1, 1),
    'image_encoder.layers.0.blocks.1.conv2.c.weight': (256, 1, 3, 3),
    'image_encoder.layers.0.downsample.conv2.c.weight': (128, 1, 3, 3),
    'image_encoder.layers.1.blocks.0.attn.attention_biases': (4, 49),
    'image_encoder.layers.1.blocks.0.attn.qkv.weight': (384, 128),
    'image_encoder.layers.2.blocks.5.attn.attention_biases': (5, 196),
    'image_encoder.layers.2.blocks.5.mlp.fc1.weight': (640, 160),
    'image_encoder.layers.2.blocks.5.local_conv.c.weight': (160, 1, 3, 3),
    'image_encoder.layers.2.downsample.conv1.c.weight': (320, 160, 1, 1),
    'image_encoder.layers.3.blocks.1.attn.proj.weight': (320, 320),
    'image_encoder.norm_head.weight': (320,),
    'image_encoder.head.weight': (1000, 320),
    'image_encoder.neck.0.weight': (256, 320, 1, 1),
    'image_encoder.neck.1.weight': (256,),
    'image_encoder.neck.2.weight': (256, 256, 3, 3),
    'image_encoder.neck.3.bias': (256,),
}


def official_layout_state_dict(seed: int = 0) -> dict:
    """A full mobile_sam.pt-like dict: random encoder tensors plus prompt-encoder / mask-decoder keys."""
    g = torch.Generator().manual_seed(seed)
    enc = TinyViT(img_size=1024).state_dict()
    sd = {'image_encoder.' + k: (torch.randn(v.shape, generator=g) if v.is_floating_point() else v.clone())
          for k, v in enc.items()}
    sd['prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'] = torch.randn(2, 128, generator=g)
    sd['mask_decoder.iou_token.weight'] = torch.randn(1, 256, generator=g)
    return sd


class TinyVitStrictLoadingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sd = official_layout_state_dict()

    def test_official_key_names_and_shapes(self):
        for k, shape in OFFICIAL_SAMPLE.items():
            self.assertIn(k, self.sd)
            self.assertEqual(tuple(self.sd[k].shape), shape, k)
        n = sum(v.numel() for k, v in self.sd.items() if k.startswith('image_encoder.')
                and 'running' not in k and 'num_batches' not in k and '.head.' not in k and 'norm_head' not in k)
        self.assertTrue(5.6e6 < n < 5.9e6, n)  # vit_t: about 5.7 M parameters

    def test_strict_load_from_file_and_values(self):
        enc = TinyViT(img_size=1024)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, 'mobile_sam.pt')
            torch.save(self.sd, p)
            load_mobile_sam_encoder(enc, p)
        w = enc.layers[2].blocks[3].attn.qkv.weight
        self.assertTrue(torch.equal(w, self.sd['image_encoder.layers.2.blocks.3.attn.qkv.weight']))

    def test_missing_or_extra_key_fails(self):
        enc = TinyViT(img_size=1024)
        bad = dict(self.sd)
        bad.pop('image_encoder.neck.3.bias')
        with self.assertRaises(RuntimeError):
            load_mobile_sam_encoder(enc, bad)
        bad = dict(self.sd)
        bad['image_encoder.extra.weight'] = torch.zeros(1)
        with self.assertRaises(RuntimeError):
            load_mobile_sam_encoder(enc, bad)

    def test_nnsam_keeps_pretrained_convs(self):
        # The official nnSAM re-initialises every Conv2d after loading; ours must not.
        net = NnSam(config_from_plans(tiny_plans(), 2), sam_checkpoint=self.sd)
        key = 'layers.0.blocks.0.conv1.c.weight'
        self.assertTrue(torch.equal(net.image_encoder.state_dict()[key], self.sd['image_encoder.' + key]))
        self.assertTrue(torch.equal(net.image_encoder.neck[2].weight, self.sd['image_encoder.neck.2.weight']))


if __name__ == '__main__':
    unittest.main()
