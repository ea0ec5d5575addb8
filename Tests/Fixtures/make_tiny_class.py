"""Writes tiny-class/ and tiny-class-timestep/: class-conditional UNet2DModels (the tiny
config of tiny/ with a class embedding) with diffusers' outputs and gradients, for
UNetParityTests and ClassEmbeddingTests.

  tiny-class/            num_class_embeds = 11 (class_embed_type None): nn.Embedding(11, 32), the
                         layout `launcher train --conditional` writes (10 classes + the null class)
  tiny-class-timestep/   class_embed_type = "timestep", num_class_embeds = 11: the label through
                         the sinusoidal embedding and a TimestepEmbedding MLP

  <dir>/config.json, diffusion_pytorch_model.safetensors   model.save_pretrained(...)
  <dir>/io.safetensors     sample [3,1,16,16], timestep [3] (int64), class_labels [3] (int64, one
                           repeated so the table's gradient rows add up), output =
                           model(sample, timestep, class_labels=...).sample, target, loss =
                           mse(output, target) (mean), grad_sample = d loss / d sample
  <dir>/grads.safetensors  d loss / d parameter for every parameter, under its state_dict name

GroupNorm weights and biases are moved away from 1 and 0 so their gradients are not special.
Run with torch and diffusers installed (CPU is enough):
    python3 make_tiny_class.py
"""
import os

import torch
from diffusers import UNet2DModel
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def make(name, **class_args):
    out = os.path.join(HERE, name)
    torch.manual_seed(0)
    model = UNet2DModel(
        sample_size=16, in_channels=1, out_channels=1, block_out_channels=(8, 16, 16),
        down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        layers_per_block=2, attention_head_dim=8, norm_num_groups=8, **class_args,
    )
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "norm" in pname:
                p.add_(0.1 * torch.randn_like(p))
    model.eval()
    model.save_pretrained(out, safe_serialization=True)

    sample = torch.randn(3, 1, 16, 16, requires_grad=True)
    timestep = torch.tensor([999, 500, 17], dtype=torch.int64)
    class_labels = torch.tensor([7, 10, 7], dtype=torch.int64)
    target = torch.randn(3, 1, 16, 16)
    output = model(sample, timestep, class_labels=class_labels).sample
    loss = torch.nn.functional.mse_loss(output, target)
    loss.backward()

    save_file({
        "sample": sample.detach().contiguous(), "timestep": timestep, "class_labels": class_labels,
        "output": output.detach().contiguous(), "target": target, "loss": loss.detach().reshape(1),
        "grad_sample": sample.grad.contiguous(),
    }, os.path.join(out, "io.safetensors"))
    save_file({n: p.grad.contiguous() for n, p in model.named_parameters()}, os.path.join(out, "grads.safetensors"))
    print(name, "loss", loss.item(), "parameters", sum(p.numel() for p in model.parameters()))


make("tiny-class", num_class_embeds=11)
make("tiny-class-timestep", class_embed_type="timestep", num_class_embeds=11)
