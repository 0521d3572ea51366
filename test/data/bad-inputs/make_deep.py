"""Writes valid JSON nested DEPTH deep (default 200000, far past the stack):
'[[...]]', or with --object '{"a": {"a": ... 1}}', or inside a copy of
BASE.json as the value of "x", or as a JSONL line {"prompt": [[...]]}.

usage: make_deep.py OUT [--object] [--depth N] [--inside BASE.json] [--jsonl]
"""
import argparse
import json

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--object", action="store_true")
p.add_argument("--depth", type=int, default=200000)
p.add_argument("--inside")
p.add_argument("--jsonl", action="store_true")
a = p.parse_args()
if a.object:
    deep = '{"a": ' * a.depth + "1" + "}" * a.depth
else:
    deep = "[" * a.depth + "]" * a.depth
if a.inside:
    base = json.dumps(json.load(open(a.inside)))
    deep = base[:-1] + ', "x": ' + deep + "}"
elif a.jsonl:
    deep = '{"prompt": ' + deep + "}\n"
open(a.out, "w").write(deep)
