# The recipe in PyTorch + diffusers, for comparing this package's training with the original.
# Not used by the tests. Needs torch and diffusers in a virtual environment outside the repo:
#   python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch diffusers safetensors numpy
# Writes the batch loss, learning rate and gradient norm of every step to --out (CSV).
# docs/lr-1e-2/ was made with (our init from `launcher train --preset small --epochs 1
# --max-steps 1 --max-lr 1e-12 --out /tmp/ours-init`, i.e. the initial weights):
#   python scripts/pytorch-recipe.py --steps 0 --save-init /tmp/torch-init      # PyTorch's own init, seed 0
#   python scripts/pytorch-recipe.py --steps 200 --plan 469 --threads 1 --out pytorch-our-init.csv --init /tmp/ours-init/model
#   python scripts/pytorch-recipe.py --steps 200 --plan 469 --threads 1 --out pytorch-pytorch-init.csv --init /tmp/torch-init
# and the Swift side with `launcher train --preset small --epochs 1 --max-steps 200 --init-from /tmp/torch-init`.
import argparse, gzip, json, math, time, sys
import numpy as np, torch, torch.nn.functional as F
from diffusers import UNet2DModel
p = argparse.ArgumentParser()
p.add_argument('--init'); p.add_argument('--save-init'); p.add_argument('--seed', type=int, default=0)
p.add_argument('--steps', type=int, default=100); p.add_argument('--plan', type=int, default=469)
p.add_argument('--max-lr', type=float, default=1e-2); p.add_argument('--out', default='torch.csv')
p.add_argument('--threads', type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(a.seed)
with gzip.open('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz') as f:
    x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
x = torch.from_numpy(x.astype(np.float32) / 255)
x = F.interpolate(x, size=(32, 32), mode='bilinear', align_corners=False) - 0.5
if a.init:
    model = UNet2DModel.from_pretrained(a.init)
else:
    model = UNet2DModel(sample_size=32, in_channels=1, out_channels=1, block_out_channels=(16, 32, 64, 128), norm_num_groups=8,
                        down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                        up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"))
if a.save_init: model.save_pretrained(a.save_init)
betas = torch.linspace(1e-4, 0.01, 1000, dtype=torch.float64)
abar = torch.cumprod(1 - betas, 0)
opt = torch.optim.Adam(model.parameters(), lr=a.max_lr, eps=1e-5)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.max_lr, total_steps=a.plan)
perm = torch.randperm(len(x))
out = open(a.out, 'w'); out.write('step,loss,lr,gradnorm\n')
t0 = time.time()
for step in range(a.steps):
    idx = perm[(step * 128) % len(x):][:128]
    x0 = x[idx]
    t = torch.randint(0, 1000, (len(idx),))
    eps = torch.randn_like(x0)
    ab = abar[t].float().view(-1, 1, 1, 1)
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    loss = F.mse_loss(model(xt, t).sample, eps)
    opt.zero_grad(); loss.backward()
    gn = torch.sqrt(sum((q.grad.double() ** 2).sum() for q in model.parameters())).item()
    lr = sched.get_last_lr()[0]
    opt.step(); sched.step()
    out.write(f'{step},{loss.item():.6f},{lr:.6e},{gn:.4f}\n'); out.flush()
    if step % 10 == 0: print(step, round(loss.item(), 4), f'{lr:.2e}', round(gn, 3), f'{time.time()-t0:.0f}s', flush=True)
