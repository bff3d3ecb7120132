#!/usr/bin/env python3
"""Checks a rectangle of a PNG screenshot (or a PPM frame) against one colour, pixel for pixel.

    png_region.py [--any] FILE X Y WIDTH HEIGHT RRGGBB

Prints the first mismatching pixel and exits 1, or exits 0 when every pixel of
the rectangle is the colour.  With --any: exits 0 when at least one is.  Reads 8-bit RGB or RGBA, non-interlaced PNGs (what
guest writes) with the standard library only.
"""
import struct
import sys
import zlib


def read_png(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    offset, idat = 8, b""
    while offset < len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"{path}: only 8-bit RGB/RGBA non-interlaced PNGs are read")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride if kind else 0):  # filter 0 (none): the bytes as they are
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            up_left = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else up_left)
                line[i] = (line[i] + predictor) & 0xFF
        rows.append(line)
        previous = line
    return width, height, channels, rows


def read_ppm(path):
    """A binary PPM (P6, maxval 255), as build/vnc-type frame:FILE writes it."""
    with open(path, "rb") as f:
        data = f.read()
    fields, offset = [], 0
    while len(fields) < 4:
        while data[offset:offset + 1].isspace():
            offset += 1
        end = offset
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[offset:end])
        offset = end
    offset += 1  # the one whitespace byte before the pixels
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError(f"{path}: not a binary PPM with 8-bit samples")
    width, height = int(fields[1]), int(fields[2])
    stride = width * 3
    rows = [data[offset + y * stride:offset + (y + 1) * stride] for y in range(height)]
    if len(rows[-1]) != stride:
        raise ValueError(f"{path}: truncated")
    return width, height, 3, rows


def read_image(path):
    with open(path, "rb") as f:
        magic = f.read(2)
    return read_ppm(path) if magic == b"P6" else read_png(path)


def main():
    arguments = sys.argv[1:]
    any_pixel = arguments[:1] == ["--any"]
    if any_pixel:
        arguments = arguments[1:]
    if len(arguments) != 6:
        sys.exit(__doc__)
    path = arguments[0]
    x, y, w, h = (int(v) for v in arguments[1:5])
    want = bytes.fromhex(arguments[5])
    width, height, channels, rows = read_image(path)
    if x + w > width or y + h > height:
        print(f"{path}: {width}x{height}, smaller than the region {x},{y} {w}x{h}")
        sys.exit(1)
    if any_pixel:
        for row in range(y, y + h):
            for column in range(x, x + w):
                if bytes(rows[row][column * channels:column * channels + 3]) == want:
                    print(f"{path}: pixel ({column},{row}) is {want.hex()}")
                    return
        print(f"{path}: no pixel of {w}x{h} at ({x},{y}) is {want.hex()}")
        sys.exit(1)
    for row in range(y, y + h):
        if channels == 3 and rows[row][x * 3:(x + w) * 3] == want * w:
            continue  # the whole row segment matches
        for column in range(x, x + w):
            got = bytes(rows[row][column * channels:column * channels + 3])
            if got != want:
                print(f"{path}: pixel ({column},{row}) is {got.hex()}, not {want.hex()}")
                sys.exit(1)
    print(f"{path}: {w}x{h} pixels at ({x},{y}) are all {want.hex()}")


if __name__ == "__main__":
    main()
