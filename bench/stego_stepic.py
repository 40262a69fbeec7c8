"""Times the Debian package `stepic` (Python LSB steganography) in-process, so interpreter
start-up is not counted. Used by bench/stego.ts. Prints one JSON object.

usage: python3 bench/stego_stepic.py COVER.png HIDDEN_FILE RUNS OUT.png
"""
import json
import sys
import time

import stepic
from PIL import Image


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def main():
    cover_path, hidden_path, runs, out_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(hidden_path, 'rb') as handle:
        hidden = handle.read()
    embed_ms, extract_ms = [], []
    for _ in range(runs):
        started = time.perf_counter()
        image = Image.open(cover_path)
        image.load()
        stego = stepic.encode(image, hidden)
        stego.save(out_path, 'PNG')
        embed_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        extracted = stepic.decode(Image.open(out_path)).encode('latin-1')
        extract_ms.append((time.perf_counter() - started) * 1000)
        if extracted != hidden:
            raise SystemExit('stepic round trip failed')
    with open(out_path, 'rb') as handle:
        size = len(handle.read())
    print(json.dumps({'embed_ms': median(embed_ms), 'extract_ms': median(extract_ms), 'png_bytes': size}))


if __name__ == '__main__':
    main()
