#!/usr/bin/env python3
"""Trains the byte-level BPE vocabulary of models/tiny-kjv on the training
corpus with Hugging Face `tokenizers`, using DeepSeek-V3's own pre-tokenizer
(the digit, CJK and word/punctuation splits, then bytes) so that moela's
tokenizer runs it unchanged. Ids 0, 1, 2 are BOS, EOS and padding, as in
DeepSeek-V3.

    tokenizer.py TRAIN.txt DEEPSEEK_TOKENIZER.json VOCAB OUT_DIR
"""
import json
import os
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

SPECIAL = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"]


def main():
    if len(sys.argv) != 5:
        raise SystemExit("usage: tokenizer.py TRAIN.txt DEEPSEEK_TOKENIZER.json VOCAB OUT_DIR")
    train, deepseek, vocab, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    with open(deepseek, encoding="utf-8") as f:
        pre = json.load(f)["pre_tokenizer"]
    tok = Tokenizer(models.BPE())
    # The pre-tokenizer is DeepSeek-V3's, taken from its file as JSON.
    spec = json.loads(tok.to_str())
    spec["pre_tokenizer"] = pre
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train([train], trainer)
    os.makedirs(out, exist_ok=True)
    tok.save(os.path.join(out, "tokenizer.json"))
    config = {
        "add_bos_token": True,
        "add_eos_token": False,
        "bos_token": SPECIAL[0],
        "eos_token": SPECIAL[1],
        "pad_token": SPECIAL[2],
        "clean_up_tokenization_spaces": False,
        "model_max_length": 2048,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
    with open(os.path.join(out, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"tokenizer.py: {tok.get_vocab_size()} tokens")


if __name__ == "__main__":
    main()
