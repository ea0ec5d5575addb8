"""Writes tiny-rgb/: a small RGB UNet2DModel (in_channels = out_channels = 3, the most common
diffusers config) with diffusers' outputs and gradients, for UNetParityTests.

  tiny-rgb/config.json, diffusion_pytorch_model.safetensors   model.save_pretrained(...)
  tiny-rgb/io.safetensors     sample [3,3,16,16], timestep [3] (int64), output = model(sample, timestep).sample,
                              target [3,3,16,16], loss = mse(output, target) (mean), grad_sample = d loss / d sample
  tiny-rgb/grads.safetensors  d loss / d parameter for every parameter, under its state_dict name

The config differs from tiny/ in more than the channels, to cover other plans: one resnet per
down block (two per up block), 4-wide attention heads (the general attention path) and 4
GroupNorm groups. GroupNorm weights and biases are moved away from 1 and 0 so their
gradients are not special. Run with torch and diffusers 0.42.1 installed (CPU is enough):
    python3 make_tiny_rgb.py
"""
import os

import torch
from diffusers import UNet2DModel
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tiny-rgb")

torch.manual_seed(0)
model = UNet2DModel(
    sample_size=16, in_channels=3, out_channels=3, block_out_channels=(8, 16, 16),
    down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
    up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
    layers_per_block=1, attention_head_dim=4, norm_num_groups=4,
)
with torch.no_grad():
    for name, p in model.named_parameters():
        if "norm" in name:
            p.add_(0.1 * torch.randn_like(p))
model.eval()
model.save_pretrained(OUT, safe_serialization=True)

sample = torch.randn(3, 3, 16, 16, requires_grad=True)
timestep = torch.tensor([999, 500, 17], dtype=torch.int64)
target = torch.randn(3, 3, 16, 16)
output = model(sample, timestep).sample
loss = torch.nn.functional.mse_loss(output, target)
loss.backward()

save_file({
    "sample": sample.detach().contiguous(), "timestep": timestep, "output": output.detach().contiguous(),
    "target": target, "loss": loss.detach().reshape(1), "grad_sample": sample.grad.contiguous(),
}, os.path.join(OUT, "io.safetensors"))
save_file({name: p.grad.contiguous() for name, p in model.named_parameters()}, os.path.join(OUT, "grads.safetensors"))
print("loss", loss.item(), "parameters", sum(p.numel() for p in model.parameters()))
