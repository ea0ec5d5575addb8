#!/usr/bin/env python3
"""Exports scikit-learn's 8x8 digits (1,797 images, UCI's optical digits) as a class-folder
PNG set for `launcher train --data`: OUT/0/0000.png ... OUT/9/1796.png, 8-bit gray, white ink
on black (as Fashion-MNIST), the 0...16 values scaled to 0...255.

Not needed by the tests. scikit-learn comes from PyPI, in a virtual environment outside the
repository, e.g.:
    python3 -m venv /work/venv && /work/venv/bin/pip install scikit-learn
    /work/venv/bin/python scripts/export-digits.py data/digits
"""
import os
import struct
import sys
import zlib

from sklearn.datasets import load_digits


def png_gray(pixels, width, height):
    """An 8-bit grayscale PNG (no filtering), written with zlib only."""
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + bytes(pixels[y * width:(y + 1) * width]) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: export-digits.py OUT_FOLDER")
    out = sys.argv[1]
    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        folder = os.path.join(out, str(label))
        os.makedirs(folder, exist_ok=True)
        pixels = [int(round(v * 255 / 16)) for v in image.reshape(-1)]
        with open(os.path.join(folder, "%04d.png" % i), "wb") as f:
            f.write(png_gray(pixels, 8, 8))
    print("wrote %d images in 10 class folders under %s" % (len(digits.images), out))


if __name__ == "__main__":
    main()
