"""Compile time must grow linearly with num_hidden_layers (it was quadratic:
the memory planner compared every buffer with every buffer placed before it).

usage: compile_scaling.py CONFIG.json SCRATCH_DIR   (moela-compile on PATH)

Compiles the config with 128 and with 1024 layers (moela's limit) for the
host, single-threaded, best of three. Eight times the layers must cost less
than 16 times the CPU seconds in all and less than 32 times the memory
planner's wall seconds (n log n: about 10, up to 17 seen on a loaded
machine; the old quadratic planner took 64 times, and at 1024 layers the
linear passes still hid it in the total).
"""
import json
import os
import resource
import subprocess
import sys

config, scratch = sys.argv[1], sys.argv[2]
base = json.load(open(config))


def seconds(layers):
    """(CPU seconds of the compile, seconds of moela-plan-memory)."""
    path = os.path.join(scratch, f"layers{layers}.json")
    json.dump(dict(base, num_hidden_layers=layers), open(path, "w"))
    best = None
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run(["moela-compile", path, "--target=host",
                              "--mlir-disable-threading", "--mlir-timing", "-o",
                              os.path.join(scratch, f"layers{layers}.plan")],
                             check=True, timeout=300, capture_output=True,
                             text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        # "  0.3022 ( 8.5%)  PlanMemoryPass" (wall seconds first)
        planner = [float(line.split()[0]) for line in run.stderr.splitlines()
                   if line.strip().endswith("PlanMemoryPass")]
        assert len(planner) == 1, run.stderr
        now = (total, planner[0])
        best = now if best is None else tuple(map(min, best, now))
    return best


(small, small_plan), (large, large_plan) = seconds(128), seconds(1024)
ratio, plan_ratio = large / small, large_plan / small_plan
print(f"128 layers {small:.2f} s (planner {small_plan:.3f} s), 1024 layers "
      f"{large:.2f} s (planner {large_plan:.3f} s): ratios {ratio:.1f}, "
      f"{plan_ratio:.1f}", file=sys.stderr)
if ratio >= 16 or plan_ratio >= 32:
    sys.exit(f"compile time is superlinear in the layers: 8x the layers took "
             f"{ratio:.1f}x the time ({plan_ratio:.1f}x in the planner)")
print("compile time linear in layers")
