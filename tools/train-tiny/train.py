#!/usr/bin/env python3
"""Trains models/tiny-kjv from scratch on the CPU (seeded, reproducible for a
given PyTorch version and thread count).

    train.py --config config.json --corpus DIR --tokenizer DIR --out DIR
             [--steps N] [--seed S] [--threads N]

Each sample is BOS followed by a random stretch of the tokenized training text
(as moela-run feeds a prompt and as --perplexity scores a window). The loss is
next-token cross-entropy plus MTP_WEIGHT times the MTP module's (the token
after next). Load balancing is DeepSeek-V3's auxiliary-loss-free rule: after
each step every MoE layer moves its selection bias by BIAS_RATE towards equal
expert loads. Writes OUT/model.safetensors (BF16, the correction biases F32),
config.json, the tokenizer files and train-log.json.
"""
import argparse
import json
import math
import os
import shutil
import time

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import Tokenizer

from model import Model, checkpoint_tensors, init_weights

SEQ = 256          # tokens per sample, BOS included
BATCH = 16         # samples per step
LR, LR_MIN = 3e-3, 3e-4
WARMUP = 100
WEIGHT_DECAY = 0.1
MTP_WEIGHT = 0.3
BIAS_RATE = 1e-3


def token_stream(tokenizer_dir, path):
    tok = Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    with open(path, encoding="utf-8") as f:
        return torch.tensor(tok.encode(f.read()).ids, dtype=torch.long)


def batch_of(stream, gen, batch, bos):
    starts = torch.randint(0, len(stream) - SEQ, (batch,), generator=gen)
    body = torch.stack([stream[s:s + SEQ - 1] for s in starts.tolist()])
    return torch.cat((torch.full((batch, 1), bos), body), dim=1)  # [B, SEQ]


def losses(model, tokens):
    logits, mtp = model(tokens, with_mtp=True)
    v = logits.shape[-1]
    main = F.cross_entropy(logits[:, :-1].reshape(-1, v), tokens[:, 1:].reshape(-1))
    draft = F.cross_entropy(mtp[:, :-1].reshape(-1, v), tokens[:, 2:].reshape(-1))
    return main, draft


@torch.no_grad()
def heldout_loss(model, stream, bos, windows=24):
    # Fixed, non-overlapping windows of the held-out text.
    total, count = 0.0, 0
    step = SEQ - 1
    for w in range(min(windows, (len(stream) - 1) // step)):
        body = stream[w * step:(w + 1) * step]
        tokens = torch.cat((torch.tensor([bos]), body))[None]
        main, _ = losses(model, tokens)
        total += main.item() * (SEQ - 1)
        count += SEQ - 1
    return total / count


def lr_at(step, steps):
    if step < WARMUP:
        return LR * (step + 1) / WARMUP
    t = (step - WARMUP) / max(1, steps - WARMUP)
    return LR_MIN + 0.5 * (LR - LR_MIN) * (1 + math.cos(math.pi * t))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=BATCH)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.config) as f:
        cfg = json.load(f)
    bos = cfg["bos_token_id"]
    train = token_stream(args.tokenizer, os.path.join(args.corpus, "train.txt"))
    held = token_stream(args.tokenizer, os.path.join(args.corpus, "heldout.txt"))
    print(f"train.py: {len(train)} training tokens, {len(held)} held out", flush=True)

    model = Model(cfg)
    init_weights(model, args.seed)
    params = sum(p.numel() for p in model.parameters())
    print(f"train.py: {params / 1e6:.2f} M parameters", flush=True)
    decay = [p for p in model.parameters() if p.dim() > 1]
    no_decay = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.95))
    gen = torch.Generator().manual_seed(args.seed)
    log = {"config": cfg, "steps": args.steps, "seed": args.seed, "batch": args.batch,
           "seq": SEQ, "threads": args.threads, "torch": torch.__version__, "history": []}
    start = time.time()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args.steps)
        tokens = batch_of(train, gen, args.batch, bos)
        main_loss, mtp_loss = losses(model, tokens)
        opt.zero_grad(set_to_none=True)
        (main_loss + MTP_WEIGHT * mtp_loss).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for moe in model.moe_layers():
                load = moe.load.to(torch.float32)
                moe.gate.e_score_correction_bias += BIAS_RATE * torch.sign(load.mean() - load)
        if step % 25 == 0 or step == args.steps - 1 or os.environ.get("TRAIN_VERBOSE"):
            elapsed = time.time() - start
            entry = {"step": step, "loss": main_loss.item(), "mtp_loss": mtp_loss.item(),
                     "seconds": round(elapsed, 1)}
            log["history"].append(entry)
            print(f"step {step:5d}  loss {entry['loss']:.3f}  mtp {entry['mtp_loss']:.3f}  "
                  f"{(step + 1) * args.batch * SEQ / elapsed:.0f} tokens/s  {elapsed:.0f} s",
                  flush=True)
    model.eval()
    log["train_seconds"] = round(time.time() - start, 1)
    log["heldout_loss"] = heldout_loss(model, held, bos)
    log["heldout_ppl"] = math.exp(log["heldout_loss"])
    print(f"train.py: held-out loss {log['heldout_loss']:.3f} "
          f"(perplexity {log['heldout_ppl']:.2f})", flush=True)

    os.makedirs(args.out, exist_ok=True)
    tensors = {}
    for name, t in checkpoint_tensors(model).items():
        dtype = torch.float32 if name.endswith("e_score_correction_bias") else torch.bfloat16
        tensors[name] = t.to(dtype).contiguous().clone()
    save_file(tensors, os.path.join(args.out, "model.safetensors"), metadata={"format": "pt"})
    shutil.copy(args.config, os.path.join(args.out, "config.json"))
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(args.tokenizer, name), os.path.join(args.out, name))
    with open(os.path.join(args.out, "train-log.json"), "w") as f:
        json.dump(log, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
