"""The int8 variant: per-channel weight quantisation, its DequantizeLinear graph, and parity of the file
with the int8-rounded PyTorch weights it stores (onnxruntime-node)."""

import os
import tempfile
import unittest

import numpy as np
import onnx

from training.export import int8_per_channel
from training.importer import import_folder
from training.tests.helpers import tiny_plans
from training.tests.test_importer_onnx import write_official_folder


class Int8Test(unittest.TestCase):
    def test_per_channel_roundtrip(self):
        rng = np.random.default_rng(0)
        w = rng.standard_normal((6, 3, 3, 3)).astype(np.float32) * np.array([1e-3, 0.1, 1, 10, 0, 2],
                                                                              np.float32).reshape(-1, 1, 1, 1)
        q, scale = int8_per_channel(w)
        self.assertEqual((q.dtype, scale.dtype, scale.shape), (np.int8, np.float32, (6,)))
        back = q.astype(np.float32) * scale.reshape(-1, 1, 1, 1)
        err = np.abs(back - w).reshape(6, -1).max(1)
        # Rounding error at most half a step, per channel: small channels keep their own precision.
        np.testing.assert_array_less(err, scale / 2 + 1e-12)
        self.assertEqual(int(np.abs(q).max()), 127)
        self.assertTrue((q[4] == 0).all())  # an all-zero channel stays zero (no division by zero)

    def test_import_with_int8_variant(self):
        with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as out:
            write_official_folder(src, tiny_plans(), levelset=True)
            r = import_folder(src, out, int8=True)  # raises when any file misses parity (1e-4)
            self.assertIn('model.int8.onnx', r['files'])
            self.assertLessEqual(max(r['parity']['model.int8.onnx']['random'].values()), 1e-4)
            m = onnx.load(os.path.join(out, 'model.int8.onnx'))
            dq = [n for n in m.graph.node if n.op_type == 'DequantizeLinear']
            stored = {i.name: i.data_type for i in m.graph.initializer}
            self.assertTrue(dq)
            self.assertTrue(all(stored[n.input[0]] == onnx.TensorProto.INT8 for n in dq))
            # Every convolution kernel of the fp32 graph is dequantised; nothing else is.
            g32 = onnx.load(os.path.join(out, 'model.onnx')).graph
            kernels = {n.input[1] for n in g32.node if n.op_type in ('Conv', 'ConvTranspose')}
            self.assertEqual({n.output[0] for n in dq}, kernels)
            self.assertLess(os.path.getsize(os.path.join(out, 'model.int8.onnx')),
                            os.path.getsize(os.path.join(out, 'model.onnx')) / 2)


if __name__ == '__main__':
    unittest.main()
