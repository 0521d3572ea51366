#!/usr/bin/env python3
"""The trainer's own logits for a checkpoint, in float64 from its stored
(BF16) weights, written for moela's CI test (test/unit/TrainedModelTest.cpp
compares the host backend against them, so CI needs no PyTorch).

    reference_logits.py CHECKPOINT_DIR IDS.json OUT.safetensors

IDS.json is a list of B equal-length id lists, each starting with BOS. OUT
holds `ids` [B, T] (I32), `logits` [B, T, V] and `mtp_logits` [B, T-1, V] (F32):
row t of mtp_logits is the MTP module's logits given ids[t+1].
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import Model, load_checkpoint_tensors  # noqa: E402


def load_model(ckpt, dtype=torch.float64):
    with open(os.path.join(ckpt, "config.json")) as f:
        cfg = json.load(f)
    model = Model(cfg).to(dtype)
    tensors = load_file(os.path.join(ckpt, "model.safetensors"))
    load_checkpoint_tensors(model, tensors)
    model.eval()
    return model


def main():
    if len(sys.argv) != 4:
        raise SystemExit("usage: reference_logits.py CHECKPOINT_DIR IDS.json OUT.safetensors")
    ckpt, ids_path, out = sys.argv[1:]
    model = load_model(ckpt)
    with open(ids_path) as f:
        ids = torch.tensor(json.load(f), dtype=torch.long)
    with torch.no_grad():
        logits, mtp = model(ids, with_mtp=True)
    save_file({"ids": ids.to(torch.int32), "logits": logits.to(torch.float32).contiguous(),
               "mtp_logits": mtp.to(torch.float32).contiguous()}, out)


if __name__ == "__main__":
    main()
