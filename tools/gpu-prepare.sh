#!/usr/bin/env bash
# Prepares, on this (CPU) machine, what tools/gpu-check.sh needs on a GPU machine
# that can install nothing and has no MLIR: .gpu/third_party (header-only
# dependencies, libpcre2, the generated plan header), .gpu/plans (sm_90a plans
# compiled here by moela-compile) and .gpu/kernel-cache (the NVRTC cache).
# Then call the device tool with: command "bash tools/gpu-check.sh", carry [".gpu"].
set -euo pipefail
cd "$(dirname "$0")/.."
build=${MOELA_BUILD_DIR:-build}
cmake -G Ninja -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target moela-compile moela_schema_gen
dest=.gpu
rm -rf "$dest/third_party" "$dest/plans"
mkdir -p "$dest/third_party/include" "$dest/third_party/lib" "$dest/third_party/schema" "$dest/plans"
cp -r /usr/include/nlohmann /usr/include/CLI /usr/include/flatbuffers "$dest/third_party/include/"
cp /usr/include/pcre2.h "$dest/third_party/include/"
cp -L /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0 "$dest/third_party/lib/libpcre2-8.so.0"
cp -L /usr/lib/x86_64-linux-gnu/libpcre2-8.so.0 "$dest/third_party/lib/libpcre2-8.so"
cp "$build/runtime/schema/plan_generated.h" "$dest/third_party/schema/"
# moela-serve: Debian's cpp-httplib is a header plus a library (and the
# brotli libraries it links; OpenSSL and zlib are on any GPU machine).
if [ -f /usr/include/httplib.h ]; then
  cp /usr/include/httplib.h "$dest/third_party/include/"
  for lib in libcpp-httplib.so.0.11 libbrotlidec.so.1 libbrotlienc.so.1 libbrotlicommon.so.1; do
    cp -L "/usr/lib/x86_64-linux-gnu/$lib" "$dest/third_party/lib/$lib"
  done
  ln -sf libcpp-httplib.so.0.11 "$dest/third_party/lib/libcpp-httplib.so"
fi

export MOELA_CACHE_DIR=$PWD/$dest/kernel-cache
compile() { "$build/bin/moela-compile" "$@" --target=sm_90a; }
compile test/data/v3_a/config.json -o "$dest/plans/v3_a-bf16w.plan"
compile test/data/v3_a/model-fp8/config.json -o "$dest/plans/v3_a-fp8w.plan"
for m in tiny tiny-v2 tiny-v2-lite tiny-v3-fp8; do
  compile "models/$m/config.json" -o "$dest/plans/$m.plan"
done
compile models/tiny-v3-fp8/config.json -o "$dest/plans/tiny-v3-fp8-w8a8.plan" --activation-dtype=fp8
compile models/tiny/config.json -o "$dest/plans/tiny-kvfp8.plan" --kv-dtype=fp8
compile test/data/v3_a/config.json -o "$dest/plans/v3_a-bf16w-mtp.plan" --mtp
# The multi-GPU section of gpu-check.sh: tensor and expert parallel plans for
# 2 and 4 ranks (the tiny model has 4 heads).
for n in 2 4; do
  compile models/tiny/config.json -o "$dest/plans/tiny-tp$n.plan" --tp $n
  compile models/tiny/config.json -o "$dest/plans/tiny-tp$n-ep.plan" --tp $n --ep
  compile models/tiny/config.json -o "$dest/plans/tiny-tp$n-ep-unfused.plan" --tp $n --ep \
    --disable-pass=moela-moe-dispatch
done
# The benchmark model, with each GEMM kernel family, to compare side by side.
# The cost model's prediction for each (docs/cost-model.md), which
# gpu-check.sh prints next to the measured times.
for kernel in mma wgmma; do
  for gpu in h200 h100; do
    compile models/deepseek-v3-4l/config.json -o "$dest/plans/v3-4l-$kernel.plan" \
      --max-prefill-tokens 4096 --max-batch 64 --gemm-kernel=$kernel \
      --cost $gpu >"$dest/plans/v3-4l-$kernel.cost-$gpu.txt"
  done
done
du -sh "$dest"
