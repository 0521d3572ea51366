#!/usr/bin/env python3
"""Copies a checkpoint directory without one tensor (a broken shard for tests).

usage: drop_tensor.py SRC_DIR DST_DIR TENSOR

Copies SRC_DIR/config.json and rewrites SRC_DIR/model.safetensors into DST_DIR
without TENSOR. Standard library only.
"""
import json
import os
import shutil
import struct
import sys


def main():
    src, dst, name = sys.argv[1:4]
    os.makedirs(dst, exist_ok=True)
    shutil.copy(os.path.join(src, "config.json"), dst)
    with open(os.path.join(src, "model.safetensors"), "rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    assert name in header, "no tensor " + name
    del header[name]
    blobs, offset = [], 0
    for key, info in header.items():
        if key == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        blobs.append(data[begin:end])
        info["data_offsets"] = [offset, offset + end - begin]
        offset += end - begin
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    main()
