"""moela-serve on several MPI ranks (a plan compiled --tp N [--ep]).

usage: sharded_checks.py PLAN_1_RANK PLAN_N_RANKS N   (moela-serve, moela-run
and mpirun on PATH)

Rank 0 answers HTTP and schedules; the other ranks replay its engine calls.
Concurrent greedy requests give moela-run's tokens of the one-rank plan, and
SIGTERM to rank 0 drains and ends every rank with exit code 0.
"""
import concurrent.futures
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_harness import Server, equal, offline_ids  # noqa: E402

one_rank, plan, ranks = sys.argv[1], sys.argv[2], sys.argv[3]
weights = ["--random-weights", "--weights-seed", "1", "--backend", "host"]
prompts = ["Hello, world", "The capital of France is", "1, 2, 3,",
           "Once upon a time"]
want = offline_ids(one_rank, prompts, 10, weights)
srv = Server([plan, *weights, "--max-seq-len", "128"],
             launcher=["mpirun", "--oversubscribe", "-x", "MOELA_NUM_THREADS=1",
                       "-n", ranks])


def ask(k):
    status, out = srv.post("/v1/completions", {
        "prompt": prompts[k], "max_tokens": 10, "temperature": 0,
        "ignore_eos": True, "return_token_ids": True, "stream": False})
    equal(status, 200, f"status: {out}")
    return out["choices"][0]["token_ids"]


with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
    got = list(pool.map(ask, range(4)))
for k in range(4):
    equal(got[k], want[k], f"prompt {k}: {ranks} ranks = moela-run, 1 rank")
srv.stop()
print(f"sharded checks passed on {ranks} ranks")
