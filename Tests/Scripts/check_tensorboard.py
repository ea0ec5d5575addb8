"""Checks that TensorBoard itself reads a training run's event files: loads the run folder's
tensorboard/ with TensorBoard's EventAccumulator and checks the training scalars (one value per
metrics.csv row, same steps, loss equal to float32 precision) and the samples image (a PNG of the
size its event says).

Not run by the tests (they need no Python): run it by hand on a run folder, in an environment
with the `tensorboard` pip package:

    python3 -m venv /tmp/tbvenv && /tmp/tbvenv/bin/pip install tensorboard
    /tmp/tbvenv/bin/python Tests/Scripts/check_tensorboard.py runs/<run>

Prints what it found and exits 1 on the first thing that is missing or wrong.
"""
import csv
import math
import struct
import json
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

SCALARS = {"train/loss": "loss", "train/lr": "lr", "train/images_per_second": "images_per_s"}


def fail(message):
    print(f"FAIL: {message}")
    sys.exit(1)


def main(run):
    # size_guidance 0: keep every event rather than a reservoir sample of them.
    acc = EventAccumulator(f"{run}/tensorboard", size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    tags = acc.Tags()
    print(f"tags: scalars {sorted(tags['scalars'])}, images {sorted(tags['images'])}")

    with open(f"{run}/metrics.csv") as f:
        rows = list(csv.DictReader(f))
    for tag, column in SCALARS.items():
        if tag not in tags["scalars"]:
            fail(f"no scalar {tag}")
        events = acc.Scalars(tag)
        steps = [e.step for e in events]
        if steps != [int(r["step"]) for r in rows]:
            fail(f"{tag}: steps {steps} differ from metrics.csv's")
        for e, r in zip(events, rows):
            expected = float(r[column])
            # metrics.csv rounds (loss to 6 decimals, images/s to 2); the event holds a float32.
            if not math.isclose(e.value, expected, rel_tol=1e-4, abs_tol=0.006):
                fail(f"{tag} at step {e.step}: {e.value} in the event file, {expected} in metrics.csv")
        print(f"{tag}: {len(events)} values, steps {steps[0]}..{steps[-1]}, last {events[-1].value:.6g} "
              f"(metrics.csv {rows[-1][column]})")

    if "samples" not in tags["images"]:
        fail("no image 'samples'")
    image = acc.Images("samples")[-1]
    png = image.encoded_image_string
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        fail("the samples image is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    if (width, height) != (image.width, image.height):
        fail(f"the PNG is {width}x{height}, its event says {image.width}x{image.height}")
    with open(f"{run}/samples.png", "rb") as f:
        if f.read() != png:
            fail("the samples image differs from samples.png")
    print(f"samples: step {image.step}, {image.width}x{image.height} PNG of {len(png)} bytes, same as samples.png")
    check_evaluations(run, acc, tags)
    print("OK")


def check_evaluations(run, acc, tags):
    """With train --eval-every: eval/fid at each evaluations.jsonl record's step (logged at the
    index of the step after which it ran, as metrics.csv has it), and its grid."""
    path = f"{run}/evaluations.jsonl"
    if not os.path.exists(path):
        return
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    scored = [r for r in records if r.get("fid") is not None]
    fid = {e.step: e.value for e in acc.Scalars("eval/fid")} if "eval/fid" in tags["scalars"] else {}
    for r in scored:
        logged = fid.get(r["step"] - 1)
        if logged is None or abs(logged - r["fid"]) > 1e-4 * max(1.0, r["fid"]):
            fail(f"eval/fid after step {r['step']}: {logged}, evaluations.jsonl {r['fid']}")
    grids = {e.step for e in acc.Images("eval/samples")} if "eval/samples" in tags["images"] else set()
    if {r["step"] - 1 for r in records if r.get("grid")} - grids:
        fail(f"eval/samples images at steps {sorted(grids)}, evaluations at {[r['step'] for r in records]}")
    print(f"eval/fid: {len(scored)} values at steps {[r['step'] for r in scored]}, as evaluations.jsonl; "
          f"{len(grids)} eval/samples grids")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_tensorboard.py RUN_FOLDER")
    main(sys.argv[1])
