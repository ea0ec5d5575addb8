#!/usr/bin/env python3
"""NumPy's view of our .npy/.npz files, and files written by NumPy for our reader.

  numpy_check.py read FILE...   -> JSON {file: {array name or "": {dtype, shape, values}}}
  numpy_check.py probe          -> exits 0 if numpy imports
  numpy_check.py write DIR      -> writes np_f4.npy, np_f8.npy, np_stats.npz (np.savez),
                                   np_stats_compressed.npz (np.savez_compressed)
Exits 3 if numpy cannot be imported, so the caller can skip.
"""
import json
import sys

try:
    import numpy as np
except ImportError:
    sys.exit(3)


def describe(a):
    return {'dtype': a.dtype.str, 'shape': list(a.shape), 'values': a.ravel().tolist()}


if __name__ == '__main__':
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == 'probe':
        pass
    elif mode == 'read':
        out = {}
        for path in args:
            loaded = np.load(path, allow_pickle=False)
            if path.endswith('.npz'):
                out[path] = {k: describe(loaded[k]) for k in loaded.files}
            else:
                out[path] = {'': describe(loaded)}
        print(json.dumps(out))
    elif mode == 'write':
        d = args[0]
        np.save(f'{d}/np_f4.npy', (np.arange(24, dtype=np.float32) * 0.5 - 3).reshape(2, 3, 4))
        np.save(f'{d}/np_f8.npy', np.arange(5, dtype=np.float64) / 3)
        mu = np.arange(4, dtype=np.float64) / 7
        sigma = np.eye(4) * 2 + 0.25
        np.savez(f'{d}/np_stats.npz', mu=mu, sigma=sigma)
        np.savez_compressed(f'{d}/np_stats_compressed.npz', mu=mu, sigma=sigma)
    else:
        sys.exit(f'unknown mode {mode}')
