#!/usr/bin/env python3
"""Screenshot of the policy-lab HTML report in headless Chromium, checked.

plot_screenshot.py PLOT_SAMPLE OUTDIR
  1. PLOT_SAMPLE OUTDIR writes a sample report (3 policies, a heatmap and a
     chart each) as OUTDIR/report.html;
  2. chromium --headless --screenshot renders it at 1400 x 1000 into
     OUTDIR/report.png;
  3. the PNG is decoded here (zlib from the standard library) and must be
     1400 x 1000, not one colour, and show the heatmaps' own colours (sleeping
     grey, overload red, viridis' dark end), which only appear if the SVG
     pictures inside the page rendered.
Exit 0 pass, 1 fail (one line saying what), 77 skipped: chromium is absent.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

WIDTH, HEIGHT = 1400, 1000
# (name, rgb) the heatmap draws; see kHeatColour in src/sim/plot.cc.
MUST_SHOW = [("sleeping grey", (0xEC, 0xEC, 0xEC)), ("overload red", (0xE4, 0x1A, 0x1C)),
             ("viridis 0-10 %", (0x44, 0x01, 0x54))]


def fail(msg):
    print(f"plot_screenshot: FAIL: {msg}")
    sys.exit(1)


def decode_png(data):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB/RGBA PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail("not a PNG (bad signature)")
    pos, idat, ihdr = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if zlib.crc32(kind + body) != struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]:
            fail(f"PNG chunk {kind!r} has a bad CRC")
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if ihdr is None:
        fail("PNG without IHDR")
    w, h, depth, ctype, _, _, interlace = ihdr
    if depth != 8 or ctype not in (2, 6) or interlace != 0:
        fail(f"unexpected PNG format: depth {depth}, colour type {ctype}, interlace {interlace}")
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = w * bpp
    if len(raw) != h * (stride + 1):
        fail(f"PNG data is {len(raw)} bytes, expected {h * (stride + 1)}")
    rows, prev = [], bytearray(stride)
    for y in range(h):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
            elif f != 0:
                fail(f"bad PNG filter {f} on row {y}")
        rows.append(line)
        prev = line
    return w, h, rows, bpp


def main():
    if len(sys.argv) != 3:
        print("usage: plot_screenshot.py PLOT_SAMPLE OUTDIR", file=sys.stderr)
        return 2
    sample, outdir = sys.argv[1], os.path.abspath(sys.argv[2])
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("plot_screenshot: SKIPPED: chromium is not installed (scripts/install-deps.sh installs it); "
              "no screenshot taken")
        return 77
    shutil.rmtree(outdir, ignore_errors=True)
    os.makedirs(outdir)
    r = subprocess.run([sample, outdir], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{sample} exited {r.returncode}: {r.stderr.strip()}")
    report = os.path.join(outdir, "report.html")
    png = os.path.join(outdir, "report.png")
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
               f"--user-data-dir={profile}", f"--screenshot={png}", f"--window-size={WIDTH},{HEIGHT}",
               "file://" + report]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        except subprocess.TimeoutExpired:
            fail("chromium took more than 180 s")
    took = time.monotonic() - t0
    if r.returncode != 0 or not os.path.exists(png):
        last = (r.stderr.strip().splitlines() or ["no output"])[-1]
        fail(f"chromium exited {r.returncode} without {png}: {last}")
    with open(png, "rb") as f:
        data = f.read()
    w, h, rows, bpp = decode_png(data)
    if (w, h) != (WIDTH, HEIGHT):
        fail(f"screenshot is {w} x {h}, expected {WIDTH} x {HEIGHT}")
    counts = {}
    for line in rows[::2]:
        for x in range(0, len(line), bpp * 2):
            px = (line[x], line[x + 1], line[x + 2])
            counts[px] = counts.get(px, 0) + 1
    if len(counts) < 50:
        fail(f"screenshot has only {len(counts)} colours: the page did not render")
    top = max(counts.values()) / sum(counts.values())
    if top > 0.97:
        fail(f"one colour covers {top:.0%} of the screenshot: nothing rendered")
    for name, rgb in MUST_SHOW:
        near = sum(n for px, n in counts.items() if all(abs(px[i] - rgb[i]) <= 8 for i in range(3)))
        if near < 20:
            fail(f"no {name} #{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x} in the screenshot: the heatmap SVGs did not render")
    print(f"plot_screenshot: ok: {png} ({len(data)} bytes, {len(counts)} colours, chromium {took:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
