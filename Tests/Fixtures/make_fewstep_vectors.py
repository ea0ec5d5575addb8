#!/usr/bin/env python3
"""Writes fewstep_vectors.json: diffusers' DPMSolverMultistepScheduler and
EulerAncestralDiscreteScheduler driven by a fixed fake model with fixed noise, every step
recorded, and diffusers' EMAModel over a fixed sequence of parameters.

    python3 Tests/Fixtures/make_fewstep_vectors.py

in a Python 3 with `pip install torch==2.15.0 diffusers==0.42.1 numpy`: the versions the
committed file was made with (Python 3.11.7), which its `meta` records.

The fake model is eps(x, t) = 0.8 tanh(x) cos(0.003 t) + 0.05 x (float32), which the Swift
tests compute too. x_T and the per-step noise come from numpy's RandomState and are stored in
the file, so the tests need neither torch nor numpy.
"""
import json
import sys

import numpy as np
import torch
import diffusers
from diffusers import DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler
from diffusers.training_utils import EMAModel
import diffusers.schedulers.scheduling_euler_ancestral_discrete as euler_module

from fixture_model import fake_model, flat  # beside this script

SCHEDULE = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.01, beta_schedule="linear",
                prediction_type="epsilon")
SHAPE = (2, 1, 4, 4)
MAX_STEPS = 25

x_T = np.random.RandomState(0).standard_normal(SHAPE).astype(np.float32)
noise = np.random.RandomState(1).standard_normal((MAX_STEPS,) + SHAPE).astype(np.float32)


def run_dpm(algorithm, order, spacing, karras, lower_order_final, steps):
    config = dict(SCHEDULE, algorithm_type=algorithm, solver_order=order, timestep_spacing=spacing,
                  use_karras_sigmas=karras, lower_order_final=lower_order_final)
    s = DPMSolverMultistepScheduler(**config)
    s.set_timesteps(steps)
    x = torch.from_numpy(x_T) * s.init_noise_sigma
    out = dict(scheduler="DPMSolverMultistepScheduler", config=config, steps=steps,
               timesteps=[int(t) for t in s.timesteps], sigmas=flat(s.sigmas), prev_sample=[], x0=[])
    for i, t in enumerate(s.timesteps):
        eps = fake_model(s.scale_model_input(x, t), t)
        x = s.step(eps, t, x, variance_noise=torch.from_numpy(noise[i])).prev_sample
        out["prev_sample"].append(flat(x))
        out["x0"].append(flat(s.model_outputs[-1]))
    return out


def run_euler(spacing, steps):
    config = dict(SCHEDULE, timestep_spacing=spacing)
    s = EulerAncestralDiscreteScheduler(**config)
    s.set_timesteps(steps)
    x = torch.from_numpy(x_T) * s.init_noise_sigma
    out = dict(scheduler="EulerAncestralDiscreteScheduler", config=config, steps=steps,
               timesteps=flat(s.timesteps), sigmas=flat(s.sigmas), init_noise_sigma=float(s.init_noise_sigma),
               prev_sample=[], x0=[])
    for i, t in enumerate(s.timesteps):
        step_noise = torch.from_numpy(noise[i])
        euler_module.randn_tensor = lambda shape, **kwargs: step_noise  # the step's z, from the file
        eps = fake_model(s.scale_model_input(x, t), t)
        result = s.step(eps, t, x)
        x = result.prev_sample
        out["prev_sample"].append(flat(x))
        out["x0"].append(flat(result.pred_original_sample))
    return out


def run_ema(steps=30, **kwargs):
    base = [torch.linspace(-1, 1, 5), torch.linspace(0.5, -0.25, 6).reshape(2, 3)]
    params = [torch.nn.Parameter(b.clone()) for b in base]
    ema = EMAModel(params, **kwargs)
    out = dict(settings=kwargs, initial=flat(torch.cat([p.detach().reshape(-1) for p in params])),
               parameters=[], shadow=[], decay=[])
    for k in range(1, steps + 1):
        with torch.no_grad():  # an "optimizer step": every parameter moves
            for j, p in enumerate(params):
                p.copy_(base[j] + 0.3 * torch.sin(torch.arange(p.numel(), dtype=torch.float32).reshape(p.shape) + 0.7 * k))
        ema.step(params)
        out["parameters"].append(flat(torch.cat([p.detach().reshape(-1) for p in params])))
        out["shadow"].append(flat(torch.cat([s.reshape(-1) for s in ema.shadow_params])))
        out["decay"].append(float(ema.cur_decay_value))
    return out


dpm_cases = [
    ("dpmsolver++", 1, "linspace", False, True, 10),
    ("dpmsolver++", 2, "linspace", False, True, 10),
    ("dpmsolver++", 3, "linspace", False, True, 10),
    ("dpmsolver++", 3, "linspace", False, False, 10),
    ("dpmsolver++", 2, "leading", False, True, 10),
    ("dpmsolver++", 2, "trailing", False, True, 10),
    ("dpmsolver++", 2, "linspace", False, True, 20),
    ("dpmsolver++", 3, "leading", False, True, 25),
    ("dpmsolver++", 2, "linspace", True, True, 15),
    ("dpmsolver++", 3, "linspace", True, True, 10),
    ("sde-dpmsolver++", 1, "linspace", False, True, 10),
    ("sde-dpmsolver++", 2, "linspace", False, True, 10),
    ("sde-dpmsolver++", 3, "linspace", False, True, 10),
    ("sde-dpmsolver++", 2, "trailing", False, True, 25),
    ("sde-dpmsolver++", 2, "linspace", True, True, 20),
]
euler_cases = [("linspace", 10), ("linspace", 20), ("leading", 15), ("trailing", 25)]
ema_cases = [
    dict(decay=0.999),
    dict(decay=0.6, update_after_step=3),
    dict(decay=0.9999, use_ema_warmup=True, inv_gamma=1.0, power=0.75),
    dict(decay=0.999, min_decay=0.3),
]

fixture = dict(
    meta=dict(
        torch=torch.__version__, diffusers=diffusers.__version__, python=sys.version.split()[0],
        made_by="Tests/Fixtures/make_fewstep_vectors.py",
        layout="tensors flattened row-major from [2,1,4,4] (C = 1: NCHW and NHWC coincide)",
        model="eps(x, t) = 0.8 tanh(x) cos(0.003 t) + 0.05 x, float32, x = scale_model_input(sample, t)",
        x_T="numpy RandomState(0).standard_normal([2,1,4,4]) float32; the pipeline starts from x_T * init_noise_sigma",
        noise="numpy RandomState(1).standard_normal([25,2,1,4,4]) float32; step i uses noise[i] "
              "(DPM: variance_noise, Euler: randn_tensor patched to return it)",
        prev_sample="each step's prev_sample; for Euler the scheduler's own (unscaled) sample",
        x0="DPM: model_outputs[-1] after the step (the x0 estimate); Euler: pred_original_sample",
        ema="EMAModel(params, **settings); before step k every parameter is set to "
            "base + 0.3 sin(arange(numel) + 0.7 k); shadow and cur_decay_value after ema.step(params)",
    ),
    x_T=[float(v) for v in x_T.reshape(-1)],
    noise=[[float(v) for v in n.reshape(-1)] for n in noise],
    dpm=[run_dpm(*c) for c in dpm_cases],
    euler_ancestral=[run_euler(*c) for c in euler_cases],
    ema=[run_ema(**c) for c in ema_cases],
)
with open("Tests/Fixtures/fewstep_vectors.json", "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
print("wrote Tests/Fixtures/fewstep_vectors.json")
