//===- GemmCase.cpp - One dense GEMM case ---------------------------------===//
#include "GemmCase.h"

#include "Device.h"
#include "MatmulOperands.h"

#include "kernels/MatmulLaunch.h"
#include "kernels/WgmmaLaunch.h"

#include <cmath>
#include <cstdio>
#include <numeric>

namespace moela::cases {
namespace {

std::string gemmName(const GemmCase &g) {
  const GemmKind &k = g.kind;
  const int n = std::accumulate(g.parts.begin(), g.parts.end(), 0);
  return std::string(k.wgmma ? "gemmWgmma<" : "gemm<") + tyName(k.a) + ", " +
         tyName(k.w) + ", " + tyName(k.c) + ", " + tyName(k.r) + ", " +
         std::to_string(k.tile.bm) + "x" + std::to_string(k.tile.bn) + "x" +
         std::to_string(k.tile.bk) + (k.silu ? ", silu" : "") +
         (k.rope ? ", rope" : "") + (k.residual ? ", residual" : "") +
         "> m=" + std::to_string(g.m) + " n=" + std::to_string(n) +
         " k=" + std::to_string(g.k) +
         " parts=" + std::to_string(g.parts.size()) +
         (g.inPlace ? " in-place" : "");
}

K::Tile tileOf(const GemmKind &k) {
  return K::Tile{k.tile.bm, k.tile.bn, k.tile.bk, 0,
                 k.wgmma ? K::kWgmmaThreads : K::kMatmulThreads};
}

K::Launch launchOf(const GemmKind &k, const K::GemmArgs &args) {
  return k.wgmma ? K::launchGemmWgmma(args, tileOf(k))
                 : K::launchGemm(args, tileOf(k));
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

/// Columns to compare: each sampled even column and its RoPE partner.
std::vector<int64_t> withPartners(const std::vector<int64_t> &evens,
                                  int64_t nOut) {
  std::vector<int64_t> cols;
  for (int64_t c : evens) {
    cols.push_back(c);
    if (c + 1 < nOut)
      cols.push_back(c + 1);
  }
  return cols;
}

/// The expected output at rows x withPartners(evens) from the host GEMM and
/// epilogue over all of it, or from dot products in double.
std::vector<double> reference(const GemmCase &g, const Activations &a,
                              const std::vector<Weights> &parts,
                              const std::vector<float> &res,
                              const host::RopeTable &rope,
                              const std::vector<int64_t> &rows,
                              const std::vector<int64_t> &evens, bool full) {
  const GemmKind &k = g.kind;
  const int n = std::accumulate(g.parts.begin(), g.parts.end(), 0),
            nOut = k.silu ? n / 2 : n;
  const std::vector<int64_t> cols = withPartners(evens, nOut);
  std::vector<double> out(rows.size() * cols.size());
  if (full) {
    std::vector<float> w;
    for (const Weights &p : parts) {
      const std::vector<float> v = p.values(0);
      w.insert(w.end(), v.begin(), v.end());
    }
    const std::vector<float> av = a.values();
    std::vector<float> acc(size_t(g.m) * n), ref(size_t(g.m) * nOut);
    H::gemm(cmat(av, g.m, g.k), H::Weight{w.data(), n, g.k}, mat(acc, g.m, n));
    if (k.silu)
      H::siluMul(H::CMat{acc.data(), g.m, nOut, n},
                 H::CMat{acc.data() + nOut, g.m, nOut, n}, mat(ref, g.m, nOut));
    else
      ref = acc;
    if (k.rope)
      H::applyRope(mat(ref, g.m, nOut), rope, g.rope.heads, g.rope.headDim,
                   g.rope.offset);
    for (size_t i = 0; i < rows.size(); ++i)
      for (size_t j = 0; j < cols.size(); ++j) {
        const size_t at = size_t(rows[i] * nOut + cols[j]);
        out[i * cols.size() + j] = k.residual ? ref[at] + res[at] : ref[at];
      }
    return out;
  }
  auto dot = [&](int64_t r, int64_t j) {
    size_t p = 0;
    while (j >= parts[p].rows)
      j -= parts[p++].rows;
    double s = 0;
    for (int64_t x = 0; x < g.k; ++x)
      s += double(a.value(r, x)) * parts[p].value(0, j, x);
    return s;
  };
  auto pre = [&](int64_t r, int64_t c) {
    return k.silu ? double(silu(float(dot(r, c)))) * dot(r, nOut + c)
                  : dot(r, c);
  };
  parallelRange(
      int64_t(rows.size()),
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          size_t j = 0; // index of c in cols
          for (int64_t c : evens) {
            const int64_t r = rows[size_t(i)];
            double v[2] = {pre(r, c), c + 1 < nOut ? pre(r, c + 1) : 0.0};
            const int64_t rel = c % std::max(1, g.rope.headDim) - g.rope.offset;
            if (k.rope && rel >= 0 && rel < g.rope.dim) {
              const size_t at = size_t(r) * rope.half + size_t(rel / 2);
              const double cs = rope.cos[at], sn = rope.sin[at], x = v[0],
                           y = v[1];
              v[0] = x * cs - y * sn;
              v[1] = x * sn + y * cs;
            }
            for (int e = 0; e < 2 && c + e < nOut; ++e, ++j)
              out[size_t(i) * cols.size() + j] =
                  v[e] + (k.residual ? res[size_t(r * nOut + c + e)] : 0);
          }
        }
      },
      1);
  return out;
}

void runGemm(Report &rep, const std::string &what, const GemmCase &g) {
  const GemmKind &k = g.kind;
  Rng rng(what);
  const int n = std::accumulate(g.parts.begin(), g.parts.end(), 0),
            nOut = k.silu ? n / 2 : n;
  if (k.rope && g.rope.heads * g.rope.headDim != nOut) {
    rep.expect(what, false, "rope heads x head_dim must be the output columns");
    return;
  }
  const bool inPlace = k.residual && g.inPlace && k.c == k.r;
  const Activations a = randomActivations(rng, k.a, g.m, g.k);
  std::vector<Weights> parts;
  for (int rows : g.parts)
    parts.push_back(randomWeights(rng, k.w, 1, rows, g.k));
  Tensor res(k.r, g.m, nOut);
  res.fillUniform(rng, -2, 2);
  const std::vector<float> resV = res.floats();
  const int64_t ldc =
      inPlace ? nOut : nOut + 8; // + 8: padding that must stay NaN
  Tensor c(k.c, g.m, nOut, ldc);
  if (inPlace)
    c.fill(
        [&](int64_t r, int64_t col) { return resV[size_t(r * nOut + col)]; });
  const std::vector<int32_t> positions = randomPositions(rng, g.m, g.maxPos);
  Tensor pos = fromInts(positions, g.m, 1);
  const RopeTables rope =
      ropeTables(g.rope.kind, std::max(2, g.rope.dim), g.rope.magnitude);

  // The reference first: afterwards the inputs' host copies would have to
  // come back from the device.
  const bool full = int64_t(g.m) * n * g.k <= (int64_t(1) << 28);
  const uint64_t s = rng.stream();
  const std::vector<int64_t> rows = sample(g.m, full ? g.m : 24, s);
  const std::vector<int64_t> evens = sample(nOut, full ? nOut : 192, s + 7, 2);
  const std::vector<int64_t> cols = withPartners(evens, nOut);
  const std::vector<double> expected =
      reference(g, a, parts, resV, rope.table(positions), rows, evens, full);

  K::GemmArgs args{};
  args.a = a.data.view();
  args.a_scales = a.scalesDev();
  args.a_scale_ld = a.scaleLd;
  for (size_t p = 0; p < parts.size(); ++p)
    args.parts[p] = parts[p].weight();
  args.num_parts = int(parts.size());
  args.c = c.view();
  if (k.residual)
    args.residual = inPlace ? c.view() : res.view();
  args.positions = pos.devAs<int>();
  if (k.rope)
    args.rope =
        rope.rope(g.rope.heads, g.rope.headDim, g.rope.offset, g.rope.dim);
  args.silu_mul = k.silu;
  args.m = g.m;
  args.n = n;
  args.k = g.k;
  const Kernel kernel = gemmKernel(k);
  const K::Launch l = launchOf(k, args);
  launch(kernel, l, args);

  checkMatrix(rep, what, c, rows, cols, expected, g.bound,
              [&](int64_t, int64_t col) { return col < nOut; });
  if (!g.bench || !device().timed())
    return;
  const double flop = 2.0 * g.m * n * g.k;
  double bytes =
      double(a.data.bytes() + (k.a == Ty::F8 ? a.scales.bytes() : 0)) +
      double(g.m) * nOut * sizeOf(k.c) * (k.residual ? 2 : 1);
  for (const Weights &w : parts)
    bytes += double(w.ty == Ty::F8 ? w.fp8.codes.bytes() + w.fp8.scales.bytes()
                                   : w.data.bytes());
  const double us = launchMicroseconds(kernel, l, args);
  std::printf("BENCH %-70s %s %9.1f us %7.1f TFLOP/s %6.0f GB/s", what.c_str(),
              k.wgmma ? "wgmma" : "mma", us, flop / us * 1e-6,
              bytes / us * 1e-3);
  if (g.mmaTile.bm) { // the same product on mma.sync
    GemmKind mk = k;
    mk.wgmma = false;
    mk.tile = g.mmaTile;
    const Kernel mma = gemmKernel(mk);
    const K::Launch ml = launchOf(mk, args);
    const double usMma = launchMicroseconds(mma, ml, args);
    std::printf(" | mma.sync %dx%dx%d %9.1f us %7.1f TFLOP/s | x%.2f",
                mk.tile.bm, mk.tile.bn, mk.tile.bk, usMma, flop / usMma * 1e-6,
                usMma / us);
  }
  std::printf("\n");
  std::fflush(stdout);
}

} // namespace

void addEmuShapes(Cases &cases, const std::string &test, const GemmKind &k) {
  const bool prefill = k.tile.bm == 128;
  const std::vector<int> ms =
      prefill ? std::vector<int>{130} : std::vector<int>{5, 70};
  for (size_t i = 0; i < ms.size(); ++i) {
    GemmCase g{k, ms[i], prefill ? 208 : 160};
    if (k.silu && k.rope) {
      g.rope = {4, 24, 16, 8}; // tiny q heads: 16 nope + 8 rope
      g.parts = {50, 80, 62};  // gate = rows 0..95, up = rows 96..191
    } else if (k.silu) {
      g.parts = {100, 120, 100}; // F = 160
    } else if (k.rope) {
      g.rope =
          i == 0 ? GemmRope{2, 48, 32, 16} : GemmRope{1, 40, 32, 8}; // q / kv_a
      g.parts = i == 0 ? std::vector<int>{96} : std::vector<int>{32, 8};
    } else {
      g.parts = {72, 136};
    }
    g.inPlace = k.residual && i == 1 && k.c == k.r;
    g.bound = emuBound(k.c);
    cases.push_back(gemmCase(test, kEmu, g));
  }
}

void addEmuShape(Cases &cases, const std::string &test, const GemmKind &k,
                 int m, int kdim, std::vector<int> parts, GemmRope rope) {
  GemmCase g{k, m, kdim, std::move(parts), rope};
  g.bound = emuBound(k.c);
  cases.push_back(gemmCase(test, kEmu, g));
}

void addGpuShape(Cases &cases, const GemmKind &k, int m, int kdim,
                 std::vector<int> parts, GemmRope rope, bool inPlace,
                 bool bench) {
  rope.kind = RopeKind::Plain;
  GemmCase g{k,    m,       kdim,   std::move(parts),
             rope, inPlace, 159999, gpuBound(k.a, k.w, k.c),
             bench};
  cases.push_back(gemmCase("Gpu", kGpu, g));
}

void addGpuEpilogues(Cases &cases, bool wgmma, Ty a, Ty w, TileShape t) {
  const Ty f32 = Ty::F32, bf16 = Ty::BF16;
  auto kind = [&](Ty c, bool silu, bool rope, bool residual) {
    return GemmEngine{wgmma}(a, w, c, c, t, silu, rope, residual);
  };
  for (int m : {1, 7, 64, 333}) {
    // plain, f32 out, two parts with a boundary inside a 128 block
    addGpuShape(cases, kind(f32, false, false, false), m, 160, {96, 160});
    addGpuShape(cases, kind(bf16, false, false, false), m, 96, {448});
    // silu_mul: gate;up as two parts
    addGpuShape(cases, kind(bf16, true, false, false), m, 160, {192, 192});
    // rope: 4 heads of [32 nope | 16 rope]
    addGpuShape(cases, kind(f32, false, true, false), m, 96, {192},
                {4, 48, 32, 16, RopeKind::Plain, 0.75f});
    // residual, separate and in place (the residual stream is f32)
    addGpuShape(cases, kind(f32, false, false, true), m, 448, {96});
    addGpuShape(cases, kind(f32, false, false, true), m, 160, {96}, {}, true);
    // everything at once with bf16 out and residual, 3 parts
    addGpuShape(cases, kind(bf16, true, true, true), m, 64, {64, 80, 144},
                {2, 72, 8, 64});
  }
}

Case gemmCase(const std::string &test, unsigned suites, const GemmCase &g) {
  const std::string name = gemmName(g);
  Case c{(g.kind.wgmma ? "GemmWgmma." : "Gemm.") + test,
         name,
         suites,
         g.bench,
         {gemmKernel(g.kind)},
         [=](Report &r) { runGemm(r, name, g); }};
  if (g.mmaTile.bm) {
    GemmKind mk = g.kind;
    mk.wgmma = false;
    mk.tile = g.mmaTile;
    c.kernels.push_back(gemmKernel(mk));
  }
  return c;
}

} // namespace moela::cases
