"""Writes Tests/Fixtures/tensorboard/events.out.tfevents.1700000000.fixture with TensorBoard's
own event-file writer, for TensorBoardFixtureTests (which read it with our reader and need no
Python). Not run by the tests; rerun by hand if the fixture must change:

    python3 -m venv /tmp/tbvenv && /tmp/tbvenv/bin/pip install tensorboard
    /tmp/tbvenv/bin/python Tests/Fixtures/make_tensorboard_fixture.py

Only the `tensorboard` package (no torch, no tensorflow): its EventFileWriter and protos. Values
are exact in float32 so the test can compare them exactly; the image is a 3x2 RGB PNG from
Pillow (a tensorboard dependency).
"""
import glob
import io
import os
import shutil
import tempfile

from PIL import Image
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary.writer.event_file_writer import EventFileWriter

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tensorboard",
                   "events.out.tfevents.1700000000.fixture")
WALL = 1_700_000_000.0


def scalar(tag, value):
    # As torch.utils.tensorboard's add_scalar writes it: simple_value, plugin "scalars".
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
    return summary_pb2.Summary.Value(tag=tag, simple_value=value, metadata=metadata)


def event(step, values):
    return event_pb2.Event(wall_time=WALL + step, step=step, summary=summary_pb2.Summary(value=values))


def main():
    pixels = bytes([255, 0, 0, 0, 255, 0, 0, 0, 255,
                    0, 0, 0, 128, 128, 128, 255, 255, 255])
    png = io.BytesIO()
    Image.frombytes("RGB", (3, 2), pixels).save(png, format="PNG")

    with tempfile.TemporaryDirectory() as folder:
        writer = EventFileWriter(folder)
        for step, loss in [(0, 0.5), (1, 0.25), (2, 0.125)]:
            writer.add_event(event(step, [scalar("train/loss", loss), scalar("train/lr", 0.0009765625)]))
        # A histogram: a kind of value our reader skips (decoded as .other).
        histogram = summary_pb2.HistogramProto(min=0, max=1, num=2, sum=1, sum_squares=1,
                                               bucket_limit=[1], bucket=[2])
        writer.add_event(event(2, [summary_pb2.Summary.Value(tag="weights", histo=histogram)]))
        image = summary_pb2.Summary.Image(height=2, width=3, colorspace=3, encoded_image_string=png.getvalue())
        writer.add_event(event(3, [summary_pb2.Summary.Value(tag="samples", image=image)]))
        writer.close()
        (written,) = glob.glob(os.path.join(folder, "events.out.tfevents.*"))
        os.makedirs(os.path.dirname(OUT), exist_ok=True)
        shutil.copyfile(written, OUT)
    # The image's PNG on its own, for the test to compare the event's bytes with.
    with open(os.path.join(os.path.dirname(OUT), "samples.png"), "wb") as f:
        f.write(png.getvalue())
    print(f"wrote {OUT} and samples.png beside it")


if __name__ == "__main__":
    main()
