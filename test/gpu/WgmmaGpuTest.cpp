//===- WgmmaGpuTest.cpp - gemmWgmma on a GPU vs the host, timed vs mma.sync ===//
//
// Needs a CUDA GPU (sm_90a); without one it prints "no CUDA device: ..." and
// a SKIP line and exits 0. The structure of MatmulGpuTest: every run draws
// fresh random inputs (the seed is printed; pass --seed N to repeat one),
// never zeros, poisons every output with NaN before the launch, and compares
// with the fp32 host reference (runtime/host/Kernels.h gemm on the same
// rounded and dequantized operands; sampled dot products in double for the
// shapes too large for it) by ||out - ref|| / ||ref||; padding columns must
// still be NaN. Cases: every element type (bf16 / f32 / FP8 weights, bf16 /
// f32 / FP8 activations), both tiles of moela-tile --gemm-kernel=wgmma and
// the other legal tiles, every epilogue (silu_mul, rope, residual, in place,
// all at once), m = 1, 7, 64, 333 and long K (ring wrap-around, partial scale
// blocks). DeepSeek-V3 shapes are timed (CUDA events, median of 20 after
// warm-up) side by side with the mma.sync Gemm.cuh on the same arguments:
// prefill m = 4096 and decode m = 1, 8, 64 x {q_b 24576 x 1536, q_a+kv_a
// 2112 x 7168, o_proj 7168 x 16384, down 7168 x 18432, gate+up 36864 x
// 7168}, FP8 and bf16 weights (and W8A8 at prefill).
//
//   moela-gpu-wgmma-test [--seed N] [--quick] [--filter SUBSTRING]
//
// --quick: the small shapes only (no V3 dims, no timing). --filter: only the
// cases whose line contains SUBSTRING. All kernels are compiled first, on all
// cores, through the NVRTC disk cache ($MOELA_CACHE_DIR, see Nvrtc.h).
//
// Exit status 0 when every case passes. Output: one line per case, BENCH
// lines, then "N passed, N failed".
//
//===----------------------------------------------------------------------===//
#include "MatmulHarness.h"

#include "cuda/CudaDriver.h"
#include "host/Kernels.h"
#include "kernels/MatmulLaunch.h"
#include "kernels/WgmmaLaunch.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Nvrtc.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace moela;
using moela::test::Ty;
namespace K = moela::kernels;
using namespace moela::gputest;

/// Rows (and columns) to check: all when small, else a random sample that
/// keeps the first and last.
std::vector<int64_t> sample(int64_t n, int64_t want, uint64_t stream, int64_t align = 1) {
  std::vector<int64_t> out;
  if (n <= want * align) {
    for (int64_t i = 0; i < n; i += align)
      out.push_back(i);
    return out;
  }
  out.push_back(0);
  out.push_back((n - 1) / align * align);
  for (int64_t i = 0; int64_t(out.size()) < want; ++i)
    out.push_back(int64_t(mix(stream + uint64_t(i)) % uint64_t(n)) / align * align);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

/// Tolerance by precision: bf16 output, or an f32 operand the kernel rounds
/// to bf16: 1e-2; otherwise (bf16 / FP8 operands, exact products, fp32
/// accumulation, f32 output) 1e-3.
double tolerance(Ty a, Ty w, Ty c) {
  return (c == Ty::BF16 || a == Ty::F32 || w == Ty::F32) ? 1e-2 : 1e-3;
}

bool selected(const std::string &name) {
  return gFilter.empty() || name.find(gFilter) != std::string::npos;
}

float siluRef(float x) { return x / (1.0f + std::exp(-x)); }


// ---- Gemm ----------------------------------------------------------------------

/// The emitter's gemmWgmma instantiation (GemmWgmma.cuh header comment).
struct WgmmaKernel {
  Ty a, w, c, r;
  test::TileShape tile;
  bool silu, rope, residual;

  std::string name() const {
    return std::string("moela_gemm_wgmma_") + test::shortName(a) + "_" + test::shortName(w) +
           "_" + test::shortName(c) + "_" + test::shortName(r) + "_" + std::to_string(tile.bm) +
           "x" + std::to_string(tile.bn) + "x" + std::to_string(tile.bk) +
           (silu ? "_silu" : "") + (rope ? "_rope" : "") + (residual ? "_res" : "");
  }
  std::string source() const {
    return "#include \"GemmWgmma.cuh\"\n"
           "extern \"C\" __global__ void __launch_bounds__(384, 1)\n" +
           name() + "(const moela::kernels::GemmArgs args) {\n  moela::kernels::gemmWgmma<" +
           test::cudaType(a) + ", " + test::cudaType(w) + ", " + test::cudaType(c) + ", " +
           test::cudaType(r) + ", " + std::to_string(tile.bm) + ", " + std::to_string(tile.bn) +
           ", " + std::to_string(tile.bk) + ", " + test::flag(silu) + ", " + test::flag(rope) +
           ", " + test::flag(residual) + ">(args);\n}\n";
  }
  /// The mma.sync Gemm.cuh kernel with the same types and flags.
  test::GemmKernel mma(test::TileShape t) const { return {a, w, c, r, t, silu, rope, residual}; }
};

/// The tiles of moela-tile --gemm-kernel=wgmma (passes/Tile.cpp).
test::TileShape prefillWgmmaTile(Ty w) { return {128, w == Ty::BF16 ? 256 : 128, 64}; }
test::TileShape decodeWgmmaTile() { return {64, 64, 64}; }

struct RopeSpec {
  int heads = 0, headDim = 0, offset = 0, dim = 0;
  float magnitude = 1.0f;
};

struct GemmCase {
  WgmmaKernel k;
  int64_t m, kdim;
  std::vector<int64_t> parts; // weight rows of each part
  RopeSpec rope;
  bool aliasResidual = false;
  bool bench = false;            // time it, and the mma.sync kernel on mmaTile
  test::TileShape mmaTile{0, 0, 0};
};

/// Weights of the last case, reused while the next case has the same dtype,
/// parts and K (the V3 shapes run several m on one weight).
struct WeightCache {
  std::string key;
  std::vector<Tensor> w;
  std::vector<DevBuf> data, scales;
} gWeights;

void runGemm(const GemmCase &gc) {
  const WgmmaKernel &k = gc.k;
  int64_t n = 0;
  for (int64_t p : gc.parts)
    n += p;
  const int64_t nOut = k.silu ? n / 2 : n;
  char what[256];
  std::snprintf(what, sizeof what, "gemm %s m=%lld n=%lld k=%lld parts=%zu%s",
                k.name().c_str() + 17, (long long)gc.m, (long long)n, (long long)gc.kdim,
                gc.parts.size(), gc.aliasResidual ? " in-place" : "");
  if (!selected(what))
    return;
  const bool timeMma = gc.bench && gc.mmaTile.bm > 0;
  if (gCollect) {
    gSources[k.name()] = k.source();
    if (timeMma)
      gSources[k.mma(gc.mmaTile).name()] = k.mma(gc.mmaTile).source();
    return;
  }
  CUfunction f = kernel(k.name(), k.source());

  std::string key = std::string(test::shortName(k.w)) + " " + std::to_string(gc.kdim);
  for (int64_t rows : gc.parts)
    key += " " + std::to_string(rows);
  if (key != gWeights.key) {
    gWeights = WeightCache{};
    gWeights.key = key;
    for (int64_t rows : gc.parts) {
      gWeights.w.push_back(randomWeights(k.w, 1, rows, gc.kdim));
      gWeights.data.push_back(upload(gWeights.w.back().data));
      gWeights.scales.push_back(uploadVec(gWeights.w.back().scales));
    }
  }
  const std::vector<Tensor> &w = gWeights.w;
  Tensor a = randomActivations(k.a, gc.m, gc.kdim);
  Tensor res = randomActivations(k.r, gc.m, nOut);
  std::vector<int32_t> positions(size_t(gc.m));
  const uint64_t ps = newStream();
  for (int64_t r = 0; r < gc.m; ++r)
    positions[size_t(r)] = int32_t(mix(ps + uint64_t(r)) % 160000);
  std::vector<float> invFreq(size_t(std::max(1, gc.rope.dim / 2)));
  for (size_t i = 0; i < invFreq.size(); ++i)
    invFreq[i] = float(std::pow(10000.0, -2.0 * double(i) / std::max(1, gc.rope.dim)));

  DevBuf dA = upload(a.data), dAs = uploadVec(a.scales), dPos = uploadVec(positions),
         dInv = uploadVec(invFreq), dRes = upload(res.data);
  const int64_t ldc = gc.aliasResidual ? nOut : nOut + 8; // + 8: padding must stay NaN
  Output out(k.c, gc.m, ldc);
  if (gc.aliasResidual) // c = c + acc, in place
    out.buf.upload(res.data.data(), res.data.size());

  K::GemmArgs args{};
  args.a = {dA.ptr(), gc.kdim};
  args.a_scales = k.a == Ty::F8 ? reinterpret_cast<const float *>(dAs.p) : nullptr;
  args.a_scale_ld = a.scaleLd;
  for (size_t p = 0; p < w.size(); ++p) {
    K::Weight &kw = args.parts[p];
    kw.data = gWeights.data[p].ptr();
    kw.scales = k.w == Ty::F8 ? reinterpret_cast<const float *>(gWeights.scales[p].p) : nullptr;
    kw.rows = int(w[p].rows);
    kw.cols = int(gc.kdim);
    kw.scale_ld = int(w[p].scaleLd);
  }
  args.num_parts = int(w.size());
  args.c = {out.buf.ptr(), ldc};
  if (k.residual)
    args.residual = gc.aliasResidual ? args.c : K::View{dRes.ptr(), nOut};
  args.positions = reinterpret_cast<const int *>(dPos.p);
  if (k.rope)
    args.rope = {reinterpret_cast<const float *>(dInv.p), gc.rope.magnitude, gc.rope.heads,
                 gc.rope.headDim, gc.rope.offset, gc.rope.dim};
  args.silu_mul = k.silu;
  args.m = int(gc.m);
  args.n = int(n);
  args.k = int(gc.kdim);
  const K::Tile tile{k.tile.bm, k.tile.bn, k.tile.bk, 0, K::kWgmmaThreads};
  const K::Launch l = K::launchGemmWgmma(args, tile);
  launch(f, l, args);
  ck(gD->cuCtxSynchronize(), "gemmWgmma");
  out.fetch();

  // Reference: the host GEMM over all rows when small, else sampled dot
  // products in double over sampled rows and column pairs.
  const bool full = gc.m * n * gc.kdim <= (int64_t(1) << 28);
  auto weightRow = [&](int64_t j, int64_t &part) {
    part = 0;
    while (j >= w[size_t(part)].rows) {
      j -= w[size_t(part)].rows;
      ++part;
    }
    return j;
  };
  std::vector<float> accFull; // [m, n]
  if (full) {
    std::vector<float> af = a.toFloat(), wf(size_t(n * gc.kdim));
    int64_t off = 0;
    for (const Tensor &t : w) {
      std::vector<float> tf = t.toFloat();
      std::copy(tf.begin(), tf.end(), wf.begin() + off);
      off += int64_t(tf.size());
    }
    accFull.resize(size_t(gc.m * n));
    host::gemm(host::CMat{af.data(), gc.m, gc.kdim, gc.kdim}, host::Weight{wf.data(), n, gc.kdim},
               host::Mat{accFull.data(), gc.m, n, n});
  }
  auto acc = [&](int64_t r, int64_t j) -> double {
    if (full)
      return accFull[size_t(r * n + j)];
    int64_t part;
    const int64_t lj = weightRow(j, part);
    double s = 0;
    for (int64_t c = 0; c < gc.kdim; ++c)
      s += double(a.at(r, c)) * double(w[size_t(part)].at(lj, c));
    return s;
  };
  // Pre-rope value of output column c (silu applied in float like the host).
  auto pre = [&](int64_t r, int64_t c) -> double {
    if (!k.silu)
      return acc(r, c);
    return double(siluRef(float(acc(r, c)))) * acc(r, nOut + c);
  };
  Compare cmp;
  const uint64_t ss = newStream();
  for (int64_t r : sample(gc.m, full ? gc.m : 24, ss))
    for (int64_t c : sample(nOut, full ? nOut : 192, ss + 7, 2)) { // even: rope pairs
      double v[2] = {pre(r, c), c + 1 < nOut ? pre(r, c + 1) : 0.0};
      if (k.rope) {
        const int64_t h = c / gc.rope.headDim, rel = c - h * gc.rope.headDim - gc.rope.offset;
        if (rel >= 0 && rel < gc.rope.dim) {
          const float angle = float(positions[size_t(r)]) * invFreq[size_t(rel / 2)];
          const double cs = std::cos(angle) * gc.rope.magnitude,
                       sn = std::sin(angle) * gc.rope.magnitude;
          const double x = v[0], y = v[1];
          v[0] = x * cs - y * sn;
          v[1] = x * sn + y * cs;
        }
      }
      for (int e = 0; e < 2 && c + e < nOut; ++e) {
        double expected = v[e];
        if (k.residual)
          expected += res.at(r, c + e);
        cmp.add(out.at(r, c + e), expected, r, c + e);
      }
    }
  cmp.written(out, [&](int64_t, int64_t c) { return c < nOut; });
  cmp.report(what, tolerance(k.a, k.w, k.c));

  if (gc.bench) {
    const double flop = 2.0 * double(gc.m) * double(n) * double(gc.kdim);
    double bytes = double(a.data.size()) + double(a.scales.size()) * 4 +
                   double(gc.m * nOut) * double(sizeOf(k.c)) * (k.residual ? 2 : 1);
    for (const Tensor &t : w)
      bytes += double(t.data.size()) + double(t.scales.size()) * 4;
    const double us = timeIt(f, l, args);
    std::printf("BENCH %-70s wgmma %9.1f us %7.1f TFLOP/s %6.0f GB/s", what, us,
                flop / us * 1e-6, bytes / us * 1e-3);
    if (timeMma) {
      const test::GemmKernel mk = k.mma(gc.mmaTile);
      CUfunction g = kernel(mk.name(), mk.source());
      const K::Tile mt{gc.mmaTile.bm, gc.mmaTile.bn, gc.mmaTile.bk, 0, K::kMatmulThreads};
      const double usMma = timeIt(g, K::launchGemm(args, mt), args);
      std::printf(" | mma.sync %dx%dx%d %9.1f us %7.1f TFLOP/s | x%.2f", gc.mmaTile.bm,
                  gc.mmaTile.bn, gc.mmaTile.bk, usMma, flop / usMma * 1e-6, usMma / us);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
}

// ---- The cases -------------------------------------------------------------------

void gemmCases() {
  // Small dims (multiples of 16), every element type, both wgmma tiles, every
  // epilogue; m = 1, 7, 64, 333.
  for (bool prefill : {false, true})
    for (Ty w : {Ty::BF16, Ty::F8, Ty::F32})
      for (Ty a : {Ty::BF16, Ty::F32, Ty::F8}) {
        if (a == Ty::F8 && w != Ty::F8)
          continue;
        const test::TileShape tile = prefill ? prefillWgmmaTile(w) : decodeWgmmaTile();
        for (int64_t m : {int64_t(1), int64_t(7), int64_t(64), int64_t(333)}) {
          // plain, f32 out, two parts with a boundary inside a 128 block
          runGemm({{a, w, Ty::F32, Ty::F32, tile, false, false, false}, m, 160, {96, 160}});
          // bf16 out
          runGemm({{a, w, Ty::BF16, Ty::BF16, tile, false, false, false}, m, 96, {448}});
          // silu_mul: gate;up as two parts
          runGemm({{a, w, Ty::BF16, Ty::BF16, tile, true, false, false}, m, 160, {192, 192}});
          // rope: 4 heads of [32 nope | 16 rope]
          runGemm({{a, w, Ty::F32, Ty::F32, tile, false, true, false},
                   m, 96, {192}, RopeSpec{4, 48, 32, 16, 0.75f}});
          // residual, separate and in place (the residual stream is f32)
          runGemm({{a, w, Ty::F32, Ty::F32, tile, false, false, true}, m, 448, {96}});
          GemmCase inPlace{{a, w, Ty::F32, Ty::F32, tile, false, false, true}, m, 160, {96}};
          inPlace.aliasResidual = true;
          runGemm(inPlace);
          // everything at once with bf16 out and residual, 3 parts
          runGemm({{a, w, Ty::BF16, Ty::BF16, tile, true, true, true},
                   m, 64, {64, 80, 144}, RopeSpec{2, 72, 8, 64, 1.0f}});
        }
        // Long K: the stage ring wraps many times, K is not a multiple of
        // the K tile nor of the 128-wide scale blocks.
        runGemm({{a, w, Ty::F32, Ty::F32, tile, false, false, false}, 333, 16 * 203, {448}});
      }
  // The other legal tiles (plain and all epilogues).
  const test::TileShape others[] = {{128, 128, 128}, {128, 64, 64}, {64, 128, 64},
                                    {64, 256, 64},   {64, 64, 128}};
  for (const test::TileShape &t : others)
    for (Ty w : {Ty::BF16, Ty::F8})
      for (Ty a : {Ty::BF16, Ty::F8}) {
        if (a == Ty::F8 && w != Ty::F8)
          continue;
        if (w == Ty::F8 && (t.bm == 128 ? t.bn : t.bn / 2) > 128)
          continue;
        for (int64_t m : {int64_t(7), int64_t(333)}) {
          runGemm({{a, w, Ty::F32, Ty::F32, t, false, false, false}, m, 16 * 45, {96, 416}});
          runGemm({{a, w, Ty::BF16, Ty::BF16, t, true, true, true},
                   m, 64, {64, 80, 144}, RopeSpec{2, 72, 8, 64, 1.0f}});
        }
      }
  if (gQuick)
    return;
  // DeepSeek-V3 dims, timed against mma.sync: q_b with rope (H = 128,
  // [128 nope | 64 rope]), q_a fused with kv_a (rope on the last 64 of the
  // 576), o_proj and down with the residual, the dense gate+up with SwiGLU.
  const RopeSpec qRope{128, 192, 128, 64, 1.0f}, kvRope{1, 2112, 512, 64, 1.0f};
  struct Shape {
    Ty c;
    bool silu, rope, residual;
    int64_t kdim;
    std::vector<int64_t> parts;
    RopeSpec rope_;
  };
  const Shape shapes[] = {
      {Ty::BF16, false, true, false, 1536, {24576}, qRope},
      {Ty::F32, false, true, false, 7168, {576, 1536}, kvRope},
      {Ty::F32, false, false, true, 16384, {7168}, {}},
      {Ty::F32, false, false, true, 18432, {7168}, {}},
      {Ty::BF16, true, false, false, 7168, {18432, 18432}, {}},
  };
  for (Ty w : {Ty::F8, Ty::BF16})
    for (const Shape &s : shapes) {
      for (int64_t m : {int64_t(1), int64_t(8), int64_t(64), int64_t(4096)}) {
        const bool prefill = m > 64;
        const test::TileShape tile = prefill ? prefillWgmmaTile(w) : decodeWgmmaTile();
        GemmCase c{{Ty::BF16, w, s.c, s.residual ? Ty::F32 : s.c, tile, s.silu, s.rope, s.residual},
                   m, s.kdim, s.parts, s.rope_};
        c.bench = true;
        c.mmaTile = prefill ? test::prefillTile(w) : test::decodeTile(w);
        runGemm(c);
        if (prefill && w == Ty::F8) { // W8A8 (spec 3.4) on QGMMA
          GemmCase q = c;
          q.k.a = Ty::F8;
          runGemm(q);
        }
      }
    }
}

} // namespace

int main(int argc, char **argv) {
  std::random_device rd;
  gSeed = (uint64_t(rd()) << 32) ^ rd();
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--seed" && i + 1 < argc)
      gSeed = std::stoull(argv[++i]);
    else if (arg == "--quick")
      gQuick = true;
    else if (arg == "--filter" && i + 1 < argc)
      gFilter = argv[++i];
    else {
      std::fprintf(stderr, "usage: %s [--seed N] [--quick] [--filter SUBSTRING]\n", argv[0]);
      return 2;
    }
  }
  std::string why;
  if (cuda::Driver::deviceCount(&why) == 0) {
    std::printf("no CUDA device: %s\nSKIP moela-gpu-wgmma-test (needs a GPU)\n", why.c_str());
    return 0;
  }
  try {
    gD = &cuda::Driver::get();
    CUdevice dev;
    ck(gD->cuDeviceGet(&dev, 0), "cuDeviceGet");
    char name[256] = {};
    gD->cuDeviceGetName(name, sizeof name, dev);
    CUcontext ctx;
    ck(gD->cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
    ck(gD->cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    std::printf("device: %s; seed %llu (repeat with --seed %llu)\n", name,
                static_cast<unsigned long long>(gSeed), static_cast<unsigned long long>(gSeed));
    const auto start = std::chrono::steady_clock::now();
    gCollect = true;
    gemmCases();
    gCollect = false;
    compileCollected();
    std::printf("compiled %zu kernels in %.1f s\n", gCompiled.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    gemmCases();
    std::printf("time %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  } catch (const std::exception &e) {
    std::printf("FAIL exception: %s\n", e.what());
    ++gFailed;
  }
  std::printf("%d passed, %d failed\n", gPassed, gFailed);
  return gFailed == 0 ? 0 : 1;
}
