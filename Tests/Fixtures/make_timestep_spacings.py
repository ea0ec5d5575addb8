"""Writes timestep_spacings.json: the timestep lists diffusers' set_timesteps produces for each
timestep_spacing (numpy formulas as documented in diffusers 0.42.1), and the DDIM paper's
quadratic subsequence, for T = 1000. Run: python3 make_timestep_spacings.py (numpy only)."""
import json
import numpy as np

T = 1000
COUNTS = [1, 2, 3, 5, 7, 10, 16, 25, 50, 61, 100, 103, 366, 500, 999, 1000]


def leading(n, offset):
    return ((np.arange(0, n) * (T // n)).round()[::-1] + offset).astype(np.int64)


def trailing(n):
    return np.round(np.arange(T, 0, -T / n)).astype(np.int64) - 1


def linspace(n):
    return np.linspace(0, T - 1, n).round()[::-1].astype(np.int64)


def quadratic(s):
    taus = (np.linspace(0, np.sqrt(0.8 * T), s) ** 2).astype(int)
    return np.unique(taus)[::-1]


out = {"meta": {"numpy": np.__version__, "T": T,
                "note": "lists are in visiting order (largest first); a trailing list longer than n "
                        "ends at -1 (numpy arange quirk) and must be rejected"},
       "leading": {str(n): leading(n, 0).tolist() for n in COUNTS},
       "leading_offset1": {str(n): leading(n, 1).tolist() for n in COUNTS},
       "trailing": {str(n): trailing(n).tolist() for n in COUNTS},
       "linspace": {str(n): linspace(n).tolist() for n in COUNTS},
       "ddim_quadratic": {str(s): quadratic(s).tolist() for s in [1, 2, 10, 20, 50, 100, 366, 1000]}}
with open("timestep_spacings.json", "w") as f:
    json.dump(out, f, separators=(",", ":"))
