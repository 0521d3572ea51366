#!/usr/bin/env python3
"""Writes the training corpus of models/tiny-kjv: the King James Bible from
Debian's bible-kjv-text package (public domain; read with its `bible` program),
one verse per line without the verse references, chapters separated by a
blank line. Every 25th chapter is held out.

    corpus.py OUT_DIR      -> OUT_DIR/train.txt, OUT_DIR/heldout.txt
"""
import os
import re
import subprocess
import sys

HELDOUT_EVERY = 25  # chapter k is held out when k % 25 == 12


def chapters():
    # `bible -f` prints "Ge1:1 In the beginning ..." one verse per line.
    text = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True,
                          capture_output=True, text=True).stdout
    ref = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+) (.*)$")
    current, verses = None, []
    for line in text.splitlines():
        m = ref.match(line)
        if not m:
            raise SystemExit(f"corpus.py: unexpected line from bible: {line!r}")
        key = (m.group(1), m.group(2))
        if key != current and verses:
            yield verses
            verses = []
        current = key
        verses.append(m.group(4).strip())
    if verses:
        yield verses


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: corpus.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    train, held = [], []
    for k, verses in enumerate(chapters()):
        (held if k % HELDOUT_EVERY == 12 else train).append("\n".join(verses))
    for name, part in (("train.txt", train), ("heldout.txt", held)):
        with open(os.path.join(out, name), "w", encoding="utf-8") as f:
            f.write("\n\n".join(part) + "\n")
    print(f"corpus.py: {len(train)} training and {len(held)} held-out chapters")


if __name__ == "__main__":
    main()
