#!/usr/bin/env python3
"""Independent decoders for the files the Diffusion package writes (stdlib only).

  check_formats.py png FILE        -> JSON {width, height, color_type, pixels}
  check_formats.py gif FILE...     -> JSON list of {width, height, loop, frames: [{delay, pixels (gray, or null), rgb}]}
  check_formats.py zip FILE        -> JSON {members: [{name, size, crc, method}], bad: first bad member or null}

Written from the PNG (RFC 2083), GIF89a and ZIP (APPNOTE) specifications, sharing no code
with the Swift writers, so a test that compares both catches mistakes on either side.
"""
import json
import struct
import sys
import zipfile
import zlib


def decode_png(path):
    data = open(path, 'rb').read()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise SystemExit(f'{path}: bad PNG signature')
    pos, idat, header = 8, b'', None
    while pos < len(data):
        length, ctype = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack('>I', data[pos + 8 + length:pos + 12 + length])
        if zlib.crc32(ctype + body) & 0xffffffff != crc:
            raise SystemExit(f'{path}: CRC mismatch in chunk {ctype!r}')
        pos += 12 + length
        if ctype == b'IHDR':
            header = struct.unpack('>IIBBBBB', body)
        elif ctype == b'IDAT':
            idat += body
        elif ctype == b'IEND':
            break
    width, height, depth, color_type, compression, filter_method, interlace = header
    if depth != 8 or color_type not in (0, 2) or compression or filter_method or interlace:
        raise SystemExit(f'{path}: unsupported IHDR {header}')
    bpp = 1 if color_type == 0 else 3
    stride = width * bpp
    raw = zlib.decompress(idat)
    if len(raw) != height * (stride + 1):
        raise SystemExit(f'{path}: {len(raw)} bytes of scanlines, expected {height * (stride + 1)}')
    pixels = bytearray()
    prev = bytearray(stride)
    for y in range(height):
        ftype = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 0:
                pred = 0
            elif ftype == 1:
                pred = a
            elif ftype == 2:
                pred = b
            elif ftype == 3:
                pred = (a + b) // 2
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            else:
                raise SystemExit(f'{path}: bad filter type {ftype} on row {y}')
            line[i] = (line[i] + pred) & 0xff
        pixels += line
        prev = line
    return {'width': width, 'height': height, 'color_type': color_type, 'pixels': list(pixels)}


def lzw_decode(data, min_code_size, count):
    """GIF LZW: LSB-first codes, width from min_code_size+1 up to 12 bits."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    bitpos, nbits = 0, len(data) * 8
    width = min_code_size + 1
    table = None
    prev = None
    out = bytearray()

    def reset():
        return [bytes([i]) for i in range(clear)] + [b'', b'']

    while True:
        if bitpos + width > nbits:
            raise SystemExit('LZW data ends without an end code')
        code = 0
        for k in range(width):
            byte = data[(bitpos + k) >> 3]
            code |= ((byte >> ((bitpos + k) & 7)) & 1) << k
        bitpos += width
        if code == clear:
            table, width, prev = reset(), min_code_size + 1, None
            continue
        if code == end:
            break
        if table is None:
            raise SystemExit('LZW data does not start with a clear code')
        if prev is None:
            entry = table[code]
        else:
            if code < len(table):
                entry = table[code]
                new = prev + entry[:1]
            elif code == len(table):
                entry = prev + prev[:1]
                new = entry
            else:
                raise SystemExit(f'LZW code {code} beyond table size {len(table)}')
            if len(table) < 4096:
                table.append(new)
                if len(table) == (1 << width) and width < 12:
                    width += 1
        out += entry
        prev = entry
    if len(out) != count:
        raise SystemExit(f'LZW decoded {len(out)} pixels, expected {count}')
    return out


def decode_gif(path):
    data = open(path, 'rb').read()
    if data[:6] not in (b'GIF89a', b'GIF87a'):
        raise SystemExit(f'{path}: bad GIF signature')
    width, height, packed, _bg, _aspect = struct.unpack('<HHBBB', data[6:13])
    pos = 13
    palette = None
    if packed & 0x80:
        n = 2 << (packed & 7)
        palette = data[pos:pos + 3 * n]
        pos += 3 * n
    frames, loop, delay = [], None, 0

    def sub_blocks(pos):
        chunks = []
        while data[pos] != 0:
            chunks.append(data[pos + 1:pos + 1 + data[pos]])
            pos += 1 + data[pos]
        return b''.join(chunks), pos + 1

    while True:
        tag = data[pos]
        if tag == 0x3B:
            break
        if tag == 0x21:
            label = data[pos + 1]
            body, pos = sub_blocks(pos + 2)
            if label == 0xF9:
                delay = struct.unpack('<H', body[1:3])[0]
            elif label == 0xFF and body[:11] == b'NETSCAPE2.0':
                loop = struct.unpack('<H', body[12:14])[0]
        elif tag == 0x2C:
            left, top, w, h, fpacked = struct.unpack('<HHHHB', data[pos + 1:pos + 10])
            pos += 10
            pal = palette
            if fpacked & 0x80:
                n = 2 << (fpacked & 7)
                pal = data[pos:pos + 3 * n]
                pos += 3 * n
            if fpacked & 0x40:
                raise SystemExit(f'{path}: interlaced frames not expected')
            min_code_size = data[pos]
            lzw, pos = sub_blocks(pos + 1)
            indices = lzw_decode(lzw, min_code_size, w * h)
            rgb = []
            for i in indices:
                rgb += pal[3 * i:3 * i + 3]
            # 'pixels': gray values when every pixel's color is gray, else null; 'rgb': R, G, B per pixel
            is_gray = all(rgb[3 * k] == rgb[3 * k + 1] == rgb[3 * k + 2] for k in range(len(indices)))
            frames.append({'delay': delay, 'left': left, 'top': top, 'width': w, 'height': h,
                           'pixels': rgb[0::3] if is_gray else None, 'rgb': list(rgb)})
        else:
            raise SystemExit(f'{path}: unexpected block 0x{tag:02x} at {pos}')
    return {'width': width, 'height': height, 'loop': loop, 'frames': frames}


def check_zip(path):
    with zipfile.ZipFile(path) as z:
        members = [{'name': i.filename, 'size': i.file_size, 'crc': i.CRC, 'method': i.compress_type}
                   for i in z.infolist()]
        return {'members': members, 'bad': z.testzip()}


if __name__ == '__main__':
    mode, paths = sys.argv[1], sys.argv[2:]
    if mode == 'png':
        print(json.dumps(decode_png(paths[0])))
    elif mode == 'gif':
        print(json.dumps([decode_gif(p) for p in paths]))
    elif mode == 'zip':
        print(json.dumps(check_zip(paths[0])))
    else:
        raise SystemExit(f'unknown mode {mode}')
