//===- GroupedCases.cpp - GroupedGemm (the routed experts' GEMMs) ---------===//
//
// Rows sorted by expert (offsets [E + 1]) times each expert's weight, with
// silu_mul over [gate; up] (one stacked weight, or gate and up apart) or
// without (down), against host::groupedGemm. On the emulator the routing is
// skewed (expert 0 takes most tokens, over one M tile; the last two none)
// and the last rows belong to no expert: they must stay NaN. The GPU adds
// 256 experts top-8 and DeepSeek-V3's shapes, timed.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Device.h"
#include "Families.h"
#include "MatmulOperands.h"

#include "kernels/MatmulLaunch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moela::cases {
namespace {

const Ty f32 = Ty::F32, bf16 = Ty::BF16, f8 = Ty::F8;

struct GroupedCase {
  Ty a, w, c;
  TileShape tile;
  bool silu;
  int experts, tokens, topK, k,
      n;            // n: weight rows per expert (2F with silu_mul)
  bool separateUp;  // silu_mul: gate in w, up in `up`
  int unrouted = 0; // rows at the end outside every expert
  bool skew = false;
  double bound = 0;
  bool bench = false;
};

/// topK distinct experts per token, counted per expert, as offsets.
std::vector<int32_t> randomOffsets(Rng &rng, const GroupedCase &g) {
  std::vector<int> count(size_t(g.experts), 0);
  for (int t = 0; t < g.tokens; ++t) {
    std::vector<int> chosen;
    while (int(chosen.size()) < g.topK) {
      const int e = !g.skew                ? rng.uniformInt(0, g.experts - 1)
                    : rng.uniformInt(0, 3) ? rng.uniformInt(0, g.experts - 3)
                                           : 0;
      if (std::find(chosen.begin(), chosen.end(), e) == chosen.end())
        chosen.push_back(e);
    }
    for (int e : chosen)
      ++count[size_t(e)];
  }
  const int mMax = g.tokens * g.topK;
  std::vector<int32_t> offsets(size_t(g.experts + 1), 0);
  for (int e = 0; e < g.experts; ++e)
    offsets[size_t(e + 1)] = offsets[size_t(e)] + count[size_t(e)];
  for (int32_t &o : offsets) // the last rows belong to no expert
    o = std::min(o, mMax - g.unrouted);
  return offsets;
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

void runGrouped(Report &rep, const std::string &what, const GroupedCase &g) {
  Rng rng(what);
  const int mMax = g.tokens * g.topK, nOut = g.silu ? g.n / 2 : g.n;
  const std::vector<int32_t> offsets = randomOffsets(rng, g);
  const int routedEnd = offsets[size_t(g.experts)];
  const Activations a = randomActivations(rng, g.a, mMax, g.k);
  const bool split = g.silu && g.separateUp;
  const int perExpert = split ? g.n / 2 : g.n;
  const Weights w = randomWeights(rng, g.w, g.experts, perExpert, g.k);
  const Weights up =
      split ? randomWeights(rng, g.w, g.experts, perExpert, g.k) : Weights{};
  // Expert e's weight row j: w_e, or [gate_e; up_e].
  auto wAt = [&](int64_t e, int64_t j, int64_t x) {
    return j >= perExpert ? up.value(e, j - perExpert, x) : w.value(e, j, x);
  };

  // The reference first (the inputs then need not come back from the device).
  const bool full = int64_t(mMax) * g.n * g.k <= (int64_t(1) << 28);
  const uint64_t s = rng.stream();
  const std::vector<int64_t> rows = sample(mMax, full ? mMax : 24, s);
  const std::vector<int64_t> cols = sample(nOut, full ? nOut : 256, s + 5);
  std::vector<double> expected(rows.size() * cols.size(),
                               NAN); // rows of no expert: NaN
  if (full) {
    std::vector<std::vector<float>> we(size_t(g.experts));
    std::vector<H::Weight> hw;
    for (int e = 0; e < g.experts; ++e) {
      we[size_t(e)] = w.values(e);
      if (split) {
        const std::vector<float> u = up.values(e);
        we[size_t(e)].insert(we[size_t(e)].end(), u.begin(), u.end());
      }
      hw.push_back(H::Weight{we[size_t(e)].data(), g.n, g.k});
    }
    const std::vector<float> av = a.values();
    std::vector<float> ref(size_t(mMax) * nOut, NAN), scratch;
    H::groupedGemm(cmat(av, mMax, g.k), cimat(offsets, g.experts + 1, 1), hw,
                   g.silu, mat(ref, mMax, nOut), scratch);
    for (size_t i = 0; i < rows.size(); ++i)
      for (size_t j = 0; j < cols.size(); ++j)
        if (rows[i] < routedEnd)
          expected[i * cols.size() + j] = ref[size_t(rows[i] * nOut + cols[j])];
  } else {
    parallelRange(
        int64_t(rows.size()),
        [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i) {
            const int64_t r = rows[size_t(i)];
            if (r >= routedEnd)
              continue;
            const int64_t e =
                std::upper_bound(offsets.begin(), offsets.end(), int32_t(r)) -
                offsets.begin() - 1;
            auto dot = [&](int64_t j) {
              double sum = 0;
              for (int64_t x = 0; x < g.k; ++x)
                sum += double(a.value(r, x)) * wAt(e, j, x);
              return sum;
            };
            for (size_t j = 0; j < cols.size(); ++j)
              expected[size_t(i) * cols.size() + j] =
                  g.silu
                      ? double(silu(float(dot(cols[j])))) * dot(nOut + cols[j])
                      : dot(cols[j]);
          }
        },
        1);
  }

  Tensor offsetsT = fromInts(offsets, g.experts + 1, 1), c(g.c, mMax, nOut);
  K::GroupedGemmArgs args{};
  args.a = a.data.view();
  args.offsets = offsetsT.devAs<int>();
  args.w = w.weight();
  if (split)
    args.up = up.weight();
  args.c = c.view();
  args.m_max = mMax;
  args.n = g.n;
  args.k = g.k;
  args.experts = g.experts;
  args.silu_mul = g.silu;
  const Kernel kernel = groupedGemmKernel(g.a, g.w, g.c, g.tile, g.silu);
  const K::Launch l = K::launchGroupedGemm(
      args, K::Tile{g.tile.bm, g.tile.bn, g.tile.bk, 0, K::kMatmulThreads});
  launch(kernel, l, args);

  checkMatrix(rep, what, c, rows, cols, expected, g.bound,
              [&](int64_t r, int64_t) { return r < routedEnd; });
  if (!g.bench || !device().timed())
    return;
  const double us = launchMicroseconds(kernel, l, args);
  int used = 0;
  for (int e = 0; e < g.experts; ++e)
    used += offsets[size_t(e + 1)] > offsets[size_t(e)];
  const double wBytes =
      double(g.w == f8 ? w.fp8.codes.bytes() : w.data.bytes()) *
      (split ? 2 : 1) * used / g.experts;
  const double bytes = double(a.data.bytes()) + wBytes + double(c.bytes());
  printBench(what, us, 2.0 * mMax * g.n * g.k, bytes,
             " (" + std::to_string(used) + " experts used)");
}

void add(Cases &cases, const std::string &test, unsigned suites,
         const GroupedCase &g) {
  const std::string name =
      std::string("groupedGemm<") + tyName(g.a) + ", " + tyName(g.w) + ", " +
      tyName(g.c) + ", " + std::to_string(g.tile.bm) + "x" +
      std::to_string(g.tile.bn) + "x" + std::to_string(g.tile.bk) +
      (g.silu ? ", silu" : "") + "> E=" + std::to_string(g.experts) +
      " T=" + std::to_string(g.tokens) + " K=" + std::to_string(g.topK) +
      " n=" + std::to_string(g.n) + " k=" + std::to_string(g.k) +
      (g.silu ? (g.separateUp ? " gate|up" : " gate;up") : "") +
      (g.unrouted ? " unrouted " + std::to_string(g.unrouted) : "");
  addCase(
      cases, "GroupedGemm." + test, name, suites,
      groupedGemmKernel(g.a, g.w, g.c, g.tile, g.silu),
      [=](Report &r) { runGrouped(r, name, g); }, g.bench);
}

/// The emulator's two shapes of a kernel for E experts of hidden D and
/// intermediate F: expert 0 over one M tile (some rows unrouted), and
/// decode-like, a few rows per expert.
void emu(Cases &cases, const std::string &test, Ty a, Ty w, Ty c, TileShape t,
         bool silu, int experts, int hidden, int inter) {
  const int n = silu ? 2 * inter : hidden, k = silu ? hidden : inter;
  const double bound = emuBound(c);
  add(cases, test, kEmu,
      {a, w, c, t, silu, experts, t.bm == 128 ? 200 : 100, 2, k, n, true, 3,
       true, bound});
  add(cases, test, kEmu,
      {a, w, c, t, silu, experts, 5, 3, k, n, false, 0, true, bound});
}

} // namespace

void addGroupedCases(Cases &cases) {
  // tiny: E=8, D=64, F=32; tiny-v3-fp8: E=8, D=192, F=96; tiny-v2-lite: E=12,
  // D=96, F=48.
  for (auto [test, w, bk] :
       {std::tuple<const char *, Ty, int>{"TinyBf16", bf16, 64},
        {"TinyFp8", f8, 128}}) {
    const int hidden = w == f8 ? 192 : 64, inter = w == f8 ? 96 : 32;
    emu(cases, test, bf16, w, bf16, {128, 128, bk}, true, 8, hidden, inter);
    emu(cases, test, bf16, w, bf16, {64, 64, bk}, true, 8, hidden, inter);
    emu(cases, test, bf16, w, f32, {128, 128, bk}, false, 8, hidden, inter);
    emu(cases, test, bf16, w, f32, {64, 64, bk}, false, 8, hidden, inter);
    // A prefill whose experts get under 128 rows each (moela-tile).
    emu(cases, test, bf16, w, bf16, {64, 128, bk}, true, 8, hidden, inter);
    emu(cases, test, bf16, w, f32, {64, 128, bk}, false, 8, hidden, inter);
  }
  emu(cases, "F32Activations", f32, bf16, f32, {64, 64, 64}, false, 12, 96, 48);
  emu(cases, "F32Activations", f32, bf16, bf16, {64, 64, 64}, true, 12, 96, 48);
  // More K tiles than pipeline stages.
  GroupedCase longK{bf16, f8,  f32, {128, 128, 128}, false, 8, 100, 2,
                    1040, 192, true};
  longK.skew = true;
  longK.bound = emuBound(f32);
  add(cases, "LongK", kEmu, longK);
  longK = {bf16, bf16, bf16, {64, 64, 64}, true, 8, 60, 2, 1040, 64, true};
  longK.skew = true;
  longK.bound = emuBound(bf16);
  add(cases, "LongK", kEmu, longK);

  // The GPU: tiny shapes with 8 experts top-2 (both gate/up layouts, down),
  // 256 experts top-8 (8 chunks of the warp scan); then DeepSeek-V3.
  for (bool prefill : {false, true})
    for (Ty w : {bf16, f8, f32})
      for (Ty a : {bf16, f32}) {
        const TileShape t = prefill ? prefillTile(w) : decodeTile(w);
        auto gpu = [&](Ty c, bool silu, int experts, int tokens, int topK,
                       int k, int n, bool separateUp) {
          add(cases, "Gpu", kGpu,
              {a, w, c, t, silu, experts, tokens, topK, k, n, separateUp, 0,
               false, gpuBound(a, w, c)});
        };
        gpu(bf16, true, 8, 13, 2, 96, 320, true);
        gpu(f32, true, 8, 13, 2, 96, 320, false);
        gpu(f32, false, 8, 13, 2, 160, 96, true);
        gpu(f32, false, 256, 64, 8, 64, 96, true);
        gpu(bf16, true, 256, 200, 8, 64, 192, true);
      }
  // At 2048 tokens an expert gets 64 rows on average: 64 x 128 tiles.
  for (int t : {64, 2048}) {
    const TileShape tile =
        t * 8 > 512 ? TileShape{64, 128, 128} : decodeTile(f8);
    add(cases, "Gpu", kGpu,
        {bf16, f8, bf16, tile, true, 256, t, 8, 7168, 4096, true, 0, false,
         gpuBound(bf16, f8, bf16), true});
    add(cases, "Gpu", kGpu,
        {bf16, f8, f32, tile, false, 256, t, 8, 2048, 7168, true, 0, false,
         gpuBound(bf16, f8, f32), true});
  }
}

} // namespace moela::cases
