#!/usr/bin/env python3
"""Resizes 28x28 grayscale images to 32x32 with Pillow's BILINEAR, as torchvision's
Resize((32, 32)) does on a PIL image.

  pillow_resize.py IN OUT   (IN: n*784 bytes, OUT: n*1024 bytes)
Exits 3 if Pillow cannot be imported, so the caller can skip.
"""
import sys

try:
    from PIL import Image
except ImportError:
    sys.exit(3)

src = open(sys.argv[1], 'rb').read()
out = bytearray()
for i in range(len(src) // 784):
    im = Image.frombytes('L', (28, 28), src[i * 784:(i + 1) * 784])
    out += im.resize((32, 32), Image.BILINEAR).tobytes()
open(sys.argv[2], 'wb').write(out)
