#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (Fuzz/Corpus/<reader>/): small valid files of each
format, made with the standard library and numpy only. Re-run after changing a format;
the files are committed, scripts/fuzz does not run this."""
import gzip, io, json, os, shutil, struct, zlib
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)


def corpus(reader):
    d = os.path.join(here, "Corpus", reader)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def put(d, name, data):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# safetensors: header as the reference writer makes it (sorted by dtype width, then name;
# padded with spaces to 8 bytes); with and without this project's crc32 metadata.
def safetensors(tensors, metadata=None, hashes=True):
    widths = {"I64": 8, "F64": 8, "F32": 4, "I32": 4, "F16": 2, "BF16": 2, "U8": 1, "BOOL": 1}
    order = sorted(tensors, key=lambda t: (-widths[t[1]], t[0]))
    header, data = {}, b""
    meta = dict(metadata or {})
    for name, dtype, shape, raw in order:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        if hashes:
            meta["crc32:" + name] = format(zlib.crc32(raw), "08x")
        data += raw
    if meta:
        header = {"__metadata__": dict(sorted(meta.items())), **header}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


rng = np.random.default_rng(1)
f32 = lambda *s: rng.standard_normal(s).astype("<f4").tobytes()
d = corpus("safetensors")
weights = [("conv.weight", "F32", [2, 1, 3, 3], f32(2, 1, 3, 3)), ("conv.bias", "F32", [2], f32(2)),
           ("scalar", "F32", [], f32(1)), ("empty", "F32", [0, 4], b"")]
put(d, "hashed.safetensors", safetensors(weights, {"format": "pt"}))
put(d, "plain.safetensors", safetensors(weights, {"format": "pt"}, hashes=False))
put(d, "dtypes.safetensors", safetensors([
    ("step", "I64", [1], struct.pack("<q", 12345)), ("betas", "F64", [3], np.array([1e-4, 5e-3, 1e-2], "<f8").tobytes()),
    ("half", "F16", [2], np.array([1.5, -2], "<f2").tobytes()), ("bf", "BF16", [1], b"\x80\x3f"),
    ("i", "I32", [2], struct.pack("<ii", -1, 7)), ("u", "U8", [3], b"\x01\x02\x03")]))
tiny = open(os.path.join(root, "Tests/Fixtures/tiny/config.json")).read()
put(d, "state-like.safetensors", safetensors(
    [("parameters", "F32", [3], f32(3)), ("adam.m", "F32", [3], f32(3)), ("adam.v", "F32", [3], np.ones(3, "<f4").tobytes())],
    {"step": "1", "options": json.dumps({"batchSize": 2, "seed": 0}), "config": tiny}))

d = corpus("config")
for name in ["tiny", "tiny-class", "tiny-rgb"]:
    shutil.copy(os.path.join(root, f"Tests/Fixtures/{name}/config.json"), os.path.join(d, f"unet-{name}.json"))
shutil.copy(os.path.join(root, "models/fashion-classifier/config.json"), os.path.join(d, "classifier.json"))
put(d, "minimal.json", b'{"sample_size": 8, "block_out_channels": [8], "down_block_types": ["DownBlock2D"], '
                      b'"up_block_types": ["UpBlock2D"], "norm_num_groups": 4}')


def npy(array):
    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


d = corpus("npy")
put(d, "f32.npy", npy(rng.standard_normal((2, 3)).astype("<f4")))
put(d, "f64-fortran.npy", npy(np.asfortranarray(rng.standard_normal((3, 2)))))
put(d, "scalar.npy", npy(np.array(2.5, "<f4")))
put(d, "u8.npy", npy(np.arange(6, dtype=np.uint8).reshape(2, 3)))
put(d, "big-endian.npy", npy(np.arange(4, dtype=">f4")))

d = corpus("npz")
for name, compress in [("stored.npz", np.savez), ("deflated.npz", np.savez_compressed)]:
    buf = io.BytesIO()
    compress(buf, mu=rng.standard_normal(4).astype("<f8"), sigma=rng.standard_normal((2, 2)).astype("<f4"))
    put(d, name, buf.getvalue())


# IDX: the fuzz target's first byte picks the mode (bit 0: gzip as is; bit 1: labels).
def idx(magic, dims, values):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", n) for n in dims) + bytes(values)


d = corpus("idx")
images = idx(2051, [2, 3, 3], range(18))
labels = idx(2049, [5], [0, 9, 3, 3, 1])
put(d, "images-raw", b"\x00" + images)
put(d, "labels-raw", b"\x02" + labels)
put(d, "images-gzip", b"\x01" + gzip.compress(images, mtime=0))
put(d, "labels-gzip", b"\x03" + gzip.compress(labels, mtime=0))


def png(width, height, color_type, bit_depth=8):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    rows = b"".join(b"\x00" + bytes(width * channels) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


d = corpus("png")
for ct in [0, 2, 4, 6]:
    put(d, f"color{ct}.png", png(3, 2, ct))


# image decoders (PNGDecoder, JPEGDecoder): the PNGs above, a palette PNG with transparency,
# a 16-bit gray PNG, and JPEGs (gray, RGB, progressive) written by cjpeg from Debian's
# libjpeg-turbo-progs when it is installed (the standard library writes no JPEG).
def png_palette(width, height):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = b"".join(b"\x00" + bytes((x + y) % 4 for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0))
            + chunk(b"PLTE", bytes([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255])) + chunk(b"tRNS", bytes([0, 128]))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


d = corpus("image")
for ct in [0, 2, 4, 6]:
    put(d, f"color{ct}.png", png(3, 2, ct))
put(d, "palette.png", png_palette(4, 3))
put(d, "gray16.png", png(3, 2, 0, bit_depth=16))
if shutil.which("cjpeg"):
    import subprocess
    w, h = 8, 6
    rgb = bytes((x * 30 + y * 7) % 256 for y in range(h) for x in range(w) for _ in range(3))
    gray = bytes((x * 30 + y * 7) % 256 for y in range(h) for x in range(w))
    ppm = b"P6\n%d %d\n255\n" % (w, h) + rgb
    pgm = b"P5\n%d %d\n255\n" % (w, h) + gray
    for name, args, source in [("rgb.jpg", ["-quality", "80"], ppm), ("gray.jpg", ["-quality", "80", "-grayscale"], pgm),
                               ("progressive.jpg", ["-progressive", "-quality", "70"], ppm)]:
        put(d, name, subprocess.run(["cjpeg", *args], input=source, capture_output=True, check=True).stdout)
