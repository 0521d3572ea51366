//===- MatmulGpuTest.cpp - Gemm, GroupedGemm, HeadGemm on a GPU vs the host ===//
//
// Needs a CUDA GPU (sm_90a); without one it prints "no CUDA device: ..." and
// a SKIP line and exits 0. Every run draws fresh random inputs (the seed is
// printed; pass --seed N to repeat one), never zeros, poisons every output
// with NaN before the launch, and compares with the fp32 host reference
// (runtime/host/Kernels.h gemm / groupedGemm / headGemm on the same rounded
// and dequantized operands; sampled dot products in double for the shapes too
// large for it) by ||out - ref|| / ||ref||. Elements that must not be written
// (padding columns, gaps between heads) must still be NaN. Large shapes are
// also timed (CUDA events, median of 20 after warm-up): TFLOP/s and GB/s.
//
//   moela-gpu-matmul-test [--seed N] [--quick] [--filter SUBSTRING]
//
// --quick: the tiny-model shapes only (every type and epilogue; no V3 dims,
// no timing). --filter: only the cases whose line contains SUBSTRING. All
// kernels are compiled first, on all cores, through the NVRTC disk cache
// ($MOELA_CACHE_DIR, see Nvrtc.h: carry a warm one to skip compiling).
//
// Exit status 0 when every case passes. Output: one line per case, then
// "N passed, N failed".
//
//===----------------------------------------------------------------------===//
#include "MatmulHarness.h"

#include "cuda/CudaDriver.h"
#include "host/Kernels.h"
#include "kernels/MatmulLaunch.h"
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

struct RopeSpec {
  int heads = 0, headDim = 0, offset = 0, dim = 0;
  float magnitude = 1.0f;
};

struct GemmCase {
  test::GemmKernel k;
  int64_t m, kdim;
  std::vector<int64_t> parts; // weight rows of each part
  RopeSpec rope;
  bool aliasResidual = false;
  bool bench = false;
};

void runGemm(const GemmCase &gc) {
  const test::GemmKernel &k = gc.k;
  int64_t n = 0;
  for (int64_t p : gc.parts)
    n += p;
  const int64_t nOut = k.silu ? n / 2 : n;
  char what[256];
  std::snprintf(what, sizeof what, "gemm %s m=%lld n=%lld k=%lld parts=%zu%s", k.name().c_str() + 11,
                (long long)gc.m, (long long)n, (long long)gc.kdim, gc.parts.size(),
                gc.aliasResidual ? " in-place" : "");
  if (!selected(what))
    return;
  if (gCollect) {
    gSources[k.name()] = k.source();
    return;
  }
  CUfunction f = kernel(k.name(), k.source());

  Tensor a = randomActivations(k.a, gc.m, gc.kdim);
  std::vector<Tensor> w;
  for (int64_t rows : gc.parts)
    w.push_back(randomWeights(k.w, 1, rows, gc.kdim));
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
  std::vector<DevBuf> dW, dWs;
  for (const Tensor &t : w) {
    dW.push_back(upload(t.data));
    dWs.push_back(uploadVec(t.scales));
  }
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
    kw.data = dW[p].ptr();
    kw.scales = k.w == Ty::F8 ? reinterpret_cast<const float *>(dWs[p].p) : nullptr;
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
  const K::Tile tile{k.tile.bm, k.tile.bn, k.tile.bk, 4, 256};
  const K::Launch l = K::launchGemm(args, tile);
  launch(f, l, args);
  ck(gD->cuCtxSynchronize(), "gemm");
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
    host::gemm(host::CMat{af.data(), gc.m, gc.kdim, gc.kdim},
               host::Weight{wf.data(), n, gc.kdim},
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
    const double us = timeIt(f, l, args);
    double bytes = double(a.data.size()) + double(a.scales.size()) * 4 +
                   double(gc.m * nOut) * double(sizeOf(k.c)) * (k.residual ? 2 : 1);
    for (const Tensor &t : w)
      bytes += double(t.data.size()) + double(t.scales.size()) * 4;
    std::printf("BENCH %-76s %9.1f us %7.1f TFLOP/s %7.0f GB/s\n", what, us,
                2.0 * double(gc.m) * double(n) * double(gc.kdim) / us * 1e-6, bytes / us * 1e-3);
  }
}

// ---- GroupedGemm ------------------------------------------------------------------

struct GroupedCase {
  test::GroupedGemmKernel k;
  int64_t experts, tokens, topk, kdim, n; // n: weight rows per expert (2F with silu)
  bool separateUp = true;                 // silu: gate in w, up in `up`
  bool bench = false;
};

void runGrouped(const GroupedCase &gc) {
  const test::GroupedGemmKernel &k = gc.k;
  const int64_t mMax = gc.tokens * gc.topk, nOut = k.silu ? gc.n / 2 : gc.n;
  char what[256];
  std::snprintf(what, sizeof what, "grouped %s E=%lld T=%lld K=%lld n=%lld k=%lld%s",
                k.name().c_str() + 19, (long long)gc.experts, (long long)gc.tokens,
                (long long)gc.topk, (long long)gc.n, (long long)gc.kdim,
                k.silu ? (gc.separateUp ? " gate|up" : " gate;up") : "");
  if (!selected(what))
    return;
  if (gCollect) {
    gSources[k.name()] = k.source();
    return;
  }
  CUfunction f = kernel(k.name(), k.source());

  // Random routing: topk distinct experts per token; rows sorted by expert.
  std::vector<int64_t> count(size_t(gc.experts), 0);
  const uint64_t rs = newStream();
  for (int64_t t = 0; t < gc.tokens; ++t) {
    std::vector<int64_t> chosen;
    for (uint64_t i = 0; int64_t(chosen.size()) < gc.topk; ++i) {
      const int64_t e = int64_t(mix(rs + uint64_t(t) * 1000003ULL + i) % uint64_t(gc.experts));
      if (std::find(chosen.begin(), chosen.end(), e) == chosen.end())
        chosen.push_back(e);
    }
    for (int64_t e : chosen)
      ++count[size_t(e)];
  }
  std::vector<int32_t> offsets(size_t(gc.experts + 1), 0);
  for (int64_t e = 0; e < gc.experts; ++e)
    offsets[size_t(e + 1)] = offsets[size_t(e)] + int32_t(count[size_t(e)]);

  Tensor a = randomActivations(k.a, mMax, gc.kdim);
  // Weights: silu -> gate [E][F, k] and up [E][F, k] (or [E][2F, k] together).
  const bool split = k.silu && gc.separateUp;
  const int64_t perExpert = split ? gc.n / 2 : gc.n;
  Tensor w = randomWeights(k.w, gc.experts, perExpert, gc.kdim);
  Tensor up = split ? randomWeights(k.w, gc.experts, perExpert, gc.kdim) : Tensor{};
  DevBuf dA = upload(a.data), dOff = uploadVec(offsets), dW = upload(w.data),
         dWs = uploadVec(w.scales), dUp = upload(up.data), dUps = uploadVec(up.scales);
  Output out(k.c, mMax, nOut);

  K::GroupedGemmArgs args{};
  args.a = {dA.ptr(), gc.kdim};
  args.offsets = reinterpret_cast<const int *>(dOff.p);
  auto bind = [&](K::Weight &kw, const Tensor &t, const DevBuf &d, const DevBuf &s) {
    kw.data = d.ptr();
    kw.scales = k.w == Ty::F8 ? reinterpret_cast<const float *>(s.p) : nullptr;
    kw.rows = int(perExpert);
    kw.cols = int(gc.kdim);
    kw.scale_ld = int(t.scaleLd);
    kw.expert_stride = perExpert * gc.kdim;
    kw.scale_expert_stride = ((perExpert + 127) / 128) * t.scaleLd;
  };
  bind(args.w, w, dW, dWs);
  if (split)
    bind(args.up, up, dUp, dUps);
  args.c = {out.buf.ptr(), nOut};
  args.m_max = int(mMax);
  args.n = int(gc.n);
  args.k = int(gc.kdim);
  args.experts = int(gc.experts);
  args.silu_mul = k.silu;
  const K::Launch l = K::launchGroupedGemm(args, {k.tile.bm, k.tile.bn, k.tile.bk, 4, 256});
  launch(f, l, args);
  ck(gD->cuCtxSynchronize(), "grouped gemm");
  out.fetch();

  // Expert weight row j of expert e ([gate; up] order with silu).
  auto wAt = [&](int64_t e, int64_t j, int64_t c) -> float {
    if (split && j >= perExpert)
      return weightAt(up, perExpert, e * perExpert + j - perExpert, c);
    return weightAt(w, perExpert, e * perExpert + j, c);
  };
  const bool full = mMax * gc.n * gc.kdim <= (int64_t(1) << 28);
  std::vector<float> ref; // full: host groupedGemm [mMax, nOut]
  if (full) {
    std::vector<float> af = a.toFloat();
    std::vector<std::vector<float>> wf(size_t(gc.experts));
    std::vector<host::Weight> hw;
    for (int64_t e = 0; e < gc.experts; ++e) {
      wf[size_t(e)].resize(size_t(gc.n * gc.kdim));
      for (int64_t j = 0; j < gc.n; ++j)
        for (int64_t c = 0; c < gc.kdim; ++c)
          wf[size_t(e)][size_t(j * gc.kdim + c)] = wAt(e, j, c);
      hw.push_back({wf[size_t(e)].data(), gc.n, gc.kdim});
    }
    ref.resize(size_t(mMax * nOut));
    std::vector<float> scratch;
    host::groupedGemm(host::CMat{af.data(), mMax, gc.kdim, gc.kdim},
                      host::CIMat{offsets.data(), gc.experts + 1, 1, 1}, hw, k.silu,
                      host::Mat{ref.data(), mMax, nOut, nOut}, scratch);
  }
  Compare cmp;
  const uint64_t ss = newStream();
  for (int64_t r : sample(mMax, full ? mMax : 24, ss)) {
    const int64_t e =
        std::upper_bound(offsets.begin(), offsets.end(), int32_t(r)) - offsets.begin() - 1;
    for (int64_t c : sample(nOut, full ? nOut : 256, ss + 5)) {
      double expected;
      if (full) {
        expected = ref[size_t(r * nOut + c)];
      } else {
        auto dot = [&](int64_t j) {
          double s = 0;
          for (int64_t x = 0; x < gc.kdim; ++x)
            s += double(a.at(r, x)) * double(wAt(e, j, x));
          return s;
        };
        expected = k.silu ? double(siluRef(float(dot(c)))) * dot(nOut + c) : dot(c);
      }
      cmp.add(out.at(r, c), expected, r, c);
    }
  }
  cmp.written(out, [](int64_t, int64_t) { return true; });
  cmp.report(what, tolerance(k.a, k.w, k.c));

  if (gc.bench) {
    const double us = timeIt(f, l, args);
    int64_t used = 0;
    for (int64_t c : count)
      used += c > 0;
    const double wBytes = double(w.data.size() + up.data.size()) * double(used) /
                          double(gc.experts);
    const double bytes = double(a.data.size()) + wBytes + double(mMax * nOut * sizeOf(k.c));
    std::printf("BENCH %-76s %9.1f us %7.1f TFLOP/s %7.0f GB/s (%lld experts used)\n", what, us,
                2.0 * double(mMax) * double(gc.n) * double(gc.kdim) / us * 1e-6,
                bytes / us * 1e-3, (long long)used);
  }
}

// ---- HeadGemm -----------------------------------------------------------------------

struct HeadCase {
  test::HeadGemmKernel k;
  int64_t rows, heads, headRows, rowOffset, wRows, C;
  int64_t inStride = 0, outStride = 0; // 0 = packed
  bool bench = false;
};

void runHead(const HeadCase &hc) {
  const test::HeadGemmKernel &k = hc.k;
  const int64_t inLen = k.transpose ? hc.wRows : hc.C, outLen = k.transpose ? hc.C : hc.wRows;
  const int64_t inStride = hc.inStride ? hc.inStride : inLen;
  const int64_t outStride = hc.outStride ? hc.outStride : outLen;
  const int64_t xCols = (hc.heads - 1) * inStride + inLen;
  const int64_t yCols = (hc.heads - 1) * outStride + outLen;
  char what[256];
  std::snprintf(what, sizeof what, "head %s T=%lld H=%lld rows=%lld+%lld/%lld C=%lld strides=%lld,%lld",
                k.name().c_str() + 16, (long long)hc.rows, (long long)hc.heads,
                (long long)hc.rowOffset, (long long)hc.wRows, (long long)hc.headRows,
                (long long)hc.C, (long long)inStride, (long long)outStride);
  if (!selected(what))
    return;
  if (gCollect) {
    gSources[k.name()] = k.source();
    return;
  }
  CUfunction f = kernel(k.name(), k.source());

  Tensor x = randomActivations(k.x, hc.rows, xCols);
  Tensor w = randomWeights(k.w, 1, hc.heads * hc.headRows, hc.C);
  DevBuf dX = upload(x.data), dW = upload(w.data), dWs = uploadVec(w.scales);
  Output out(k.y, hc.rows, yCols);

  K::HeadGemmArgs args{};
  args.x = {dX.ptr(), xCols};
  args.in_stride = hc.inStride;
  args.w.data = dW.ptr();
  args.w.scales = k.w == Ty::F8 ? reinterpret_cast<const float *>(dWs.p) : nullptr;
  args.w.rows = int(hc.heads * hc.headRows);
  args.w.cols = int(hc.C);
  args.w.scale_ld = int(w.scaleLd);
  args.y = {out.buf.ptr(), yCols};
  args.out_stride = hc.outStride;
  args.rows = int(hc.rows);
  args.heads = int(hc.heads);
  args.head_rows = int(hc.headRows);
  args.row_offset = int(hc.rowOffset);
  args.w_rows = int(hc.wRows);
  args.transpose = k.transpose;
  const K::Launch l = K::launchHeadGemm(args, {k.tile.bm, k.tile.bn, k.tile.bk, 4, 128});
  launch(f, l, args);
  ck(gD->cuCtxSynchronize(), "head gemm");
  out.fetch();

  const bool full = hc.rows * hc.heads * hc.wRows * hc.C <= (int64_t(1) << 28);
  std::vector<float> ref;
  if (full) {
    std::vector<float> xf = x.toFloat(), wf = w.toFloat();
    ref.assign(size_t(hc.rows * yCols), 0.0f);
    host::HeadGemmShape shape;
    shape.heads = int(hc.heads);
    shape.headRows = hc.headRows;
    shape.rowOffset = hc.rowOffset;
    shape.rows = hc.wRows;
    shape.transpose = k.transpose;
    shape.inStride = inStride;
    shape.outStride = outStride;
    host::headGemm(host::CMat{xf.data(), hc.rows, xCols, xCols},
                   host::Weight{wf.data(), hc.heads * hc.headRows, hc.C}, shape,
                   host::Mat{ref.data(), hc.rows, yCols, yCols});
  }
  Compare cmp;
  const uint64_t ss = newStream();
  const std::vector<int64_t> hs = sample(hc.heads, full ? hc.heads : 6, ss + 3);
  for (int64_t t : sample(hc.rows, full ? hc.rows : 16, ss))
    for (int64_t h : hs)
      for (int64_t o : sample(outLen, full ? outLen : 96, ss + 11)) {
        const int64_t col = h * outStride + o;
        double expected;
        if (full) {
          expected = ref[size_t(t * yCols + col)];
        } else {
          double s = 0;
          const int64_t base = h * hc.headRows + hc.rowOffset;
          for (int64_t i = 0; i < inLen; ++i) {
            const double xv = x.at(t, h * inStride + i);
            s += xv * (k.transpose ? w.at(base + i, o) : w.at(base + o, i));
          }
          expected = s;
        }
        cmp.add(out.at(t, col), expected, t, col);
      }
  cmp.written(out, [&](int64_t, int64_t c) { return c % outStride < outLen; });
  cmp.report(what, tolerance(k.x, k.w, k.y));

  if (hc.bench) {
    const double us = timeIt(f, l, args);
    const double bytes = double(hc.rows * hc.heads * (inLen * sizeOf(k.x) + outLen * sizeOf(k.y))) +
                         double(hc.heads * hc.wRows * hc.C * sizeOf(k.w));
    std::printf("BENCH %-76s %9.1f us %7.1f TFLOP/s %7.0f GB/s\n", what, us,
                2.0 * double(hc.rows * hc.heads * hc.wRows * hc.C) / us * 1e-6,
                bytes / us * 1e-3);
  }
}

// ---- The cases -------------------------------------------------------------------

test::TileShape tileFor(bool prefill, Ty w) {
  return prefill ? test::prefillTile(w) : test::decodeTile(w);
}

void gemmCases() {
  const Ty kW[] = {Ty::BF16, Ty::F8, Ty::F32};
  // Tiny-model dims (multiples of 16), every element type, both tiles, every
  // epilogue; m = 1, 7, 64, 333.
  for (bool prefill : {false, true})
    for (Ty w : kW)
      for (Ty a : {Ty::BF16, Ty::F32, Ty::F8}) {
        if (a == Ty::F8 && w != Ty::F8)
          continue;
        const test::TileShape tile = tileFor(prefill, w);
        for (int64_t m : {int64_t(1), int64_t(7), int64_t(64), int64_t(333)}) {
          // plain, f32 out, two parts with a boundary inside a 128 block
          runGemm({{a, w, Ty::F32, Ty::F32, tile, false, false, false}, m, 160, {96, 160}});
          // bf16 out
          runGemm({{a, w, Ty::BF16, Ty::BF16, tile, false, false, false}, m, 96, {448}});
          // silu_mul: gate;up as two parts
          runGemm({{a, w, Ty::BF16, Ty::BF16, tile, true, false, false}, m, 160, {192, 192}});
          // rope: 4 heads of [32 nope | 16 rope]
          RopeSpec rope{4, 48, 32, 16, 0.75f};
          runGemm({{a, w, Ty::F32, Ty::F32, tile, false, true, false}, m, 96, {192}, rope});
          // residual, separate and in place (the residual stream is f32)
          runGemm({{a, w, Ty::F32, Ty::F32, tile, false, false, true}, m, 448, {96}});
          GemmCase inPlace{{a, w, Ty::F32, Ty::F32, tile, false, false, true}, m, 160, {96}};
          inPlace.aliasResidual = true;
          runGemm(inPlace);
          // everything at once with bf16 out and residual, 3 parts
          runGemm({{a, w, Ty::BF16, Ty::BF16, tile, true, true, true},
                   m, 64, {64, 80, 144}, RopeSpec{2, 72, 8, 64, 1.0f}});
        }
      }
  if (gQuick)
    return;
  // DeepSeek-V3 dims. q_b with rope (H=128, [128 nope | 64 rope]), kv-a fused
  // with q-a (576 + 1536 rows, rope on the last 64 of the 576), o_proj and
  // down with the residual, the dense SwiGLU, lm_head.
  const RopeSpec qRope{128, 192, 128, 64, 1.0f}, kvRope{1, 2112, 512, 64, 1.0f};
  for (int64_t m : {int64_t(1), int64_t(64), int64_t(2048)}) {
    const bool prefill = m > 64;
    for (Ty w : {Ty::F8, Ty::BF16}) {
      const Ty a = (w == Ty::F8 && prefill) ? Ty::F8 : Ty::BF16;
      const test::TileShape tile = tileFor(prefill, w);
      GemmCase cases[] = {
          {{a, w, Ty::F32, Ty::F32, tile, false, true, false}, m, 1536, {24576}, qRope},
          {{a, w, Ty::F32, Ty::F32, tile, false, true, false}, m, 7168, {576, 1536}, kvRope},
          {{a, w, Ty::F32, Ty::F32, tile, false, false, true}, m, 16384, {7168}},
          {{a, w, Ty::BF16, Ty::BF16, tile, true, false, false}, m, 7168, {18432, 18432}},
          {{a, w, Ty::F32, Ty::F32, tile, false, false, true}, m, 18432, {7168}},
      };
      for (GemmCase &c : cases) {
        c.bench = true;
        runGemm(c);
      }
      if (w == Ty::F8) { // W8A16 at prefill too (A bf16)
        GemmCase c{{Ty::BF16, w, Ty::F32, Ty::F32, tile, false, false, true}, m, 7168, {2048}};
        c.bench = true;
        runGemm(c);
      }
    }
    GemmCase head{{Ty::F32, Ty::BF16, Ty::F32, Ty::F32, tileFor(prefill, Ty::BF16), false, false,
                   false},
                  std::min<int64_t>(m, 64), 7168, {129280}};
    head.bench = true;
    runGemm(head);
  }
  // m = 7 and 333 at V3 dims.
  for (int64_t m : {int64_t(7), int64_t(333)})
    runGemm({{Ty::BF16, Ty::F8, Ty::F32, Ty::F32, tileFor(m > 64, Ty::F8), false, true, false},
             m, 1536, {24576}, qRope});
}

void groupedCases() {
  for (bool prefill : {false, true})
    for (Ty w : {Ty::BF16, Ty::F8, Ty::F32})
      for (Ty a : {Ty::BF16, Ty::F32}) {
        const test::TileShape tile = tileFor(prefill, w);
        // Tiny: 8 experts, top-2, 13 tokens; the SwiGLU gate_up (both weight
        // layouts) and down.
        runGrouped({{a, w, Ty::BF16, tile, true}, 8, 13, 2, 96, 320, true});
        runGrouped({{a, w, Ty::F32, tile, true}, 8, 13, 2, 96, 320, false});
        runGrouped({{a, w, Ty::F32, tile, false}, 8, 13, 2, 160, 96});
        // 256 experts top-8 (8 chunks of the warp scan), small dims.
        runGrouped({{a, w, Ty::F32, tile, false}, 256, 64, 8, 64, 96});
        runGrouped({{a, w, Ty::BF16, tile, true}, 256, 200, 8, 64, 192, true});
      }
  if (gQuick)
    return;
  // DeepSeek-V3: 256 experts, top-8, D = 7168, F = 2048, FP8 weights.
  for (int64_t t : {int64_t(64), int64_t(2048)}) {
    const test::TileShape tile = tileFor(t * 8 > 512, Ty::F8);
    GroupedCase gateUp{{Ty::BF16, Ty::F8, Ty::BF16, tile, true}, 256, t, 8, 7168, 4096, true};
    gateUp.bench = true;
    runGrouped(gateUp);
    GroupedCase down{{Ty::BF16, Ty::F8, Ty::F32, tile, false}, 256, t, 8, 2048, 7168};
    down.bench = true;
    runGrouped(down);
  }
}

void headCases() {
  for (Ty w : {Ty::BF16, Ty::F8, Ty::F32})
    for (Ty x : {Ty::BF16, Ty::F32})
      for (Ty y : {Ty::F32, Ty::BF16})
        for (int64_t t : {int64_t(1), int64_t(7), int64_t(70)}) {
          // Tiny MLA: H = 4, Dn = 32, Dv = 48, R = 64, Dr = 16.
          // q_abs = Wuk^T q_nope (x = q [T, H*(32+16)], in_stride 48)
          runHead({{x, w, y, test::headTile(), true}, t, 4, 80, 0, 32, 64, 48, 0});
          // out = Wuv o_lat (x = o_lat packed), strided output
          runHead({{x, w, y, test::headTile(), false}, t, 4, 80, 32, 48, 64, 0, 56});
        }
  // A head's weight rows straddling a 128-row scale block (FP8, transpose).
  runHead({{Ty::BF16, Ty::F8, Ty::F32, test::headTile(), true}, 33, 3, 96, 16, 64, 128, 0, 0});
  if (gQuick)
    return;
  // DeepSeek-V3: H = 128, Dn = Dv = 128, R = 512, Dr = 64.
  for (int64_t t : {int64_t(1), int64_t(64), int64_t(2048)})
    for (Ty w : {Ty::F8, Ty::BF16}) {
      HeadCase qAbs{{Ty::BF16, w, Ty::F32, test::headTile(), true}, t, 128, 256, 0, 128, 512, 192, 0};
      qAbs.bench = true;
      runHead(qAbs);
      HeadCase vOut{{Ty::BF16, w, Ty::BF16, test::headTile(), false}, t, 128, 256, 128, 128, 512, 0, 0};
      vOut.bench = true;
      runHead(vOut);
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
    std::printf("no CUDA device: %s\nSKIP moela-gpu-matmul-test (needs a GPU)\n", why.c_str());
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
    groupedCases();
    headCases();
    gCollect = false;
    compileCollected();
    std::printf("compiled %zu kernels in %.1f s\n", gCompiled.size(),
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    gemmCases();
    groupedCases();
    headCases();
    std::printf("time %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  } catch (const std::exception &e) {
    std::printf("FAIL exception: %s\n", e.what());
    ++gFailed;
  }
  std::printf("%d passed, %d failed\n", gPassed, gFailed);
  return gFailed == 0 ? 0 : 1;
}
