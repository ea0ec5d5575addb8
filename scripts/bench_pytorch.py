# Side by side in one run: `launcher bench model` (our kernels, oneDNN fp32, oneDNN bf16) and
# PyTorch + diffusers (fp32 eager, bf16 autocast, optionally torch.compile) on the same model
# presets, batches, iteration counts and thread count. Run by scripts/bench-pytorch, which
# makes the virtual environment (torch and diffusers from PyPI, outside the repository).
# Every variant runs in its own process, so peak RSS is the variant's own.
import argparse, json, os, resource, statistics, subprocess, sys, time

# The presets of Sources/Diffusion/Model/UNetConfig.swift as diffusers configs; the worker
# checks that the parameter count matches ours.
PRESETS = {
    'seed': (32, 64, 128, 256),
    'small': (16, 32, 64, 128),
}


def model_for(preset):
    from diffusers import UNet2DModel
    return UNet2DModel(sample_size=32, in_channels=1, out_channels=1, block_out_channels=PRESETS[preset],
                       layers_per_block=2, attention_head_dim=8, norm_num_groups=8,
                       down_block_types=('DownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D', 'AttnDownBlock2D'),
                       up_block_types=('AttnUpBlock2D', 'AttnUpBlock2D', 'AttnUpBlock2D', 'UpBlock2D'))


def worker(a):
    """One PyTorch variant: forward (no grad) and train step (forward, MSE, backward, Adam)."""
    import contextlib, torch
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = model_for(a.preset)
    params = sum(p.numel() for p in model.parameters())
    autocast = (lambda: torch.autocast('cpu', dtype=torch.bfloat16)) if a.variant.endswith('bf16') \
        else contextlib.nullcontext
    run = torch.compile(model) if a.variant.startswith('compile') else model
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def batch(n):
        return torch.randn(n, 1, 32, 32), torch.randint(0, 1000, (n,))

    def timed(step, n):
        times = []
        for i in range(a.iterations + 1):  # the first run warms up (and compiles)
            t0 = time.perf_counter()
            step()
            if i > 0:
                times.append(time.perf_counter() - t0)
        return n / statistics.median(times)

    x, t = batch(a.forward_batch)

    def forward():
        with torch.no_grad(), autocast():
            run(x, t).sample

    model.eval()
    fwd = timed(forward, a.forward_batch)
    model.train()
    xt, tt = batch(a.batch)

    def train():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = torch.nn.functional.mse_loss(run(xt, tt).sample.float(), xt)
        loss.backward()
        opt.step()

    tr = timed(train, a.batch)
    print(json.dumps({'parameters': params, 'forwardImagesPerSecond': fwd, 'trainImagesPerSecond': tr,
                      'peakRSSMiB': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      'torch': torch.__version__}))


# Our variants by --ours name: (backend, precision, oneDNN algorithm, --low-memory); bf16 runs direct.
OURS = {'swift-fp32': ('swift', 'fp32', 'direct', False), 'onednn-fp32': ('onednn', 'fp32', 'direct', False),
        'onednn-winograd': ('onednn', 'fp32', 'winograd', False), 'onednn-bf16': ('onednn', 'bf16', 'direct', False),
        'bf16-low-memory': ('onednn', 'bf16', 'direct', True)}


def ours(a, preset, backend, precision, algorithm, out, low_memory=False):
    path = os.path.join(out, f'ours-{preset}-{backend}-{precision}-{algorithm}{"-low-memory" if low_memory else ""}.json')
    cmd = [a.launcher, 'bench', 'model', '--preset', preset, '--batch', str(a.batch), '--forward-batch',
           str(a.forward_batch), '--iterations', str(a.iterations), '--threads', str(a.threads),
           '--backend', backend, '--json', path]
    if backend == 'onednn':
        cmd += ['--precision', precision, '--conv-algorithm', algorithm]
    if low_memory:
        cmd.append('--low-memory')
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(path) as f:
        return json.load(f)


def theirs(a, preset, variant):
    cmd = [sys.executable, __file__, '--worker', '--preset', preset, '--variant', variant, '--batch', str(a.batch),
           '--forward-batch', str(a.forward_batch), '--iterations', str(a.iterations), '--threads', str(a.threads)]
    try:
        done = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=a.timeout)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        print(f'{variant} on {preset}: failed ({type(e).__name__}); left out', file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--worker', action='store_true', help=argparse.SUPPRESS)
    p.add_argument('--variant', default='eager-fp32')
    p.add_argument('--launcher')
    p.add_argument('--presets', nargs='+', default=['seed', 'small'])
    p.add_argument('--preset', default='seed')
    p.add_argument('--batch', type=int, default=128)
    p.add_argument('--forward-batch', type=int, default=256)
    p.add_argument('--iterations', type=int, default=3)
    p.add_argument('--rounds', type=int, default=1,
                   help='run every variant this many times, in turn; figures are medians over rounds, and each '
                        'ratio the median of the ratios within a round (a shared machine drifts between variants)')
    p.add_argument('--threads', type=int, default=os.cpu_count())
    p.add_argument('--compile', action='store_true', help='also time torch.compile (slow to compile)')
    p.add_argument('--ours', nargs='+', choices=list(OURS), default=[k for k in OURS if k != 'bf16-low-memory'],
                   help='our variants to time (default: all but bf16-low-memory)')
    p.add_argument('--timeout', type=float, default=1800)
    p.add_argument('--out', default='runs/bench-pytorch')
    a = p.parse_args()
    if a.worker:
        return worker(a)
    os.makedirs(a.out, exist_ok=True)
    ours_variants = [OURS[k] for k in a.ours]
    torch_variants = ['eager-fp32', 'eager-bf16'] + (['compile-fp32', 'compile-bf16'] if a.compile else [])
    rows, peaks = [], []
    load_start = os.getloadavg()
    # Every variant's figures as they come, so that a stopped run keeps what it measured.
    log = open(os.path.join(a.out, 'figures.jsonl'), 'a')

    def keep(preset, round_, name, r):
        log.write(json.dumps({'time': time.strftime('%Y-%m-%d %H:%M:%S'), 'load': os.getloadavg()[0], 'preset': preset,
                              'round': round_, 'variant': name, **r}) + '\n')
        log.flush()
        print(f"{preset} round {round_ + 1}/{a.rounds} {name}: train {r['trainImagesPerSecond']:.1f}, "
              f"forward {r['forwardImagesPerSecond']:.1f} img/s", file=sys.stderr, flush=True)

    for preset in a.presets:
        rounds = []  # per round: variant name -> figures
        for round_ in range(a.rounds):
            results = {}
            for backend, precision, algorithm, low_memory in ours_variants:
                name = f'ours {backend} {precision}' + (' winograd' if algorithm == 'winograd' else '') \
                    + (' low-memory' if low_memory else '')
                r = results[name] = ours(a, preset, backend, precision, algorithm, a.out, low_memory)
                keep(preset, round_, name, r)
                peaks.append((r.get('fp32PeakGFLOPS'), r.get('bf16PeakGFLOPS')))
            for variant in torch_variants:
                r = theirs(a, preset, variant)
                if r is None:
                    continue
                keep(preset, round_, f'pytorch {variant}', r)
                mine = next(v for k, v in results.items() if k.startswith('ours'))
                if r['parameters'] != mine['parameters']:
                    sys.exit(f"{preset}: PyTorch model has {r['parameters']} parameters, ours "
                             f"{mine['parameters']}: the configs disagree")
                results[f'pytorch {variant}'] = r
            rounds.append(results)
        def fastest_pytorch(rd, field):
            # The round's fastest PyTorch variant by `field`, or None.
            return max((v for k, v in rd.items() if k.startswith('pytorch')), key=lambda v: v[field], default=None)

        for name in rounds[0]:
            figures = [rd[name] for rd in rounds if name in rd]
            row = {'preset': preset, 'variant': name, 'rounds': len(figures),
                   'rss': max((f.get('peakRSSMiB') or 0) for f in figures)}
            if name.startswith('ours'):
                # ours / PyTorch's fastest variant of the same round, by images/s; peak RSS against
                # the peak of the round's fastest by train step (whose peak is its train step's)
                for key, field, by in (('forward', 'forwardImagesPerSecond', 'forwardImagesPerSecond'),
                                       ('train', 'trainImagesPerSecond', 'trainImagesPerSecond'),
                                       ('rss', 'peakRSSMiB', 'trainImagesPerSecond')):
                    ratios = [rd[name][field] / best[field] for rd in rounds
                              if name in rd and rd[name].get(field) and (best := fastest_pytorch(rd, by))
                              and best.get(field)]
                    if ratios:
                        row[key + 'Ratio'] = statistics.median(ratios)
                        row[key + 'RatioRange'] = [min(ratios), max(ratios)]
            for key, field in (('forward', 'forwardImagesPerSecond'), ('train', 'trainImagesPerSecond')):
                row[key] = statistics.median(f[field] for f in figures)
            rows.append(row)
    cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
    fam = [l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith(('cpu family', 'model\t'))][:2]
    fp32 = max((x for x, _ in peaks if x), default=0); bf16 = max((y for _, y in peaks if y), default=0)
    import torch
    lines = [f"{time.strftime('%Y-%m-%d %H:%M')} · {cpu} (family {fam[0]}, model {fam[1]}), {os.cpu_count()} cores · "
             f"load average {load_start[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end · torch {torch.__version__} · "
             f"measured peak fp32 {fp32:.0f} / bf16 {bf16:.0f} GFLOPS", '',
             f"images/s, {a.threads} threads, train batch {a.batch}, forward batch {a.forward_batch}, "
             f"median of {a.iterations} iterations" + (f", median over {a.rounds} rounds" if a.rounds > 1 else '') +
             "; x = ratio to the fastest PyTorch variant of the same preset" +
             (" in the same round (median, and range over rounds)" if a.rounds > 1 else '') +
             "; peak RSS is the largest over rounds, x the ratio to the peak RSS of the round's fastest "
             "PyTorch variant by train step",
             '', '| preset | variant | train step | forward | peak RSS MiB |', '|---|---|---:|---:|---:|']
    for r in rows:
        def ratio(k):
            if k + 'Ratio' not in r:
                return ''
            lo, hi = r[k + 'RatioRange']
            return f" (x{r[k + 'Ratio']:.2f}" + (f", {lo:.2f}-{hi:.2f})" if a.rounds > 1 else ')')
        lines.append(f"| {r['preset']} | {r['variant']} | {r['train']:.1f}{ratio('train')} | "
                     f"{r['forward']:.1f}{ratio('forward')} | {r['rss']:.0f}{ratio('rss')} |")
    text = '\n'.join(lines)
    print(text)
    with open(os.path.join(a.out, 'results.md'), 'w') as f:
        f.write(text + '\n')
    with open(os.path.join(a.out, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=1)


if __name__ == '__main__':
    main()
