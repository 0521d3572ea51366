"""Runs moela-run --interactive with stdin and stderr on a pseudo-terminal
and stdout on a pipe, as a person at a terminal would: the "> " prompt goes
to the terminal, a left arrow moves the cursor (libedit), an up arrow
recalls the previous line, the answers alone go to stdout, and SIGINT at
the prompt ends the session with the statistics and exit code 0.
Usage: chat_on_pty.py MOELA-RUN-ARGS..."""
import os
import pty
import select
import signal
import subprocess
import sys
import time

master, slave = pty.openpty()
proc = subprocess.Popen(["moela-run", *sys.argv[1:], "--interactive"],
                        stdin=slave, stdout=subprocess.PIPE, stderr=slave)
os.close(slave)


def terminal_until(wanted):
    """What the terminal shows until `wanted` appears."""
    seen = b""
    deadline = time.time() + 60
    while wanted not in seen:
        if time.time() > deadline:
            sys.exit(f"the terminal never showed {wanted!r}: {seen!r}")
        if select.select([master], [], [], 0.1)[0]:
            seen += os.read(master, 4096)
    return seen


def check(condition, message):
    if not condition:
        sys.exit(message)


check(b"moela chat:" in terminal_until(b"> "), "no banner on the terminal")
os.write(master, b"hel\x1b[Dxlo\n")  # left arrow: the x goes before the l
terminal_until(b"\n> ")
# Up arrow: the previous line, as edited, is redrawn whole and sent again.
os.write(master, b"\x1b[A\n")
check(b"> hexlol" in terminal_until(b"\n> "),
      "the up arrow did not recall the edited line")
# A person's Ctrl-C comes while the read waits; one sent between the prompt
# and the read would wait for the next key (see LineReader.h).
time.sleep(0.5)
proc.send_signal(signal.SIGINT)
check(b"moela-run: load" in terminal_until(b"threads]"), "no statistics")
code = proc.wait(timeout=60)
check(code == 0, f"exit code {code}, not 0")
answers = proc.stdout.read().decode().splitlines()
check(len(answers) == 2, f"stdout holds not two answers: {answers!r}")
check(not any(a.startswith(">") for a in answers), "a prompt on stdout")
print("chat_on_pty: edited, recalled, answered twice, ended by SIGINT")
