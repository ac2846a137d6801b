"""A small safetensors file written from the Python side (PyTorch tensors through fixture.save),
for test_safetensors: F32 and I32 tensors of a few shapes plus string metadata. The values
are simple closed forms so the C test can recompute them."""
import torch

from fixture import out_path, save

a = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.25 - 1.0   # a[i][j] = (4i+j)/4 - 1
b = torch.tensor([-7, 0, 3, 2**31 - 1, -(2**31)], dtype=torch.int32)
c = torch.full((2, 1, 3), -0.0, dtype=torch.float32)
c[1, 0, 2] = 1e-30
save(out_path(), {"weights.a": a, "ids": b, "nested/c": c},
     meta={"format": "pt", "config": '{"d_model": 64, "name": "caf\u00e9"}', "step": 1234})
