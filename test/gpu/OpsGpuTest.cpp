//===- OpsGpuTest.cpp - Non-GEMM kernel families on a GPU vs the host ------===//
//
// Needs a CUDA device (prints "SKIP: no CUDA device: ..." and exits 0
// without one). For every family of runtime/kernels (Embedding, RmsNorm,
// Add, SiluMul, GatherRows, Rope, Argmax, KvAppend, KvGather,
// LatentAttention, MlaAttention, MlaPrefillAttention, Route, Dispatch,
// Combine, MoeExperts): compiles the instantiation its .cuh names with NVRTC,
// launches it as OpsLaunch.h says (all phases, workspaces), and compares with
// the fp32 host reference (runtime/host/Kernels.h) on the same rounded inputs
// (MlaPrefillAttention: a double-precision reference written here, on
// sampled rows for the long prefills). Inputs are fresh
// random numbers every run (the seed is printed; MOELA_TEST_SEED=<n> replays
// one), never zeros; outputs are poisoned with NaN before each launch, so an
// unwritten element fails. Unwritten cache rows are NaN too: attention must
// mask them. Shapes: the tiny models and V2/V2-Lite/V3.
//
// Bounds: ||out - ref|| / ||ref|| <= 1e-5 for fp32 paths, 1e-2 where bf16
// operands or outputs are involved (LatentAttention, MlaPrefillAttention:
// bf16 q, k and P on tensor cores), exact for indices (route, dispatch,
// argmax) and copies. Route inputs
// are built with clear margins so that both backends must pick the same
// experts.
//
// Timing (CUDA events, median of 20 after 3 warm-ups), printed as TIME lines
// in GB/s against 4.3 TB/s (the H200 copy rate measured here): LatentAttention
// for V3 decode at batch 1, 8, 64 with 4096 visible rows (also TFLOP/s),
// MlaPrefillAttention for a V3 prefill of 4096 tokens (TFLOP/s), and
// RmsNorm, Argmax, the fused Route, Dispatch and Combine at prefill/decode
// sizes. Last line: "N passed, N failed".
//
//===----------------------------------------------------------------------===//
#include "../unit/RouteCases.h"

#include "cuda/CudaDriver.h"
#include "host/Kernels.h"
#include "kernels/OpsLaunch.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Nvrtc.h"
#include "moela/Runtime/Rope.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

namespace {

namespace K = moela::kernels;
namespace H = moela::host;
using moela::cuda::Driver;

std::mt19937 rng;
int passed = 0, failed = 0;

// ---- Numbers ----------------------------------------------------------------------

uint16_t toBf16(float f) { // round to nearest even; NaN stays NaN
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return 0x7fc0;
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

float fromBf16(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float roundBf16(float f) { return fromBf16(toBf16(f)); }

float fromFp8(uint8_t v) { // e4m3fn
  const int sign = v >> 7, e = (v >> 3) & 15, m = v & 7;
  if (e == 15 && m == 7)
    return NAN;
  const float mag = e == 0 ? std::ldexp(static_cast<float>(m), -9)
                           : std::ldexp(1.0f + m / 8.0f, e - 7);
  return sign ? -mag : mag;
}

float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }
int uniformInt(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

std::vector<float> randomF(size_t n, float lo, float hi) {
  std::vector<float> v(n);
  for (float &x : v)
    x = uniform(lo, hi);
  return v;
}

/// Random bf16 values; `values` gets them as floats.
std::vector<uint16_t> randomBf16(size_t n, float lo, float hi, std::vector<float> &values) {
  std::vector<uint16_t> v(n);
  values.resize(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = toBf16(uniform(lo, hi));
    values[i] = fromBf16(v[i]);
  }
  return v;
}

/// Random e4m3 codes of magnitude in [2^-6, 1.875] (no NaN, no zero).
std::vector<uint8_t> randomFp8(size_t n) {
  std::vector<uint8_t> v(n);
  for (uint8_t &c : v)
    c = static_cast<uint8_t>((uniformInt(0, 1) << 7) | (uniformInt(1, 7) << 3) | uniformInt(0, 7));
  return v;
}

struct Compare {
  double err2 = 0, ref2 = 0, maxAbs = 0;
  long long bad = 0; // non-finite outputs where the reference is finite
  void add(double out, double ref) {
    if (!std::isfinite(out) && std::isfinite(ref)) {
      ++bad;
      return;
    }
    err2 += (out - ref) * (out - ref);
    ref2 += ref * ref;
    maxAbs = std::max(maxAbs, std::fabs(out - ref));
  }
  double rel() const { return ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2); }
  bool ok(double bound) const { return bad == 0 && rel() <= bound; }
};

Compare compare(const std::vector<float> &out, const std::vector<float> &ref) {
  Compare c;
  for (size_t i = 0; i < ref.size(); ++i)
    c.add(out[i], ref[i]);
  return c;
}

void report(const std::string &name, bool ok, const std::string &detail) {
  std::printf("%s %-60s %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
  std::fflush(stdout);
  (ok ? passed : failed)++;
}

std::string relText(const Compare &c, double bound) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "rel %.3g (bound %.0e) max|d| %.3g non-finite %lld", c.rel(),
                bound, c.maxAbs, c.bad);
  return buf;
}

void expectRel(const std::string &name, const std::vector<float> &out,
               const std::vector<float> &ref, double bound) {
  Compare c = compare(out, ref);
  report(name, c.ok(bound), relText(c, bound));
}

template <typename T>
void expectEqual(const std::string &name, const std::vector<T> &out, const std::vector<T> &ref) {
  size_t diff = 0, first = ref.size();
  for (size_t i = 0; i < ref.size(); ++i)
    if (!(out[i] == ref[i])) {
      if (first == ref.size())
        first = i;
      ++diff;
    }
  std::string detail = std::to_string(diff) + " of " + std::to_string(ref.size()) + " differ";
  if (diff)
    detail += " (first at " + std::to_string(first) + ")";
  report(name, diff == 0, detail);
}

// ---- Device -------------------------------------------------------------------------

const Driver &drv() { return Driver::get(); }

void ck(CUresult r, const char *what) { moela::cuda::check(r, what); }

struct Buffer {
  CUdeviceptr ptr = 0;
  size_t bytes = 0;
  explicit Buffer(size_t n) : bytes(std::max<size_t>(n, 16)) {
    ck(drv().cuMemAlloc(&ptr, bytes), "cuMemAlloc");
  }
  template <typename T> explicit Buffer(const std::vector<T> &v) : Buffer(v.size() * sizeof(T)) {
    upload(v);
  }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  ~Buffer() {
    if (ptr)
      drv().cuMemFree(ptr);
  }
  template <typename T> void upload(const std::vector<T> &v, size_t offsetBytes = 0) {
    if (!v.empty())
      ck(drv().cuMemcpyHtoD(ptr + offsetBytes, v.data(), v.size() * sizeof(T)), "cuMemcpyHtoD");
  }
  template <typename T> std::vector<T> download(size_t count) const {
    std::vector<T> v(count);
    if (count)
      ck(drv().cuMemcpyDtoH(v.data(), ptr, count * sizeof(T)), "cuMemcpyDtoH");
    return v;
  }
  void *p(size_t offsetBytes = 0) const { return reinterpret_cast<void *>(ptr + offsetBytes); }
  template <typename T> T *as() const { return reinterpret_cast<T *>(ptr); }
};

K::View view(const Buffer &b, long long ld, size_t offsetBytes = 0) {
  return K::View{b.p(offsetBytes), ld};
}

/// Poisons a float, bf16 or int buffer: NaN (or 0x7fffffff) everywhere.
void poisonF32(Buffer &b) { b.upload(std::vector<uint32_t>(b.bytes / 4, 0x7fc00000u)); }
void poisonBf16(Buffer &b) { b.upload(std::vector<uint16_t>(b.bytes / 2, 0x7fc0)); }
void poisonI32(Buffer &b) { b.upload(std::vector<int32_t>(b.bytes / 4, 0x7fffffff)); }

struct Instance {
  std::string header, args, call;
  int threads;
  bool min1 = false;
};

std::string source(const std::string &name, const Instance &in) {
  return "#include \"" + in.header + "\"\nextern \"C\" __global__ void __launch_bounds__(" +
         std::to_string(in.threads) + (in.min1 ? ", 1" : "") + ") " + name +
         "(const moela::kernels::" + in.args + " args) {\n  moela::kernels::" + in.call +
         "(args);\n}\n";
}

std::string tmpl(const std::string &fn, const std::vector<std::string> &params) {
  std::string s = fn + "<";
  for (size_t i = 0; i < params.size(); ++i)
    s += (i ? ", " : "") + params[i];
  return s + ">";
}

const std::string kF32 = "float", kBF16 = "__nv_bfloat16", kFP8 = "__nv_fp8_e4m3";

/// `count` elements of `b` as floats, stored as `type` (kF32 or kBF16).
std::vector<float> downloadFloats(const Buffer &b, size_t count, const std::string &type) {
  if (type == kF32)
    return b.download<float>(count);
  std::vector<uint16_t> raw = b.download<uint16_t>(count);
  std::vector<float> values(count);
  for (size_t i = 0; i < count; ++i)
    values[i] = fromBf16(raw[i]);
  return values;
}

/// Compiles (cached on disk by compileCuda) and loads an instantiation.
CUfunction kernel(const Instance &in) {
  static std::map<std::string, CUfunction> loaded;
  static int counter = 0;
  const std::string key = in.header + "|" + in.call + "|" + std::to_string(in.threads);
  auto it = loaded.find(key);
  if (it != loaded.end())
    return it->second;
  const std::string name = "ops_test_" + std::to_string(counter++);
  moela::NvrtcOptions options;
  options.arch = "sm_90a";
  options.cacheDir = moela::defaultKernelCacheDir();
  moela::NvrtcResult r = moela::compileCuda(name, source(name, in), options);
  CUmodule module;
  ck(drv().cuModuleLoadData(&module, r.cubin.data()), "cuModuleLoadData");
  CUfunction f;
  ck(drv().cuModuleGetFunction(&f, module, name.c_str()), "cuModuleGetFunction");
  loaded[key] = f;
  return f;
}

template <typename A> void launch(CUfunction f, const A &args, const K::Launch &l) {
  if (l.shared_bytes > 48 * 1024)
    ck(drv().cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                static_cast<int>(l.shared_bytes)),
       "cuFuncSetAttribute");
  void *params[] = {const_cast<A *>(&args)};
  ck(drv().cuLaunchKernel(f, l.grid_x, l.grid_y, l.grid_z, l.block, 1, 1, l.shared_bytes,
                          nullptr, params, nullptr),
     "cuLaunchKernel");
}

void sync() { ck(drv().cuCtxSynchronize(), "kernel execution"); }

/// Median seconds of `run` over 20 launches after 3 warm-ups (CUDA events);
/// run(i) gets the launch index, so that inputs may rotate past the caches.
double medianSeconds(const std::function<void(int)> &run) {
  CUevent start, stop;
  ck(drv().cuEventCreate(&start, 0), "cuEventCreate");
  ck(drv().cuEventCreate(&stop, 0), "cuEventCreate");
  std::vector<float> times;
  for (int i = 0; i < 23; ++i) {
    ck(drv().cuEventRecord(start, nullptr), "cuEventRecord");
    run(i);
    ck(drv().cuEventRecord(stop, nullptr), "cuEventRecord");
    ck(drv().cuEventSynchronize(stop), "cuEventSynchronize");
    float ms = 0;
    ck(drv().cuEventElapsedTime(&ms, start, stop), "cuEventElapsedTime");
    if (i >= 3)
      times.push_back(ms);
  }
  drv().cuEventDestroy(start);
  drv().cuEventDestroy(stop);
  std::sort(times.begin(), times.end());
  return times[times.size() / 2] * 1e-3;
}

const K::Tile kTile{};

// ---- Host views -----------------------------------------------------------------

H::Mat mat(std::vector<float> &v, int64_t rows, int64_t cols) { return {v.data(), rows, cols, cols}; }
H::CMat cmat(const std::vector<float> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}
H::IMat imat(std::vector<int32_t> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}
H::CIMat cimat(const std::vector<int32_t> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}

// ---- Embedding ----------------------------------------------------------------------

void testEmbedding() {
  struct Case {
    int vocab, dim, rows;
  };
  for (Case c : {Case{129280, 64, 37}, Case{1024, 7168, 9}}) {
    std::vector<float> table;
    std::vector<uint16_t> tableBf = randomBf16(size_t(c.vocab) * c.dim, -1, 1, table);
    std::vector<int32_t> tokens(c.rows);
    for (int &t : tokens)
      t = uniformInt(0, c.vocab - 1);
    Buffer dTable(tableBf), dTokens(tokens), dOut(size_t(c.rows) * c.dim * 4);
    poisonF32(dOut);
    K::EmbeddingArgs a{};
    a.tokens = dTokens.as<int>();
    a.table = K::Weight{dTable.p(), nullptr, c.vocab, c.dim, 0, 0, 0};
    a.out = view(dOut, c.dim);
    a.rows = c.rows;
    launch(kernel({"Embedding.cuh", "EmbeddingArgs", tmpl("embedding", {kF32, kBF16}), 256}), a,
           K::launchEmbedding(a, kTile));
    sync();
    std::vector<float> ref(size_t(c.rows) * c.dim);
    H::embedding(cimat(tokens, c.rows, 1), H::Weight{table.data(), c.vocab, c.dim},
                 mat(ref, c.rows, c.dim));
    expectEqual("embedding V=" + std::to_string(c.vocab) + " D=" + std::to_string(c.dim),
                dOut.download<float>(ref.size()), ref);
  }
}

// ---- RmsNorm ------------------------------------------------------------------------

void testRmsNorm() {
  struct Case {
    int rows, cols;
    bool residual, inPlace;
    std::string ty;
    bool ue8m0;
  };
  const float eps = 1e-6f;
  for (Case c : {Case{5, 64, false, false, kF32, false}, Case{64, 7168, true, false, kBF16, false},
                 Case{7, 1536, false, false, kBF16, false}, Case{2, 512, true, true, kF32, false},
                 Case{3, 7168, true, true, kFP8, true}, Case{9, 192, true, false, kFP8, false},
                 Case{4, 7168, false, false, kFP8, false}}) {
    const size_t n = size_t(c.rows) * c.cols;
    std::vector<float> x = randomF(n, -2, 2), r = randomF(n, -2, 2), w;
    std::vector<uint16_t> wBf = randomBf16(c.cols, 0.5f, 1.5f, w);
    const int blocks = (c.cols + 127) / 128;
    const size_t ySize = c.ty == kF32 ? 4 : (c.ty == kBF16 ? 2 : 1);
    Buffer dX(x), dR(r), dW(wBf), dY(n * ySize), dSum(n * 4), dScales(size_t(c.rows) * blocks * 4);
    poisonF32(dSum);
    poisonF32(dScales);
    if (c.ty == kBF16)
      poisonBf16(dY);
    else if (c.ty == kF32)
      poisonF32(dY);
    else
      dY.upload(std::vector<uint8_t>(n, 0x7f)); // e4m3 NaN
    K::RmsNormArgs a{};
    a.x = view(dX, c.cols);
    if (c.residual) {
      a.residual = view(dR, c.cols);
      a.sum = c.inPlace ? view(dX, c.cols) : view(dSum, c.cols); // in place: sum is x's view
    }
    a.y = view(dY, c.cols);
    a.weight = K::Weight{dW.p(), nullptr, 1, c.cols, 0, 0, 0};
    a.y_scales = c.ty == kFP8 ? dScales.as<float>() : nullptr;
    a.y_scale_ld = blocks;
    a.ue8m0 = c.ue8m0;
    a.rows = c.rows;
    a.cols = c.cols;
    a.eps = eps;
    launch(kernel({"RmsNorm.cuh", "RmsNormArgs", tmpl("rmsNorm", {kF32, kF32, c.ty, kBF16}), 256}),
           a, K::launchRmsNorm(a, kTile));
    sync();
    std::vector<float> yRef(n), sumRef(n);
    H::CMat rv = cmat(r, c.rows, c.cols);
    H::Mat sv = mat(sumRef, c.rows, c.cols);
    H::rmsNorm(cmat(x, c.rows, c.cols), c.residual ? &rv : nullptr, w.data(), eps,
               mat(yRef, c.rows, c.cols), c.residual ? &sv : nullptr);
    const std::string name = "rms_norm " + std::to_string(c.rows) + "x" + std::to_string(c.cols) +
                             (c.residual ? " +residual" : "") + (c.inPlace ? " in-place" : "") +
                             " y=" + c.ty + (c.ue8m0 ? " ue8m0" : "");
    if (c.residual)
      expectRel(name + " sum", (c.inPlace ? dX : dSum).download<float>(n), sumRef, 1e-7);
    if (c.ty == kF32) {
      expectRel(name, dY.download<float>(n), yRef, 1e-5);
    } else if (c.ty == kBF16) {
      expectRel(name, downloadFloats(dY, n, kBF16), yRef, 1e-2);
    } else {
      // FP8: the scales follow spec 3.4 from the reference row; every value is
      // within e4m3 rounding of y / s.
      std::vector<uint8_t> yq = dY.download<uint8_t>(n);
      std::vector<float> scales = dScales.download<float>(size_t(c.rows) * blocks);
      long long badScale = 0, badValue = 0;
      std::vector<float> deq(n);
      for (int row = 0; row < c.rows; ++row)
        for (int b = 0; b < blocks; ++b) {
          float amax = 0;
          for (int col = b * 128; col < std::min(c.cols, b * 128 + 128); ++col)
            amax = std::max(amax, std::fabs(yRef[size_t(row) * c.cols + col]));
          float raw = std::max(amax, 1e-4f) / 448.0f, s = raw;
          if (c.ue8m0)
            s = std::ldexp(1.0f, static_cast<int>(std::ceil(std::log2(static_cast<double>(raw)))));
          const float got = scales[size_t(row) * blocks + b];
          const bool nearPow2 =
              std::fabs(std::log2(static_cast<double>(raw)) - std::round(std::log2(raw))) < 1e-5;
          if (!(std::fabs(got - s) <= 1e-5 * s || (c.ue8m0 && nearPow2 && std::fabs(got / s - 1) <= 1.0)))
            ++badScale;
          for (int col = b * 128; col < std::min(c.cols, b * 128 + 128); ++col) {
            const size_t i = size_t(row) * c.cols + col;
            deq[i] = fromFp8(yq[i]) * got;
            const double tol = 0.0625 * std::fabs(yRef[i]) + got * std::ldexp(1.0, -9) + 1e-6;
            if (!(std::fabs(deq[i] - yRef[i]) <= tol))
              ++badValue;
          }
        }
      Compare cmp = compare(deq, yRef);
      report(name, badScale == 0 && badValue == 0 && cmp.ok(0.05),
             "bad scales " + std::to_string(badScale) + ", values off e4m3 rounding " +
                 std::to_string(badValue) + ", " + relText(cmp, 0.05));
    }
  }
}

// ---- Add, SiluMul, GatherRows ------------------------------------------------------------

void testElementwise() {
  { // c = a + b, in place (c is a's view) and not
    const int rows = 3, cols = 7168;
    const size_t n = size_t(rows) * cols;
    std::vector<float> a = randomF(n, -1, 1), b = randomF(n, -1, 1), ref(n);
    H::add(cmat(a, rows, cols), cmat(b, rows, cols), mat(ref, rows, cols));
    for (bool inPlace : {false, true}) {
      Buffer dA(a), dB(b), dC(n * 4);
      poisonF32(dC);
      K::AddArgs args{view(dA, cols), view(dB, cols), view(inPlace ? dA : dC, cols), rows, cols};
      launch(kernel({"Elementwise.cuh", "AddArgs", tmpl("add", {kF32, kF32, kF32}), 256}), args,
             K::launchAdd(args, kTile));
      sync();
      expectEqual(std::string("add 3x7168") + (inPlace ? " in-place" : ""),
                  (inPlace ? dA : dC).download<float>(n), ref);
    }
  }
  { // silu(gate) * up, fp32 and bf16 out
    const int rows = 5, cols = 2048;
    const size_t n = size_t(rows) * cols;
    std::vector<float> g = randomF(n, -6, 6), u = randomF(n, -2, 2), ref(n);
    H::siluMul(cmat(g, rows, cols), cmat(u, rows, cols), mat(ref, rows, cols));
    for (const std::string &to : {kF32, kBF16}) {
      Buffer dG(g), dU(u), dO(n * 4);
      poisonF32(dO);
      K::SiluMulArgs args{view(dG, cols), view(dU, cols), view(dO, cols), rows, cols};
      launch(kernel({"Elementwise.cuh", "SiluMulArgs", tmpl("siluMul", {kF32, kF32, to}), 256}),
             args, K::launchSiluMul(args, kTile));
      sync();
      std::vector<float> out = downloadFloats(dO, n, to);
      expectRel("silu_mul 5x2048 out=" + to, out, ref, to == kF32 ? 1e-5 : 1e-2);
    }
  }
  { // gather rows
    const int rows = 17, cols = 7168, picked = 4;
    std::vector<float> x = randomF(size_t(rows) * cols, -1, 1), ref(size_t(picked) * cols);
    std::vector<int32_t> index(picked);
    for (int &i : index)
      i = uniformInt(0, rows - 1);
    H::gatherRows(cmat(x, rows, cols), cimat(index, picked, 1), mat(ref, picked, cols));
    Buffer dX(x), dI(index), dO(ref.size() * 4);
    poisonF32(dO);
    K::GatherRowsArgs args{view(dX, cols), dI.as<int>(), view(dO, cols), picked, cols};
    launch(kernel({"Elementwise.cuh", "GatherRowsArgs", tmpl("gatherRows", {kF32, kF32}), 256}),
           args, K::launchGatherRows(args, kTile));
    sync();
    expectEqual("gather_rows 4 of 17x7168", dO.download<float>(ref.size()), ref);
  }
}

// ---- Rope ------------------------------------------------------------------------------

moela::RopeSpec v3Rope() {
  moela::RopeSpec s;
  s.theta = 10000;
  s.dim = 64;
  s.yarn.enabled = true;
  s.yarn.factor = 40;
  s.yarn.originalMaxPositionEmbeddings = 4096;
  s.yarn.betaFast = 32;
  s.yarn.betaSlow = 1;
  s.yarn.mscale = 1;
  s.yarn.mscaleAllDim = 1;
  return s;
}

void testRope() {
  struct Case {
    int rows, heads, headDim, offset, dim;
    bool yarn, inPlace;
    int maxPos;
  };
  for (Case c : {Case{64, 128, 192, 128, 64, true, false, 163839},
                 Case{9, 128, 192, 128, 64, true, true, 4096}, Case{5, 4, 24, 16, 8, true, false, 200},
                 Case{7, 2, 48, 32, 16, false, true, 1000}}) {
    moela::RopeSpec spec = v3Rope();
    spec.dim = c.dim;
    spec.yarn.enabled = c.yarn;
    const std::vector<float> invFreq = moela::ropeInvFreq(spec);
    const float magnitude = moela::ropeMagnitude(spec);
    const int cols = c.heads * c.headDim;
    const size_t n = size_t(c.rows) * cols;
    std::vector<float> x = randomF(n, -1, 1);
    std::vector<int32_t> pos(c.rows);
    for (int &p : pos)
      p = uniformInt(0, c.maxPos);
    Buffer dX(x), dY(n * 4), dPos(pos), dFreq(invFreq);
    poisonF32(dY);
    K::RopeArgs a{};
    a.x = view(dX, cols);
    a.y = view(c.inPlace ? dX : dY, cols);
    a.positions = dPos.as<int>();
    a.rope = K::Rope{dFreq.as<float>(), magnitude, c.heads, c.headDim, c.offset, c.dim};
    a.rows = c.rows;
    launch(kernel({"Rope.cuh", "RopeArgs", tmpl("rope", {kF32, kF32}), 256}), a,
           K::launchRope(a, kTile));
    sync();
    H::RopeTable table;
    table.build(invFreq, magnitude, cimat(pos, c.rows, 1));
    std::vector<float> ref = x;
    H::applyRope(mat(ref, c.rows, cols), table, c.heads, c.headDim, c.offset);
    expectRel("rope " + std::to_string(c.rows) + "x" + std::to_string(c.heads) + "x" +
                  std::to_string(c.headDim) + " dim " + std::to_string(c.dim) +
                  (c.yarn ? " yarn" : "") + (c.inPlace ? " in-place" : "") + " pos<=" +
                  std::to_string(c.maxPos),
              (c.inPlace ? dX : dY).download<float>(n), ref, 1e-5);
  }
}

// ---- Argmax ------------------------------------------------------------------------------

void testArgmax() {
  const int rows = 6, cols = 129280;
  std::vector<float> logits = randomF(size_t(rows) * cols, -10, 10);
  auto at = [&](int r, int c) -> float & { return logits[size_t(r) * cols + c]; };
  at(1, 777) = 50;
  at(1, 90000) = 50; // tie: the first wins
  at(2, 0) = NAN;    // NaN at 0: the host's scan answers 0
  at(2, 5) = 60;
  at(3, 100) = NAN;
  at(3, 101) = 70;
  for (int c = 0; c < cols; ++c)
    at(4, c) = -INFINITY; // all equal: 0
  at(5, cols - 1) = 80;
  std::vector<int32_t> ref(rows);
  H::argmax(cmat(logits, rows, cols), imat(ref, rows, 1));
  Buffer dL(logits), dO(size_t(rows) * 4);
  poisonI32(dO);
  K::ArgmaxArgs a{view(dL, cols), dO.as<int>(), rows, cols};
  launch(kernel({"Argmax.cuh", "ArgmaxArgs", tmpl("argmax", {kF32}), 1024}), a,
         K::launchArgmax(a, kTile));
  sync();
  expectEqual("argmax 6x129280 (ties, NaN, -inf)", dO.download<int32_t>(rows), ref);
}

// ---- KvAppend ----------------------------------------------------------------------------

void testKvAppend() {
  struct Case {
    int latent, rope, slots, maxSeq, rows;
    bool norm, rotate;
  };
  for (Case c : {Case{512, 64, 3, 64, 10, true, true}, Case{32, 8, 2, 16, 5, false, false},
                 Case{96, 16, 2, 40, 6, true, false}}) {
    const int width = c.latent + c.rope;
    const size_t cacheElems = size_t(c.slots) * c.maxSeq * width;
    std::vector<float> cacheF;
    std::vector<uint16_t> cache = randomBf16(cacheElems, -3, 3, cacheF);
    std::vector<float> latent = randomF(size_t(c.rows) * c.latent, -2, 2);
    std::vector<float> kpe = randomF(size_t(c.rows) * c.rope, -2, 2), w;
    std::vector<uint16_t> wBf = randomBf16(c.latent, 0.5f, 1.5f, w);
    // Distinct (slot, position) per token.
    std::vector<int32_t> pos(c.rows), seq(c.rows);
    std::vector<int> cells(size_t(c.slots) * c.maxSeq);
    std::iota(cells.begin(), cells.end(), 0);
    std::shuffle(cells.begin(), cells.end(), rng);
    for (int t = 0; t < c.rows; ++t) {
      seq[t] = cells[t] / c.maxSeq;
      pos[t] = cells[t] % c.maxSeq;
    }
    moela::RopeSpec spec = v3Rope();
    spec.dim = c.rope;
    const std::vector<float> invFreq = moela::ropeInvFreq(spec);
    const float magnitude = moela::ropeMagnitude(spec);
    Buffer dCache(cache), dLat(latent), dKpe(kpe), dW(wBf), dPos(pos), dSeq(seq), dFreq(invFreq);
    K::KvAppendArgs a{};
    a.latent = view(dLat, c.latent);
    a.k_pe = view(dKpe, c.rope);
    a.positions = dPos.as<int>();
    a.seq_ids = dSeq.as<int>();
    a.norm = K::Weight{c.norm ? dW.p() : nullptr, nullptr, 1, c.latent, 0, 0, 0};
    a.eps = 1e-6f;
    a.rope = K::Rope{dFreq.as<float>(), magnitude, 1, c.rope, 0, c.rotate ? c.rope : 0};
    a.cache = dCache.p();
    a.slot_stride = static_cast<long long>(c.maxSeq) * width;
    a.rows = c.rows;
    a.latent_dim = c.latent;
    a.rope_dim = c.rope;
    launch(kernel({"KvAppend.cuh", "KvAppendArgs", tmpl("kvAppend", {kF32, kF32, kBF16}), 256}),
           a, K::launchKvAppend(a, kTile));
    sync();
    H::RopeTable table;
    table.build(invFreq, magnitude, cimat(pos, c.rows, 1));
    std::vector<float> refCache = cacheF;
    H::KvLayer layer{refCache.data(), c.slots, c.maxSeq, c.latent, c.rope};
    H::kvAppend(cmat(latent, c.rows, c.latent), cmat(kpe, c.rows, c.rope), cimat(pos, c.rows, 1),
                cimat(seq, c.rows, 1), c.norm ? w.data() : nullptr, 1e-6f,
                c.rotate ? &table : nullptr, layer);
    std::vector<uint16_t> got = dCache.download<uint16_t>(cacheElems);
    // Written rows: within one bf16 rounding of the fp32 reference; all other
    // rows: untouched bit for bit.
    long long wrongRows = 0, untouchedChanged = 0;
    std::vector<char> written(size_t(c.slots) * c.maxSeq, 0);
    for (int t = 0; t < c.rows; ++t)
      written[size_t(seq[t]) * c.maxSeq + pos[t]] = 1;
    Compare cmp;
    for (size_t row = 0; row < written.size(); ++row)
      for (int j = 0; j < width; ++j) {
        const size_t i = row * width + j;
        if (written[row]) {
          const float g = fromBf16(got[i]), r = refCache[i];
          cmp.add(g, r);
          if (!(std::fabs(g - r) <= std::ldexp(std::fabs(r), -8) + 1e-30f))
            ++wrongRows;
        } else if (got[i] != cache[i]) {
          ++untouchedChanged;
        }
      }
    report("kv_append R=" + std::to_string(c.latent) + " Dr=" + std::to_string(c.rope) +
               (c.norm ? " norm" : "") + (c.rotate ? " rope" : ""),
           wrongRows == 0 && untouchedChanged == 0 && cmp.ok(1e-2),
           "elements off bf16 rounding " + std::to_string(wrongRows) + ", other rows changed " +
               std::to_string(untouchedChanged) + ", " + relText(cmp, 1e-2));
  }
}

// ---- LatentAttention -------------------------------------------------------------------

struct LatentCase {
  std::string name;
  int heads, latent, rope;
  int slots, maxSeq;
  std::vector<std::pair<int, int>> tokens; // (slot, position)
  std::string out = kF32;
  std::string q = kBF16;     // q_lat and q_pe (the emitter stores them bf16)
  bool interleavedQ = false; // q_lat and q_pe in one [T, H*(R+Dr)] buffer
  int timeBatch = 0; // > 0: also time the first timeBatch tokens, then the next
                     // timeBatch, ... (tokens must be one per slot, slot = index)
};

/// Cache rows 0..(the slot's largest position) random bf16 in [-1, 1], the
/// rest NaN: attention must never read past a token's position.
std::vector<uint16_t> latentCache(const LatentCase &c, std::vector<float> &asFloat) {
  const int width = c.latent + c.rope;
  std::vector<int> last(c.slots, -1);
  for (auto [slot, pos] : c.tokens)
    last[slot] = std::max(last[slot], pos);
  std::vector<uint16_t> cache(size_t(c.slots) * c.maxSeq * width, 0x7fc0);
  asFloat.assign(cache.size(), NAN);
  for (int s = 0; s < c.slots; ++s)
    for (int p = 0; p <= last[s]; ++p)
      for (int j = 0; j < width; ++j) {
        const size_t i = (size_t(s) * c.maxSeq + p) * width + j;
        cache[i] = toBf16(uniform(-1, 1));
        asFloat[i] = fromBf16(cache[i]);
      }
  return cache;
}

void runLatent(const LatentCase &c) {
  const int T = static_cast<int>(c.tokens.size()), Hh = c.heads, R = c.latent, Dr = c.rope;
  const int width = R + Dr;
  const float scale = 0.1352f; // V3: 192^-0.5 * (0.1 ln 40 + 1)^2
  std::vector<float> cacheF;
  std::vector<uint16_t> cache = latentCache(c, cacheF);
  std::vector<int32_t> pos(T), seq(T);
  for (int t = 0; t < T; ++t) {
    seq[t] = c.tokens[t].first;
    pos[t] = c.tokens[t].second;
  }
  // q: packed q_lat [T, H*R] and q_pe [T, H*Dr], or one [T, H*(R+Dr)] buffer
  // with head h's q_lat at h*(R+Dr) and its q_pe at h*(R+Dr) + R.
  const long long latStride = c.interleavedQ ? width : R, peStride = c.interleavedQ ? width : Dr;
  const long long qLatCols = c.interleavedQ ? static_cast<long long>(Hh) * width : Hh * R;
  const long long qPeCols = c.interleavedQ ? qLatCols : Hh * Dr;
  std::vector<float> qLat = randomF(size_t(T) * qLatCols, -1, 1);
  std::vector<float> qPe = c.interleavedQ ? qLat : randomF(size_t(T) * qPeCols, -1, 1);
  const size_t qSize = c.q == kF32 ? 4 : 2;
  auto qBuffer = [&](std::vector<float> &q) { // bf16 q: the reference gets the rounded values
    if (qSize == 4)
      return std::make_unique<Buffer>(q);
    std::vector<uint16_t> b(q.size());
    for (size_t i = 0; i < q.size(); ++i) {
      b[i] = toBf16(q[i]);
      q[i] = fromBf16(b[i]);
    }
    return std::make_unique<Buffer>(b);
  };
  std::unique_ptr<Buffer> qLatBuf = qBuffer(qLat), qPeBuf = qBuffer(qPe);
  const Buffer &dQLat = *qLatBuf, &dQPe = *qPeBuf;
  Buffer dCache(cache), dPos(pos), dSeq(seq);
  const size_t outSize = c.out == kF32 ? 4 : 2;
  Buffer dOut(size_t(T) * Hh * R * outSize);
  K::LatentAttentionArgs a{};
  a.q_lat = view(dQLat, qLatCols);
  a.q_lat_stride = latStride;
  a.q_pe = c.interleavedQ ? view(dQLat, qLatCols, size_t(R) * qSize) : view(dQPe, qPeCols);
  a.q_pe_stride = peStride;
  a.positions = dPos.as<int>();
  a.seq_ids = dSeq.as<int>();
  a.cache = dCache.p();
  a.slot_stride = static_cast<long long>(c.maxSeq) * width;
  a.out = view(dOut, static_cast<long long>(Hh) * R);
  a.rows = T;
  a.heads = Hh;
  a.latent_dim = R;
  a.rope_dim = Dr;
  a.scale = scale;
  Buffer dWork(static_cast<size_t>(K::latentAttentionWorkspaceBytes(a)));
  a.workspace = dWork.as<float>();
  const int mt = K::latentAttentionMTiles(Hh);
  CUfunction f = kernel({"LatentAttention.cuh", "LatentAttentionArgs",
                         tmpl("latentAttention", {c.q, c.q, c.out, std::to_string(R),
                                                  std::to_string(Dr), std::to_string(mt)}),
                         K::latentAttentionThreads(Hh), true});
  const int launches = K::latentAttentionLaunches(a);
  auto run = [&](K::LatentAttentionArgs args) {
    for (int phase = 0; phase < launches; ++phase) {
      args.phase = phase;
      launch(f, args, K::launchLatentAttention(args, kTile));
    }
  };
  if (c.out == kF32)
    poisonF32(dOut);
  else
    poisonBf16(dOut);
  run(a);
  sync();
  std::vector<float> out = downloadFloats(dOut, size_t(T) * Hh * R, c.out);
  std::vector<float> ref(out.size());
  H::KvLayer layer{cacheF.data(), c.slots, c.maxSeq, R, Dr};
  H::CMat ql{qLat.data(), T, qLatCols, qLatCols};
  H::CMat qp{c.interleavedQ ? qLat.data() + R : qPe.data(), T, qPeCols, qPeCols};
  H::mlaLatentAttention(ql, latStride, qp, peStride, cimat(pos, T, 1), cimat(seq, T, 1), Hh,
                        scale, layer, mat(ref, T, int64_t(Hh) * R));
  Compare cmp = compare(out, ref);
  const int splits = K::latentAttentionSplitsFor(a, T);
  report("latent_attention " + c.name + " q=" + c.q + " out=" + c.out, cmp.ok(1e-2),
         relText(cmp, 1e-2) + " S=" + std::to_string(splits) + " launches " +
             std::to_string(launches));

  if (c.timeBatch <= 0)
    return;
  // Timing: T = timeBatch tokens; launch i reads the slot set i % rot
  // (seq_ids offset by T), so that repeated launches do not hit one
  // L2-resident set. The workspace was sized for rows = all tokens >= T.
  const int Tt = c.timeBatch, rot = T / Tt;
  std::vector<int32_t> seqRot(T);
  std::iota(seqRot.begin(), seqRot.end(), 0);
  Buffer dSeqRot(seqRot);
  a.rows = Tt;
  const int timedSplits = K::latentAttentionSplitsFor(a, Tt);
  const int timedLaunches = K::latentAttentionLaunches(a);
  auto runTimed = [&](K::LatentAttentionArgs args) {
    for (int phase = 0; phase < timedLaunches; ++phase) {
      args.phase = phase;
      launch(f, args, K::launchLatentAttention(args, kTile));
    }
  };
  const double sec = medianSeconds([&](int i) {
    K::LatentAttentionArgs ai = a;
    ai.seq_ids = dSeqRot.as<int>() + size_t(Tt) * (i % rot);
    runTimed(ai);
  });
  double bytes = 0, flops = 0;
  for (int t = 0; t < Tt; ++t) {
    const int p = c.tokens[t].second;
    bytes += double(p + 1) * width * 2;
    flops += 2.0 * Hh * (p + 1) * (width + R);
  }
  bytes += double(Tt) * Hh * (width * qSize + R * outSize); // q in, out
  std::printf("TIME latent_attention %-20s T=%-3d %8.1f us  %7.1f GB/s (%4.1f%% of 4.3 TB/s)  "
              "%6.1f TFLOP/s  S=%d launches %d\n",
              c.name.c_str(), Tt, sec * 1e6, bytes / sec * 1e-9, bytes / sec / 4.3e12 * 100,
              flops / sec * 1e-12, timedSplits, timedLaunches);
  std::fflush(stdout);
}

void testLatentAttention() {
  auto tokens = [](int n, int slots, int maxPos) {
    std::vector<std::pair<int, int>> v;
    for (int i = 0; i < n; ++i)
      v.push_back({uniformInt(0, slots - 1), uniformInt(0, maxPos)});
    return v;
  };
  std::vector<std::pair<int, int>> chunk; // a prefill chunk of one slot
  for (int i = 0; i < 200; ++i)
    chunk.push_back({1, 1000 + i});
  std::vector<LatentCase> cases = {
      {"tiny H4 R32 Dr8", 4, 32, 8, 4, 256, {{0, 0}, {0, 5}, {1, 63}, {1, 64}, {2, 200}, {3, 255}}},
      {"tiny-v2 H2 R64 Dr16", 2, 64, 16, 3, 512, tokens(7, 3, 511)},
      {"tiny-v2-lite H4 R64 Dr16", 4, 64, 16, 2, 300, tokens(3, 2, 299)},
      {"tiny-v3-fp8 H2 R96 Dr16", 2, 96, 16, 3, 700, tokens(5, 3, 699)},
      {"v2-lite H16 decode", 16, 512, 64, 4, 2048, tokens(4, 4, 2047)},
      {"H40 (3 head tiles)", 40, 512, 64, 2, 600, tokens(2, 2, 599)},
      {"v3 T1 pos0", 128, 512, 64, 1, 64, {{0, 0}}},
      {"v3 T1 pos64", 128, 512, 64, 1, 128, {{0, 64}}},
      {"v3 T1 pos8191", 128, 512, 64, 1, 8192, {{0, 8191}}},
      {"v3 T8 mixed", 128, 512, 64, 8, 8192,
       {{0, 0}, {1, 1}, {2, 65}, {3, 127}, {4, 128}, {5, 1000}, {6, 4096}, {7, 8191}}},
      {"v3 T64 decode", 128, 512, 64, 16, 4096, tokens(64, 16, 4095)},
      {"v3 prefill chunk T200", 128, 512, 64, 2, 1300, chunk},
  };
  cases.back().interleavedQ = true;
  // As emitted (bf16 q, bf16 out) and, for the small-T V3 cases and two tiny
  // ones, with fp32 q and/or fp32 out too.
  for (LatentCase c : cases) {
    c.out = kBF16;
    runLatent(c);
    if (c.heads == 128 && c.tokens.size() <= 8) {
      c.q = kF32;
      runLatent(c);
      c.out = kF32;
      runLatent(c);
    } else if (c.heads < 16) {
      c.out = kF32;
      runLatent(c);
    }
  }
  // Timed: decode at batch 1, 8, 64 with 4096 visible rows each, one slot per
  // token; rotating slot sets keep the working set well over the L2. The
  // correctness check runs on all batch * rotations tokens.
  for (int batch : {1, 8, 64}) {
    const int rot = batch == 1 ? 32 : (batch == 8 ? 6 : 1);
    LatentCase c{"v3 decode ctx4096", 128, 512, 64, batch * rot, 4096, {}};
    for (int s = 0; s < batch * rot; ++s)
      c.tokens.push_back({s, 4095});
    c.timeBatch = batch;
    c.out = kBF16;
    runLatent(c);
  }
}

// ---- MlaAttention ----------------------------------------------------------------------

void testMlaAttention() {
  struct Case {
    std::string name;
    int heads, nope, rope, v, latent;
    std::string tw, to;
  };
  for (Case c : {Case{"tiny", 4, 16, 8, 16, 32, kBF16, kF32},
                 Case{"v3 H128", 128, 128, 64, 128, 512, kBF16, kF32},
                 Case{"v3 H128 fp8 kv_b bf16 out", 128, 128, 64, 128, 512, kFP8, kBF16}}) {
    const int slots = 2, maxSeq = 800, width = c.latent + c.rope;
    std::vector<std::pair<int, int>> toks = {{0, 0}, {0, 700}, {1, 300}};
    const int T = static_cast<int>(toks.size());
    LatentCase lc{c.name, c.heads, c.latent, c.rope, slots, maxSeq, toks};
    std::vector<float> cacheF;
    std::vector<uint16_t> cache = latentCache(lc, cacheF);
    std::vector<int32_t> pos(T), seq(T);
    for (int t = 0; t < T; ++t) {
      seq[t] = toks[t].first;
      pos[t] = toks[t].second;
    }
    const int qCols = c.heads * (c.nope + c.rope), kvRows = c.heads * (c.nope + c.v);
    std::vector<float> q = randomF(size_t(T) * qCols, -1, 1);
    // kv_b: bf16, or FP8 codes with [ceil(rows/128), ceil(R/128)] scales.
    std::vector<float> kvB(size_t(kvRows) * c.latent);
    std::vector<uint16_t> kvBf;
    std::vector<uint8_t> kv8;
    const int sRows = (kvRows + 127) / 128, sCols = (c.latent + 127) / 128;
    std::vector<float> scales = randomF(size_t(sRows) * sCols, 0.02f, 0.06f);
    if (c.tw == kFP8) {
      kv8 = randomFp8(kvB.size());
      for (int r = 0; r < kvRows; ++r)
        for (int col = 0; col < c.latent; ++col) {
          const size_t i = size_t(r) * c.latent + col;
          kvB[i] = fromFp8(kv8[i]) * scales[size_t(r / 128) * sCols + col / 128];
        }
    } else {
      kvBf = randomBf16(kvB.size(), -0.08f, 0.08f, kvB);
    }
    Buffer dCache(cache), dQ(q), dPos(pos), dSeq(seq), dScales(scales);
    Buffer dKv(c.tw == kFP8 ? kv8.size() : kvBf.size() * 2);
    if (c.tw == kFP8)
      dKv.upload(kv8);
    else
      dKv.upload(kvBf);
    const size_t outElems = size_t(T) * c.heads * c.v;
    Buffer dOut(outElems * 4);
    poisonF32(dOut);
    K::MlaAttentionArgs a{};
    a.q = view(dQ, qCols);
    a.positions = dPos.as<int>();
    a.seq_ids = dSeq.as<int>();
    a.kv_b = K::Weight{dKv.p(), c.tw == kFP8 ? dScales.as<float>() : nullptr, kvRows, c.latent,
                       sCols, 0, 0};
    a.cache = dCache.p();
    a.slot_stride = static_cast<long long>(maxSeq) * width;
    a.out = view(dOut, static_cast<long long>(c.heads) * c.v);
    a.workspace = nullptr;
    a.rows = T;
    a.heads = c.heads;
    a.nope_dim = c.nope;
    a.rope_dim = c.rope;
    a.v_dim = c.v;
    a.latent_dim = c.latent;
    a.absorbed = 0;
    a.scale = 0.1352f;
    launch(kernel({"MlaAttention.cuh", "MlaAttentionArgs",
                   tmpl("mlaAttention", {kF32, c.to, c.tw}), 256}),
           a, K::launchMlaAttention(a, kTile));
    sync();
    std::vector<float> out = downloadFloats(dOut, outElems, c.to);
    std::vector<float> ref(outElems);
    H::MlaDims dims{c.heads, c.nope, c.rope, c.v, c.latent, 0.1352f};
    H::KvLayer layer{cacheF.data(), slots, maxSeq, c.latent, c.rope};
    H::mlaAttentionAbsorbed(cmat(q, T, qCols), cimat(pos, T, 1), cimat(seq, T, 1),
                            H::Weight{kvB.data(), kvRows, c.latent}, dims, layer,
                            mat(ref, T, int64_t(c.heads) * c.v));
    expectRel("mla_attention " + c.name + " kv_b=" + c.tw, out, ref, c.to == kF32 ? 1e-4 : 1e-2);
  }
}

// ---- KvGather ----------------------------------------------------------------------------

void testKvGather() {
  struct Case {
    int latent, rope, slots, maxSeq, rows;
    std::string out;
  };
  for (Case c : {Case{32, 8, 3, 40, 17, kF32}, Case{512, 64, 4, 3000, 300, kBF16},
                 Case{512, 64, 4, 3000, 300, kF32}}) {
    const int width = c.latent + c.rope;
    std::vector<float> cacheF;
    std::vector<uint16_t> cache = randomBf16(size_t(c.slots) * c.maxSeq * width, -3, 3, cacheF);
    std::vector<int32_t> pos(c.rows), seq(c.rows); // repeats allowed
    for (int t = 0; t < c.rows; ++t) {
      seq[t] = uniformInt(0, c.slots - 1);
      pos[t] = uniformInt(0, c.maxSeq - 1);
    }
    const size_t outElems = size_t(c.rows) * width, outSize = c.out == kF32 ? 4 : 2;
    Buffer dCache(cache), dPos(pos), dSeq(seq), dOut(outElems * outSize);
    if (c.out == kF32)
      poisonF32(dOut);
    else
      poisonBf16(dOut);
    K::KvGatherArgs a{};
    a.cache = dCache.p();
    a.slot_stride = static_cast<long long>(c.maxSeq) * width;
    a.positions = dPos.as<int>();
    a.seq_ids = dSeq.as<int>();
    a.out = view(dOut, width);
    a.rows = c.rows;
    a.latent_dim = c.latent;
    a.rope_dim = c.rope;
    launch(kernel({"KvGather.cuh", "KvGatherArgs", tmpl("kvGather", {c.out}), 256}), a,
           K::launchKvGather(a, kTile));
    sync();
    std::vector<float> out = downloadFloats(dOut, outElems, c.out), ref(outElems);
    for (int t = 0; t < c.rows; ++t)
      for (int j = 0; j < width; ++j)
        ref[size_t(t) * width + j] =
            cacheF[(size_t(seq[t]) * c.maxSeq + pos[t]) * width + j];
    expectEqual("kv_gather R=" + std::to_string(c.latent) + " Dr=" + std::to_string(c.rope) +
                    " T=" + std::to_string(c.rows) + " out=" + c.out,
                out, ref);
  }
}

// ---- MlaPrefillAttention -----------------------------------------------------------------

struct PrefillCase {
  std::string name;
  int heads, nope, rope, v;
  std::vector<int> seqLens; // sequences packed back to back, positions from 0
  std::string q = kBF16, kv = kBF16, kp = kBF16, out = kBF16;
  bool timed = false; // also time it; the reference covers sampled rows only
};

/// A [rows, cols] matrix on the device as f32 or bf16; bf16 rounds `values`
/// to what the device holds.
std::unique_ptr<Buffer> deviceMatrix(std::vector<float> &values, const std::string &type) {
  if (type == kF32)
    return std::make_unique<Buffer>(values);
  std::vector<uint16_t> b(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    b[i] = toBf16(values[i]);
    values[i] = fromBf16(b[i]);
  }
  return std::make_unique<Buffer>(b);
}

void runPrefill(const PrefillCase &c) {
  const int H = c.heads, dn = c.nope, dr = c.rope, dv = c.v;
  std::vector<int32_t> pos;
  for (int len : c.seqLens)
    for (int p = 0; p < len; ++p)
      pos.push_back(p);
  const int T = static_cast<int>(pos.size());
  const long long qCols = static_cast<long long>(H) * (dn + dr);   // [T, H*(Dn+Dr)]
  const long long kvCols = static_cast<long long>(H) * (dn + dv);  // [T, H*(Dn+Dv)]
  // A tile of NaN rows past T: the kernel must not read them.
  auto input = [&](long long cols) {
    std::vector<float> v = randomF(size_t(T + 64) * cols, -1, 1);
    std::fill(v.begin() + size_t(T) * cols, v.end(), NAN);
    return v;
  };
  std::vector<float> q = input(qCols), kv = input(kvCols), kpe = input(dr); // [T, Dr]
  std::unique_ptr<Buffer> dQ = deviceMatrix(q, c.q), dKv = deviceMatrix(kv, c.kv),
                          dKpe = deviceMatrix(kpe, c.kp);
  Buffer dPos(pos);
  const size_t outElems = size_t(T) * H * dv, outSize = c.out == kF32 ? 4 : 2;
  Buffer dOut(outElems * outSize);
  if (c.out == kF32)
    poisonF32(dOut);
  else
    poisonBf16(dOut);
  const float scale = 0.1352f;
  K::MlaPrefillAttentionArgs a{};
  a.q = view(*dQ, qCols);
  a.kv = view(*dKv, kvCols);
  a.k_pe = view(*dKpe, dr);
  a.positions = dPos.as<int>();
  a.out = view(dOut, static_cast<long long>(H) * dv);
  a.rows = T;
  a.heads = H;
  a.nope_dim = dn;
  a.rope_dim = dr;
  a.v_dim = dv;
  a.scale = scale;
  CUfunction f = kernel({"MlaPrefillAttention.cuh", "MlaPrefillAttentionArgs",
                         tmpl("mlaPrefillAttention", {c.q, c.kv, c.kp, c.out, std::to_string(dn),
                                                      std::to_string(dr), std::to_string(dv)}),
                         K::mlaPrefillAttentionThreads()});
  const K::Launch l = K::launchMlaPrefillAttention(a, kTile);
  launch(f, a, l);
  sync();
  std::vector<float> out = downloadFloats(dOut, outElems, c.out);
  // Reference in double over keys t - positions[t] .. t; timed (long) cases
  // check every 37th row and the last 64.
  Compare cmp;
  std::vector<double> w, acc(dv);
  for (int t = 0; t < T; ++t) {
    if (c.timed && t % 37 != 0 && t < T - 64)
      continue;
    const int lo = t - pos[t];
    for (int h = 0; h < H; ++h) {
      const size_t qc = size_t(t) * qCols + size_t(h) * (dn + dr), kc = size_t(h) * (dn + dv);
      w.assign(size_t(t - lo + 1), 0.0);
      double mx = -INFINITY;
      for (int j = lo; j <= t; ++j) {
        const float *k = kv.data() + size_t(j) * kvCols + kc;
        double d = 0;
        for (int i = 0; i < dn; ++i)
          d += double(q[qc + i]) * k[i];
        for (int i = 0; i < dr; ++i)
          d += double(q[qc + dn + i]) * kpe[size_t(j) * dr + i];
        w[j - lo] = d * scale;
        mx = std::max(mx, w[j - lo]);
      }
      double sum = 0;
      for (double &x : w)
        sum += (x = std::exp(x - mx));
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int j = lo; j <= t; ++j)
        for (int i = 0; i < dv; ++i)
          acc[i] += w[j - lo] * kv[size_t(j) * kvCols + kc + dn + i];
      for (int i = 0; i < dv; ++i)
        cmp.add(out[(size_t(t) * H + h) * dv + i], acc[i] / sum);
    }
  }
  const std::string name = "mla_prefill_attention " + c.name + " q=" + c.q + " kv=" + c.kv +
                           " k_pe=" + c.kp + " out=" + c.out;
  report(name, cmp.ok(1e-2), relText(cmp, 1e-2));
  if (!c.timed)
    return;
  const double sec = medianSeconds([&](int) { launch(f, a, l); });
  double flops = 0; // q.k and p.v of every visible (row, key, head)
  for (int t = 0; t < T; ++t)
    flops += 2.0 * H * (pos[t] + 1) * (dn + dr + dv);
  std::printf("TIME mla_prefill_attention %-28s T=%-5d %8.1f us  %6.1f TFLOP/s (%4.1f%% of "
              "790 TFLOP/s bf16)\n",
              c.name.c_str(), T, sec * 1e6, flops / sec * 1e-12, flops / sec / 790e12 * 100);
  std::fflush(stdout);
}

void testMlaPrefillAttention() {
  std::vector<PrefillCase> cases = {
      {"tiny H4 (16,8,16) 37+1+62", 4, 16, 8, 16, {37, 1, 62}},
      {"tiny-v2 H2 (32,16,32) 100+30", 2, 32, 16, 32, {100, 30}},
      {"tiny-v3-fp8 H3 (64,32,48) 5", 3, 64, 32, 48, {5}},
      {"tiny-v3-fp8 H3 (64,32,48) 150+50", 3, 64, 32, 48, {150, 50}},
      {"v3 H128 37+1+62", 128, 128, 64, 128, {37, 1, 62}},
      {"v3 H128 1000+24+500", 128, 128, 64, 128, {1000, 24, 500}},
  };
  for (PrefillCase c : cases) {
    runPrefill(c); // as emitted: bf16
    c.q = kF32;
    runPrefill(c);
    if (c.heads < 16) {
      c.kv = c.kp = c.out = kF32;
      runPrefill(c);
    }
  }
  PrefillCase timed{"v3 H128 one seq", 128, 128, 64, 128, {4096}};
  timed.timed = true;
  runPrefill(timed);
  timed.name = "v3 H128 4 seqs of 1024";
  timed.seqLens = {1024, 1024, 1024, 1024};
  runPrefill(timed);
}

// ---- Route -------------------------------------------------------------------------------

using moela::test::RouteCase;
using moela::test::clearMargins;
using moela::test::hostConfig;

void testRoute() {
  std::vector<RouteCase> cases = {
      {"v3 noaux_tc E256 K8 G8/4", true, 2, 256, 8, 8, 4, true, true, 2.5f, 64},
      {"v3 fused gate D7168", true, 2, 256, 8, 8, 4, true, true, 2.5f, 16, 7168},
      {"v2 group_limited E160 K6 G8/3", false, 1, 160, 6, 8, 3, false, false, 16.0f, 64},
      {"v2-lite greedy E64 K6", false, 0, 64, 6, 1, 1, false, false, 1.0f, 33},
      {"tiny noaux_tc E8 K2 G4/2", true, 2, 8, 2, 4, 2, true, true, 2.5f, 5},
      {"tiny-v2 group_limited E16 K3 G4/2", false, 1, 16, 3, 4, 2, false, false, 4.0f, 9},
      {"tiny-v3-fp8 noaux_tc E8 K2 G2/1", true, 2, 8, 2, 2, 1, true, true, 2.5f, 6},
  };
  for (const RouteCase &c : cases) {
    const int T = c.rows, E = c.experts;
    std::vector<float> bias = randomF(E, -0.02f, 0.02f);
    std::vector<float> logits(size_t(T) * E), x, gate;
    std::vector<uint16_t> gateBf;
    if (c.fusedDim) {
      x = randomF(size_t(T) * c.fusedDim, -1, 1);
      gateBf = randomBf16(size_t(E) * c.fusedDim, -0.03f, 0.03f, gate);
      H::gemm(cmat(x, T, c.fusedDim), H::Weight{gate.data(), E, c.fusedDim}, mat(logits, T, E));
    } else {
      // Selection scores on a jittered ladder (gaps >= 0.45 / E), redrawn until
      // the group scores are clear too; logits inverted from the scores.
      for (int t = 0; t < T; ++t) {
        float *lt = logits.data() + size_t(t) * E;
        for (int attempt = 0; attempt < 1000; ++attempt) {
          std::vector<int> rank(E);
          std::iota(rank.begin(), rank.end(), 0);
          std::shuffle(rank.begin(), rank.end(), rng);
          for (int e = 0; e < E; ++e) {
            const double sb = 0.05 + 0.9 * (rank[e] + 0.5 * uniform(0, 1)) / E;
            if (c.sigmoid) {
              const double s = sb - (c.bias ? bias[e] : 0.0);
              lt[e] = static_cast<float>(std::log(s / (1 - s)));
            } else {
              lt[e] = static_cast<float>(std::log(sb) + 1.0);
            }
          }
          if (clearMargins(c, lt, c.bias ? bias.data() : nullptr))
            break;
        }
      }
    }
    std::vector<char> clear(T);
    int clearCount = 0;
    for (int t = 0; t < T; ++t)
      clearCount += clear[t] = clearMargins(c, logits.data() + size_t(t) * E,
                                            c.bias ? bias.data() : nullptr);
    std::vector<int32_t> idxRef(size_t(T) * c.topK);
    std::vector<float> wRef(size_t(T) * c.topK);
    H::route(cmat(logits, T, E), c.bias ? bias.data() : nullptr, hostConfig(c),
             imat(idxRef, T, c.topK), mat(wRef, T, c.topK));
    Buffer dIn(c.fusedDim ? x : logits), dGate(gateBf), dBias(bias);
    Buffer dIdx(size_t(T) * c.topK * 4), dW(size_t(T) * c.topK * 4);
    poisonI32(dIdx);
    poisonF32(dW);
    K::RouteArgs a{};
    a.input = view(dIn, c.fusedDim ? c.fusedDim : E);
    a.gate = K::Weight{dGate.p(), nullptr, E, c.fusedDim, 0, 0, 0};
    a.bias = c.bias ? dBias.as<float>() : nullptr;
    a.idx = dIdx.as<int>();
    a.idx_ld = c.topK;
    a.w = view(dW, c.topK);
    a.rows = T;
    a.dim = c.fusedDim;
    a.experts = E;
    a.top_k = c.topK;
    a.groups = c.groups;
    a.topk_groups = c.topkGroups;
    a.sigmoid = c.sigmoid;
    a.method = c.method;
    a.norm_topk_prob = c.norm;
    a.fused_gate = c.fusedDim > 0;
    a.scaling = c.scaling;
    launch(kernel({"Route.cuh", "RouteArgs", tmpl("route", {kF32, kBF16}), 256}), a,
           K::launchRoute(a, kTile));
    sync();
    std::vector<int32_t> idx = dIdx.download<int32_t>(idxRef.size());
    std::vector<float> w = dW.download<float>(wRef.size());
    // Compare the tokens decided by clear margins (all of them, except in the
    // fused case, where the logits come from a GEMV).
    std::vector<int32_t> gotI, refI;
    std::vector<float> gotW, refW;
    for (int t = 0; t < T; ++t)
      if (clear[t])
        for (int k = 0; k < c.topK; ++k) {
          gotI.push_back(idx[size_t(t) * c.topK + k]);
          refI.push_back(idxRef[size_t(t) * c.topK + k]);
          gotW.push_back(w[size_t(t) * c.topK + k]);
          refW.push_back(wRef[size_t(t) * c.topK + k]);
        }
    const bool enough = c.fusedDim ? clearCount >= T / 2 : clearCount == T;
    report("route " + c.name + " tokens compared", enough,
           std::to_string(clearCount) + " of " + std::to_string(T) + " with clear margins");
    expectEqual("route " + c.name + " idx", gotI, refI);
    expectRel("route " + c.name + " w", gotW, refW, c.fusedDim ? 1e-4 : 1e-5);
  }
}

// ---- Dispatch, Combine, MoeExperts ---------------------------------------------------

/// idx [T, K]: K distinct experts per token; `skew` draws them from the first
/// few experts only (long runs of equal experts inside a warp).
std::vector<int32_t> randomIdx(int T, int Kk, int E, bool skew) {
  std::vector<int32_t> idx(size_t(T) * Kk);
  std::vector<int> all(E);
  std::iota(all.begin(), all.end(), 0);
  for (int t = 0; t < T; ++t) {
    const int pool = skew ? std::min(E, Kk + 2) : E;
    std::shuffle(all.begin(), all.begin() + pool, rng);
    for (int k = 0; k < Kk; ++k)
      idx[size_t(t) * Kk + k] = all[k];
  }
  return idx;
}

void testDispatch() {
  struct Case {
    int T, Kk, E, D;
    bool skew;
  };
  for (Case c : {Case{64, 8, 256, 7168, false}, Case{4096, 8, 256, 64, false},
                 Case{3000, 8, 256, 32, true}, Case{5, 2, 8, 64, false}, Case{33, 6, 160, 128, true}}) {
    const int N = c.T * c.Kk;
    std::vector<int32_t> idx = randomIdx(c.T, c.Kk, c.E, c.skew);
    std::vector<float> x = randomF(size_t(c.T) * c.D, -1, 1);
    std::vector<float> sortedRef(size_t(N) * c.D);
    std::vector<int32_t> offRef(c.E + 1), permRef(N);
    H::moeDispatch(cmat(x, c.T, c.D), cimat(idx, c.T, c.Kk), c.E, mat(sortedRef, N, c.D),
                   imat(offRef, c.E + 1, 1), imat(permRef, N, 1));
    Buffer dX(x), dIdx(idx), dSorted(size_t(N) * c.D * 2), dOff(size_t(c.E + 1) * 4),
        dPerm(size_t(N) * 4);
    poisonBf16(dSorted);
    poisonI32(dOff);
    poisonI32(dPerm);
    K::DispatchArgs a{};
    a.x = view(dX, c.D);
    a.idx = dIdx.as<int>();
    a.idx_ld = c.Kk;
    a.sorted = view(dSorted, c.D);
    a.offsets = dOff.as<int>();
    a.perm = dPerm.as<int>();
    a.counters = nullptr;
    a.rows = c.T;
    a.cols = c.D;
    a.experts = c.E;
    a.top_k = c.Kk;
    CUfunction f = kernel({"Dispatch.cuh", "DispatchArgs", tmpl("dispatch", {kF32, kBF16}), 1024});
    for (int phase = 0; phase < K::dispatchLaunches(a); ++phase) {
      a.phase = phase;
      launch(f, a, K::launchDispatch(a, kTile));
    }
    sync();
    const std::string name = "dispatch T=" + std::to_string(c.T) + " K=" + std::to_string(c.Kk) +
                             " E=" + std::to_string(c.E) + (c.skew ? " skewed" : "");
    expectEqual(name + " offsets", dOff.download<int32_t>(c.E + 1), offRef);
    expectEqual(name + " perm", dPerm.download<int32_t>(N), permRef);
    std::vector<uint16_t> sb = dSorted.download<uint16_t>(sortedRef.size());
    std::vector<float> sorted(sb.size());
    for (size_t i = 0; i < sb.size(); ++i) {
      sorted[i] = fromBf16(sb[i]);
      sortedRef[i] = roundBf16(sortedRef[i]);
    }
    expectEqual(name + " sorted rows (bf16)", sorted, sortedRef);
  }
}

void testCombine() {
  struct Case {
    int T, Kk, D;
    bool perm, shared, residual, inPlace;
  };
  for (Case c : {Case{64, 8, 7168, true, true, true, true}, Case{5, 2, 64, false, false, false, false},
                 Case{300, 6, 256, true, false, true, false}, Case{7, 3, 96, false, true, false, false}}) {
    const int N = c.T * c.Kk, E = 32;
    std::vector<int32_t> idx = randomIdx(c.T, c.Kk, E, false);
    std::vector<float> y = randomF(size_t(N) * c.D, -1, 1), w = randomF(size_t(c.T) * c.Kk, 0, 1);
    std::vector<float> shared = randomF(size_t(c.T) * c.D, -1, 1),
                       resid = randomF(size_t(c.T) * c.D, -1, 1);
    std::vector<int32_t> perm(N), offsets(E + 1);
    if (c.perm) { // the real permutation of a dispatch
      std::vector<float> dummyX(c.T, 0.0f), dummyS(N, 0.0f);
      H::moeDispatch(cmat(dummyX, c.T, 1), cimat(idx, c.T, c.Kk), E, mat(dummyS, N, 1),
                     imat(offsets, E + 1, 1), imat(perm, N, 1));
    }
    std::vector<float> ref(size_t(c.T) * c.D);
    H::CIMat pv = cimat(perm, N, 1);
    H::CMat sv = cmat(shared, c.T, c.D), rv = cmat(resid, c.T, c.D);
    H::moeCombine(cmat(y, N, c.D), cmat(w, c.T, c.Kk), c.perm ? &pv : nullptr,
                  c.shared ? &sv : nullptr, c.residual ? &rv : nullptr, c.Kk,
                  mat(ref, c.T, c.D));
    Buffer dY(y), dW(w), dShared(shared), dRes(resid), dPerm(perm), dOut(ref.size() * 4),
        dInverse(size_t(N) * 4);
    poisonF32(dOut);
    poisonI32(dInverse);
    K::CombineArgs a{};
    a.y = view(dY, c.D);
    a.w = view(dW, c.Kk);
    if (c.shared)
      a.shared = view(dShared, c.D);
    if (c.residual)
      a.residual = view(dRes, c.D);
    a.out = view(c.inPlace ? dRes : dOut, c.D);
    a.perm = c.perm ? dPerm.as<int>() : nullptr;
    a.inverse = dInverse.as<int>();
    a.rows = c.T;
    a.cols = c.D;
    a.top_k = c.Kk;
    CUfunction f = kernel(
        {"Combine.cuh", "CombineArgs", tmpl("combine", {kF32, kF32, kF32, kF32}), 256});
    for (int phase = 0; phase < K::combineLaunches(a); ++phase) {
      a.phase = phase;
      launch(f, a, K::launchCombine(a, kTile));
    }
    sync();
    expectRel("combine T=" + std::to_string(c.T) + " K=" + std::to_string(c.Kk) +
                  " D=" + std::to_string(c.D) + (c.perm ? " perm" : "") +
                  (c.shared ? " +shared" : "") + (c.residual ? " +residual" : "") +
                  (c.inPlace ? " in-place" : ""),
              (c.inPlace ? dRes : dOut).download<float>(ref.size()), ref, 1e-6);
  }
}

void testMoeExperts() {
  struct Case {
    std::string name;
    int T, Kk, E, D, F;
    std::string tw;
  };
  for (Case c : {Case{"tiny bf16", 5, 2, 8, 64, 32, kBF16},
                 Case{"tiny-v3-fp8 (partial 128-blocks)", 5, 2, 8, 192, 96, kFP8},
                 Case{"v3-sized fp8 subset", 2, 8, 8, 7168, 256, kFP8}}) {
    const int N = c.T * c.Kk;
    std::vector<int32_t> idx = randomIdx(c.T, c.Kk, c.E, false);
    std::vector<float> x = randomF(size_t(c.T) * c.D, -1, 1);
    // Per expert: gate [F, D], up [F, D], down [D, F].
    struct Mat {
      int rows, cols;
      std::vector<float> value;  // dequantized
      std::vector<uint8_t> raw;  // bf16 bytes or fp8 codes, all experts
      std::vector<float> scales; // fp8: all experts
      int sRows, sCols;
    };
    auto make = [&](int rows, int cols) {
      Mat m{rows, cols, {}, {}, {}, (rows + 127) / 128, (cols + 127) / 128};
      const size_t n = size_t(c.E) * rows * cols;
      m.value.resize(n);
      const float range = 1.5f / std::sqrt(static_cast<float>(cols));
      if (c.tw == kFP8) {
        m.raw = randomFp8(n);
        m.scales = randomF(size_t(c.E) * m.sRows * m.sCols, 0.5f * range, range);
        for (int e = 0; e < c.E; ++e)
          for (int r = 0; r < rows; ++r)
            for (int col = 0; col < cols; ++col) {
              const size_t i = (size_t(e) * rows + r) * cols + col;
              m.value[i] = fromFp8(m.raw[i]) *
                           m.scales[(size_t(e) * m.sRows + r / 128) * m.sCols + col / 128];
            }
      } else {
        std::vector<uint16_t> b = randomBf16(n, -range, range, m.value);
        m.raw.resize(n * 2);
        std::memcpy(m.raw.data(), b.data(), n * 2);
      }
      return m;
    };
    Mat gate = make(c.F, c.D), up = make(c.F, c.D), down = make(c.D, c.F);
    std::vector<H::Weight> gateUp, downW;
    std::vector<std::vector<float>> gu(c.E);
    for (int e = 0; e < c.E; ++e) {
      const size_t fd = size_t(c.F) * c.D;
      gu[e].assign(gate.value.begin() + e * fd, gate.value.begin() + (e + 1) * fd);
      gu[e].insert(gu[e].end(), up.value.begin() + e * fd, up.value.begin() + (e + 1) * fd);
      gateUp.push_back(H::Weight{gu[e].data(), 2 * c.F, c.D});
      downW.push_back(H::Weight{down.value.data() + e * fd, c.D, c.F});
    }
    std::vector<float> ref(size_t(N) * c.D), scratch;
    H::moeExperts(cmat(x, c.T, c.D), cimat(idx, c.T, c.Kk), gateUp, downW, mat(ref, N, c.D),
                  scratch);
    Buffer dX(x), dIdx(idx), dY(ref.size() * 4), dG(gate.raw), dU(up.raw), dDn(down.raw),
        dGs(gate.scales), dUs(up.scales), dDs(down.scales);
    poisonF32(dY);
    auto weight = [&](const Mat &m, const Buffer &data, const Buffer &scales) {
      return K::Weight{data.p(), c.tw == kFP8 ? scales.as<float>() : nullptr, m.rows, m.cols,
                       m.sCols, static_cast<long long>(m.rows) * m.cols,
                       static_cast<long long>(m.sRows) * m.sCols};
    };
    K::MoeExpertsArgs a{};
    a.x = view(dX, c.D);
    a.idx = dIdx.as<int>();
    a.idx_ld = c.Kk;
    a.gate = weight(gate, dG, dGs);
    a.up = weight(up, dU, dUs);
    a.down = weight(down, dDn, dDs);
    a.y = view(dY, c.D);
    a.workspace = nullptr;
    a.rows = c.T;
    a.top_k = c.Kk;
    a.hidden = c.D;
    a.intermediate = c.F;
    launch(kernel({"MoeExperts.cuh", "MoeExpertsArgs", tmpl("moeExperts", {kF32, kF32, c.tw}),
                   256}),
           a, K::launchMoeExperts(a, kTile));
    sync();
    expectRel("moe_experts " + c.name, dY.download<float>(ref.size()), ref, 1e-4);
  }
}

// ---- Timing of the other big launches -------------------------------------------------

/// Median time of `run` over 20 launches after 3 warm-ups, printed with the
/// bytes it must move (each input read once, each output written once).
void timeIt(const std::string &name, double bytes, const std::function<void()> &run) {
  const double sec = medianSeconds([&](int) { run(); });
  std::printf("TIME %-50s %9.1f us  %7.1f GB/s (%4.1f%% of 4.3 TB/s)\n", name.c_str(), sec * 1e6,
              bytes / sec * 1e-9, bytes / sec / 4.3e12 * 100);
  std::fflush(stdout);
}

/// n floats of a repeated random pattern (never zeros; fast for big buffers).
std::vector<float> patternF(size_t n) {
  std::vector<float> base = randomF(1 << 20, -1, 1), v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = base[i & ((1 << 20) - 1)];
  return v;
}

void benchOthers() {
  const int T = 4096, D = 7168, K = 8, E = 256;
  { // add + RMSNorm of a prefill chunk, bf16 out
    std::vector<float> w;
    Buffer dX(patternF(size_t(T) * D)), dR(patternF(size_t(T) * D)), dY(size_t(T) * D * 2),
        dW(randomBf16(D, 0.5f, 1.5f, w));
    K::RmsNormArgs a{};
    a.x = view(dX, D);
    a.residual = view(dR, D);
    a.sum = view(dX, D);
    a.y = view(dY, D);
    a.weight = K::Weight{dW.p(), nullptr, 1, D, 0, 0, 0};
    a.rows = T;
    a.cols = D;
    a.eps = 1e-6f;
    CUfunction f = kernel(
        {"RmsNorm.cuh", "RmsNormArgs", tmpl("rmsNorm", {kF32, kF32, kBF16, kBF16}), 256});
    timeIt("rms_norm +residual 4096x7168 -> bf16", double(T) * D * (4 + 4 + 4 + 2),
           [&] { launch(f, a, K::launchRmsNorm(a, kTile)); });
  }
  { // argmax of 64 logit rows
    const int rows = 64, V = 129280;
    Buffer dL(patternF(size_t(rows) * V)), dO(rows * 4);
    K::ArgmaxArgs a{view(dL, V), dO.as<int>(), rows, V};
    CUfunction f = kernel({"Argmax.cuh", "ArgmaxArgs", tmpl("argmax", {kF32}), 1024});
    timeIt("argmax 64x129280", double(rows) * V * 4,
           [&] { launch(f, a, K::launchArgmax(a, kTile)); });
  }
  { // fused router of a decode batch: the gate is read once ideally
    const int rows = 64;
    std::vector<float> g;
    Buffer dX(patternF(size_t(rows) * D)), dGate(randomBf16(size_t(E) * D, -0.03f, 0.03f, g)),
        dBias(randomF(E, -0.02f, 0.02f)), dIdx(size_t(rows) * K * 4), dW(size_t(rows) * K * 4);
    K::RouteArgs a{};
    a.input = view(dX, D);
    a.gate = K::Weight{dGate.p(), nullptr, E, D, 0, 0, 0};
    a.bias = dBias.as<float>();
    a.idx = dIdx.as<int>();
    a.idx_ld = K;
    a.w = view(dW, K);
    a.rows = rows;
    a.dim = D;
    a.experts = E;
    a.top_k = K;
    a.groups = 8;
    a.topk_groups = 4;
    a.sigmoid = 1;
    a.method = 2;
    a.norm_topk_prob = 1;
    a.fused_gate = 1;
    a.scaling = 2.5f;
    CUfunction f = kernel({"Route.cuh", "RouteArgs", tmpl("route", {kF32, kBF16}), 256});
    timeIt("route fused gate T=64 E=256 D=7168", double(E) * D * 2 + double(rows) * D * 4,
           [&] { launch(f, a, K::launchRoute(a, kTile)); });
  }
  std::vector<int32_t> idx = randomIdx(T, K, E, false);
  { // dispatch of a prefill chunk: f32 rows -> bf16 sorted rows
    Buffer dX(patternF(size_t(T) * D)), dIdx(idx), dSorted(size_t(T) * K * D * 2),
        dOff((E + 1) * 4), dPerm(size_t(T) * K * 4);
    K::DispatchArgs a{};
    a.x = view(dX, D);
    a.idx = dIdx.as<int>();
    a.idx_ld = K;
    a.sorted = view(dSorted, D);
    a.offsets = dOff.as<int>();
    a.perm = dPerm.as<int>();
    a.rows = T;
    a.cols = D;
    a.experts = E;
    a.top_k = K;
    CUfunction f = kernel({"Dispatch.cuh", "DispatchArgs", tmpl("dispatch", {kF32, kBF16}), 1024});
    timeIt("dispatch T=4096 K=8 D=7168 -> bf16", double(T) * D * 4 + double(T) * K * D * 2, [&] {
      for (int phase = 0; phase < K::dispatchLaunches(a); ++phase) {
        a.phase = phase;
        launch(f, a, K::launchDispatch(a, kTile));
      }
    });
  }
  { // combine of a prefill chunk with perm, shared and residual (in place)
    std::vector<int32_t> perm(size_t(T) * K), offsets(E + 1);
    std::vector<float> dummyX(T, 0.0f), dummyS(size_t(T) * K, 0.0f);
    H::moeDispatch(cmat(dummyX, T, 1), cimat(idx, T, K), E, mat(dummyS, T * K, 1),
                   imat(offsets, E + 1, 1), imat(perm, T * K, 1));
    Buffer dY(patternF(size_t(T) * K * D)), dW(randomF(size_t(T) * K, 0, 1)),
        dShared(patternF(size_t(T) * D)), dRes(patternF(size_t(T) * D)), dPerm(perm),
        dInv(size_t(T) * K * 4);
    K::CombineArgs a{};
    a.y = view(dY, D);
    a.w = view(dW, K);
    a.shared = view(dShared, D);
    a.residual = view(dRes, D);
    a.out = view(dRes, D);
    a.perm = dPerm.as<int>();
    a.inverse = dInv.as<int>();
    a.rows = T;
    a.cols = D;
    a.top_k = K;
    CUfunction f = kernel(
        {"Combine.cuh", "CombineArgs", tmpl("combine", {kF32, kF32, kF32, kF32}), 256});
    timeIt("combine T=4096 K=8 D=7168 perm+shared+residual",
           double(T) * K * D * 4 + double(T) * D * 4 * 3, [&] {
             for (int phase = 0; phase < K::combineLaunches(a); ++phase) {
               a.phase = phase;
               launch(f, a, K::launchCombine(a, kTile));
             }
           });
  }
}

} // namespace

int main() {
  std::string why;
  if (Driver::deviceCount(&why) == 0) {
    std::printf("SKIP: no CUDA device: %s\n", why.c_str());
    return 0;
  }
  unsigned seed = std::random_device{}();
  if (const char *s = std::getenv("MOELA_TEST_SEED"))
    seed = static_cast<unsigned>(std::strtoul(s, nullptr, 10));
  std::printf("seed %u (MOELA_TEST_SEED=%u replays it)\n", seed, seed);
  rng.seed(seed);
  try {
    const Driver &d = drv();
    CUdevice dev;
    ck(d.cuDeviceGet(&dev, 0), "cuDeviceGet");
    char name[256] = {};
    d.cuDeviceGetName(name, sizeof name, dev);
    CUcontext ctx;
    ck(d.cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
    ck(d.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    std::printf("device: %s\n", name);
  } catch (const std::exception &e) {
    std::printf("FAIL device setup: %s\n", e.what());
    std::printf("0 passed, 1 failed\n");
    return 1;
  }
  const std::vector<std::pair<const char *, std::function<void()>>> tests = {
      {"embedding", testEmbedding},   {"rms_norm", testRmsNorm},
      {"elementwise", testElementwise}, {"rope", testRope},
      {"argmax", testArgmax},         {"kv_append", testKvAppend},
      {"kv_gather", testKvGather},
      {"latent_attention", testLatentAttention}, {"mla_attention", testMlaAttention},
      {"mla_prefill_attention", testMlaPrefillAttention},
      {"route", testRoute},           {"dispatch", testDispatch},
      {"combine", testCombine},       {"moe_experts", testMoeExperts},
      {"timing", benchOthers},
  };
  for (const auto &[name, fn] : tests) {
    try {
      fn();
    } catch (const std::exception &e) {
      report(std::string(name) + " (exception)", false, e.what());
      // A failed launch leaves the context unusable: stop here.
      if (std::string(e.what()).find("CUDA") != std::string::npos)
        break;
    }
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
