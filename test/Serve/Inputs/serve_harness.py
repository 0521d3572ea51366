"""Starts moela-serve on 127.0.0.1 (any free port) and talks to it.

Used by the test/Serve lit tests: Server(args) launches the tool, waits for
/health, and stop() sends SIGTERM and checks the drain ends with exit 0.
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time


class Server:
    def __init__(self, args, timeout=60, launcher=()):
        """`launcher`: e.g. mpirun and its flags, for a multi-rank server."""
        self.proc = subprocess.Popen(
            [*launcher, "moela-serve", *args, "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        match = re.search(r"on http://([\d.]+):(\d+) \(pid (\d+)", line)
        if not match:
            err = self.proc.stderr.read()
            sys.exit(f"moela-serve did not start: {line!r} {err}")
        self.host, self.port = match.group(1), int(match.group(2))
        self.pid = int(match.group(3))  # rank 0's under mpirun
        self.base = f"http://{self.host}:{self.port}"
        deadline = time.time() + timeout
        while True:
            try:
                if self.get("/health")[0] == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                sys.exit("moela-serve never answered /health")
            time.sleep(0.05)

    def request(self, method, path, body=None, headers=None, timeout=120):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        data = body if isinstance(body, (str, bytes)) or body is None \
            else json.dumps(body)
        conn.request(method, path, body=data, headers=headers or {})
        resp = conn.getresponse()
        payload = resp.read().decode("utf-8", "replace")
        conn.close()
        return resp.status, payload

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body):
        status, text = self.request(
            "POST", path, body, {"Content-Type": "application/json"})
        try:
            return status, json.loads(text)
        except json.JSONDecodeError:
            return status, text

    def metrics(self):
        """The /metrics samples as {name{labels}: value}."""
        status, text = self.get("/metrics")
        assert status == 200, status
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    def stop(self):
        """SIGTERM to moela-serve (rank 0 under mpirun: mpirun would kill
        its ranks a second after forwarding it), then its exit code 0."""
        os.kill(self.pid, signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            sys.exit("moela-serve did not drain and exit within 60 s of SIGTERM")
        err = self.proc.stderr.read()
        if code != 0:
            sys.exit(f"moela-serve exited {code} after SIGTERM: {err}")
        return err


def check(condition, message):
    if not condition:
        sys.exit("FAILED: " + message)


def equal(got, want, what):
    if got != want:
        sys.exit(f"FAILED: {what}: got {got!r}, want {want!r}")


def offline_ids(plan, prompts, max_new_tokens, extra=()):
    """Greedy ids from moela-run for text prompts (one batch, EOS ignored)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in.jsonl")
        with open(inp, "w") as f:
            for p in prompts:
                f.write(json.dumps({"prompt": p}) + "\n")
        ids = os.path.join(tmp, "ids.json")
        subprocess.run(
            ["moela-run", plan, *extra, "--input-file", inp, "--ids-out", ids,
             "--max-new-tokens", str(max_new_tokens), "--ignore-eos", "-q",
             "--output-format", "jsonl"],
            check=True, stdout=subprocess.DEVNULL)
        with open(ids) as f:
            return json.load(f)
