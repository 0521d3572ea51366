"""Drives moela-run --interactive through pipes and interrupts it as Ctrl-C
would (SIGINT): the first during an answer stops that answer and the session
goes on; the second, at the prompt, ends it with the statistics and exit
code 0. Usage: interrupt_chat.py MOELA-RUN-ARGS..."""
import os
import signal
import subprocess
import sys
import time

proc = subprocess.Popen(
    ["moela-run", *sys.argv[1:], "--interactive"],
    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_until(stream, wanted, what):
    data = b""
    deadline = time.time() + 60
    while wanted not in data:
        chunk = os.read(stream.fileno(), 4096)
        if not chunk or time.time() > deadline:
            sys.exit(f"no {what}: {data!r}")
        data += chunk
    return data


# A long answer (--ignore-eos, many tokens); interrupt it once text flows.
proc.stdin.write(b"hello\n")
proc.stdin.flush()
os.read(proc.stdout.fileno(), 1)
proc.send_signal(signal.SIGINT)
read_until(proc.stderr, b"(answer stopped)", "'(answer stopped)' on stderr")
# The session goes on: a command is answered.
proc.stdin.write(b"/help\n")
proc.stdin.flush()
read_until(proc.stderr, b"Ctrl-C during an answer stops it.", "/help")
# Ctrl-C at the prompt ends the session with the statistics (sent once the
# read waits, as a person's would be).
time.sleep(0.5)
proc.send_signal(signal.SIGINT)
rest = proc.stderr.read()
code = proc.wait(timeout=60)
if code != 0:
    sys.exit(f"exit code {code}, not 0")
if b"moela-run: load" not in rest:
    sys.exit(f"no statistics at the end: {rest!r}")
print("interrupt_chat: stopped an answer, then ended the session")
