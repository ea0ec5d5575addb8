"""Writes prediction_vectors.json: diffusers' DDPMScheduler, DDIMScheduler,
DPMSolverMultistepScheduler (++ and SDE) and EulerAncestralDiscreteScheduler with
prediction_type v_prediction and sample, driven by a fixed fake model with fixed noise, every
step recorded; and the scheduler_config.json that DDPMScheduler.save_pretrained writes for the
recipe's schedule with v_prediction.

    python Tests/Fixtures/make_prediction_vectors.py   (torch + diffusers, run from the package root)

The fake model is the one of make_fewstep_vectors.py, out(x, t) = 0.8 tanh(x) cos(0.003 t) + 0.05 x
(float32), its output read as v or as x0. x_T and the per-step noise come from numpy's
RandomState and are stored in the file, so the tests need neither torch nor numpy.
"""
import json
import sys
import tempfile

import numpy as np
import torch
import diffusers
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler
import diffusers.schedulers.scheduling_ddpm as ddpm_module
import diffusers.schedulers.scheduling_euler_ancestral_discrete as euler_module

from fixture_model import fake_model, flat  # beside this script

SCHEDULE = dict(num_train_timesteps=1000, beta_start=1e-4, beta_end=0.01, beta_schedule="linear")
SHAPE = (2, 1, 4, 4)
STEPS = 10
MAX_STEPS = 12

x_T = np.random.RandomState(0).standard_normal(SHAPE).astype(np.float32)
noise = np.random.RandomState(1).standard_normal((MAX_STEPS,) + SHAPE).astype(np.float32)


def patch_noise(module, i):
    step_noise = torch.from_numpy(noise[i])
    module.randn_tensor = lambda shape, **kwargs: step_noise  # the step's z, from the file


def run(name, scheduler_class, config, x0_of, steps=STEPS):
    s = scheduler_class(**SCHEDULE, **config)
    s.set_timesteps(steps)
    x = torch.from_numpy(x_T) * s.init_noise_sigma
    out = dict(scheduler=name, config=dict(SCHEDULE, **config), steps=steps,
               timesteps=flat(s.timesteps), prev_sample=[], x0=[])
    for i, t in enumerate(s.timesteps):
        patch_noise(ddpm_module, i)
        patch_noise(euler_module, i)
        output = fake_model(s.scale_model_input(x, t), t)
        kwargs = dict(variance_noise=torch.from_numpy(noise[i])) if scheduler_class is DPMSolverMultistepScheduler else {}
        result = s.step(output, t, x, **kwargs)
        x = result.prev_sample
        out["prev_sample"].append(flat(x))
        out["x0"].append(flat(x0_of(s, result)))
    return out


def pred_original(s, result):
    return result.pred_original_sample


def dpm_x0(s, result):
    return s.model_outputs[-1]


cases = []
for prediction in ["v_prediction", "sample"]:
    cases += [
        run("DDPMScheduler", DDPMScheduler, dict(prediction_type=prediction), pred_original),
        run("DDIMScheduler", DDIMScheduler, dict(prediction_type=prediction), pred_original),
        run("DPMSolverMultistepScheduler", DPMSolverMultistepScheduler,
            dict(prediction_type=prediction, algorithm_type="dpmsolver++", solver_order=2), dpm_x0),
        run("DPMSolverMultistepScheduler", DPMSolverMultistepScheduler,
            dict(prediction_type=prediction, algorithm_type="sde-dpmsolver++", solver_order=2), dpm_x0),
        run("DPMSolverMultistepScheduler", DPMSolverMultistepScheduler,
            dict(prediction_type=prediction, algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=True), dpm_x0),
    ]
# diffusers' Euler ancestral refuses prediction_type "sample" (NotImplementedError). 10 steps
# visit whole timesteps, 12 fractional ones (999/11 apart).
for steps in [10, 12]:
    cases.append(run("EulerAncestralDiscreteScheduler", EulerAncestralDiscreteScheduler, dict(prediction_type="v_prediction"),
                     pred_original, steps))

with tempfile.TemporaryDirectory() as folder:
    DDPMScheduler(**SCHEDULE, prediction_type="v_prediction").save_pretrained(folder)
    with open(folder + "/scheduler_config.json") as f:
        config_text = f.read()

fixture = dict(
    meta=dict(
        torch=torch.__version__, diffusers=diffusers.__version__, python=sys.version.split()[0],
        made_by="Tests/Fixtures/make_prediction_vectors.py",
        layout="tensors flattened row-major from [2,1,4,4] (C = 1: NCHW and NHWC coincide)",
        model="out(x, t) = 0.8 tanh(x) cos(0.003 t) + 0.05 x, float32, x = scale_model_input(sample, t); "
              "read as v (v_prediction) or x0 (sample)",
        x_T="numpy RandomState(0).standard_normal([2,1,4,4]) float32; the run starts from x_T * init_noise_sigma",
        noise="numpy RandomState(1).standard_normal([12,2,1,4,4]) float32; step i uses noise[i] "
              "(DPM: variance_noise, DDPM and Euler: randn_tensor patched to return it)",
        prev_sample="each step's prev_sample (Euler: the scheduler's own, unscaled, sample)",
        x0="DPM: model_outputs[-1] after the step; the others: pred_original_sample",
        scheduler_config="DDPMScheduler(recipe schedule, prediction_type v_prediction).save_pretrained: the file's text",
    ),
    x_T=[float(v) for v in x_T.reshape(-1)],
    noise=[[float(v) for v in n.reshape(-1)] for n in noise],
    cases=cases,
    scheduler_config=config_text,
)
with open("Tests/Fixtures/prediction_vectors.json", "w") as f:
    json.dump(fixture, f, separators=(",", ":"))
print("wrote Tests/Fixtures/prediction_vectors.json")
