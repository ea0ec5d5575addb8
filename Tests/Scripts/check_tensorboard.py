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
    print("OK")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: check_tensorboard.py RUN_FOLDER")
    main(sys.argv[1])
