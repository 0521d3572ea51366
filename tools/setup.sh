#!/usr/bin/env bash
# Installs moela's build and test dependencies on Debian 12 (idempotent: a no-op when all are present).
# The CUDA 13 toolkit is expected at /usr/local/cuda (NVRTC and headers); no GPU or driver is needed.
set -euo pipefail

packages=(
  cmake ninja-build ccache g++ python3
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools   # MLIR/LLVM 19, FileCheck, lit
  libflatbuffers-dev flatbuffers-compiler                  # plan file
  libgtest-dev libbenchmark-dev                            # unit tests, benchmarks
  libpcre2-dev                                             # tokenizer pre-tokenizer regexes
  nlohmann-json3-dev libcli11-dev                          # runtime JSON and command lines
  clang-format-19                                          # tools/format-check.sh
  clang-19 libclang-rt-19-dev                              # tools/fuzz-check.sh: libFuzzer, ASan, UBSan
  libopenmpi-dev openmpi-bin                               # multi-rank runs (mpirun) on the host backend
  libedit-dev                                              # moela-run --interactive: line editing and history
  libcpp-httplib-dev                                       # moela-serve's HTTP server
  libssl-dev                                               # SHA-256 of the NVRTC cubin cache (OpenSSL libcrypto)
  python3-pip                                              # the server tests' Python packages (below)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -f /usr/local/cuda/include/nvrtc.h ]; then
  echo "setup: the CUDA 13 toolkit was not found at /usr/local/cuda (needed for NVRTC and headers)" >&2
  exit 1
fi

# The server tests drive moela-serve with the official openai client and check chat templates
# against jinja2 (what transformers renders them with).
if ! python3 -c "import openai, jinja2" 2>/dev/null; then
  echo "setup: installing the Python packages openai and jinja2"
  python3 -m pip install -q openai jinja2 2>/dev/null ||
    python3 -m pip install -q --break-system-packages openai jinja2
fi
