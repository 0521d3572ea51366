//===- PrefillCases.cpp - MlaPrefillAttention -----------------------------===//
//
// The expanded-form prefill over sequences packed back to back, against a
// double-precision reference written here: softmax over the keys [t -
// positions[t], t]. Inputs have a tile of NaN rows past T (never read); q,
// kv and k_pe sit inside wider rows as in the step's buffers. Bound 1e-2
// (bf16 q, k and P on tensor cores); on the emulator's short sequences the
// bound must also separate the result from one key fewer (the diagonal)
// and one more (the row before the sequence). The GPU times a V3 prefill of
// 4096 tokens, checking every 37th row and the last 64.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Device.h"
#include "Families.h"

#include "kernels/OpsLaunch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace moela::cases {
namespace {

const float kScale = 0.1352f;
const int kKpCol = 8; // k_pe inside a wider row, as in the kv_a output

struct PrefillCase {
  std::string shape;
  Ty q, kv, kp, out;
  int heads, dn, dr, dv;
  std::vector<int> seqLens; // positions from 0 in each
  int kvPad = 0; // extra kv columns per row: 4 leaves bf16 rows unaligned
  bool separates = false; // check the bound against one key fewer / more
  bool timed = false;     // GPU: timed, sampled rows checked
};

/// The inputs as the kernel reads them, as floats.
struct Inputs {
  std::vector<float> q, kv,
      kp; // [rows, qCols], [rows, kvLd], [rows, kKpCol + Dr]
  int64_t qCols, kvLd, kpLd;
  std::vector<int32_t> pos;
  int heads, dn, dr, dv;
};

/// out rows `rows` [rows.size(), H*Dv] in double precision over the keys
/// [t - positions[t] - extraLo, t - dropHi] (clamped to row 0 and to one
/// key); extraLo = dropHi = 0 is the kernel's contract.
std::vector<float> reference(const Inputs &in, const std::vector<int> &rows,
                             int extraLo = 0, int dropHi = 0) {
  const int H = in.heads, dn = in.dn, dr = in.dr, dv = in.dv;
  std::vector<float> ref(rows.size() * size_t(H) * dv);
  parallelRange(
      int64_t(rows.size()),
      [&](int64_t begin, int64_t end) {
        std::vector<double> w, acc(static_cast<size_t>(dv));
        for (int64_t i = begin; i < end; ++i) {
          const int t = rows[size_t(i)];
          const int lo = std::max(0, t - in.pos[size_t(t)] - extraLo);
          const int hi = std::max(lo, t - dropHi);
          for (int h = 0; h < H; ++h) {
            const float *q =
                in.q.data() + t * in.qCols + int64_t(h) * (dn + dr);
            const int64_t kc = int64_t(h) * (dn + dv);
            w.assign(size_t(hi - lo + 1), 0.0);
            double mx = -INFINITY;
            for (int j = lo; j <= hi; ++j) {
              const float *k = in.kv.data() + j * in.kvLd + kc;
              const float *kp = in.kp.data() + j * in.kpLd + kKpCol;
              double d = 0;
              for (int c = 0; c < dn; ++c)
                d += double(q[c]) * k[c];
              for (int c = 0; c < dr; ++c)
                d += double(q[dn + c]) * kp[c];
              w[size_t(j - lo)] = d * kScale;
              mx = std::max(mx, w[size_t(j - lo)]);
            }
            double sum = 0;
            for (double &x : w)
              sum += (x = std::exp(x - mx));
            std::fill(acc.begin(), acc.end(), 0.0);
            for (int j = lo; j <= hi; ++j)
              for (int c = 0; c < dv; ++c)
                acc[size_t(c)] += w[size_t(j - lo)] *
                                  in.kv[size_t(j * in.kvLd + kc + dn + c)];
            for (int c = 0; c < dv; ++c)
              ref[(size_t(i) * H + h) * dv + c] = float(acc[size_t(c)] / sum);
          }
        }
      },
      1);
  return ref;
}

ErrorStats compareRows(const Tensor &out, const std::vector<float> &ref,
                       const std::vector<int> &rows) {
  ErrorStats s;
  for (size_t i = 0; i < rows.size(); ++i)
    for (int64_t c = 0; c < out.cols(); ++c)
      s.add(out.get(rows[i], c), ref[i * size_t(out.cols()) + size_t(c)],
            rows[i], c);
  return s;
}

void runPrefill(Report &r, const std::string &what, const PrefillCase &c) {
  Rng rng(what);
  const int H = c.heads;
  std::vector<int32_t> pos;
  for (int len : c.seqLens)
    for (int p = 0; p < len; ++p)
      pos.push_back(p);
  const int T = int(pos.size());
  const int64_t rows = T + 64, qCols = int64_t(H) * (c.dn + c.dr),
                kvCols = int64_t(H) * (c.dn + c.dv);
  Tensor q(c.q, rows, qCols), kv(c.kv, rows, kvCols, kvCols + c.kvPad),
      kp(c.kp, rows, kKpCol + c.dr);
  for (Tensor *x : {&q, &kv, &kp}) {
    const uint64_t s = rng.stream();
    const int64_t cols = x->cols();
    x->fill([&](int64_t t, int64_t j) {
      return t < T ? counterUniform(s, uint64_t(t * cols + j), -1, 1) : NAN;
    });
  }
  Tensor positions = fromInts(pos, T, 1);
  const Inputs in{q.floats(), kv.floats(),   kp.floats(), qCols,
                  kvCols,     kKpCol + c.dr, pos,         H,
                  c.dn,       c.dr,          c.dv};
  std::vector<int> checked;
  for (int t = 0; t < T; ++t)
    if (!c.timed || t % 37 == 0 || t >= T - 64)
      checked.push_back(t);

  Tensor out(c.out, T, int64_t(H) * c.dv, int64_t(H) * c.dv + 8); // padded rows
  K::MlaPrefillAttentionArgs a{};
  a.q = q.view();
  a.kv = kv.view();
  a.k_pe = K::View{kp.dev(kKpCol * sizeOf(c.kp)), kp.ld()};
  a.positions = positions.devAs<int>();
  a.out = out.view();
  a.rows = T;
  a.heads = H;
  a.nope_dim = c.dn;
  a.rope_dim = c.dr;
  a.v_dim = c.dv;
  a.scale = kScale;
  const Kernel k =
      mlaPrefillAttentionKernel(c.q, c.kv, c.kp, c.out, c.dn, c.dr, c.dv);
  const K::Launch l = K::launchMlaPrefillAttention(a, kTile);
  launch(k, l, a);

  r.near(what, compareRows(out, reference(in, checked), checked), 1e-2);
  r.untouchedOutside(
      what, out, [&](int64_t, int64_t col) { return col < int64_t(H) * c.dv; });
  // One key fewer (the diagonal) or, with several sequences, one more (the
  // row before the sequence) is far outside the bound.
  for (int wrong = 0; c.separates && wrong < (c.seqLens.size() > 1 ? 2 : 1);
       ++wrong) {
    const ErrorStats s =
        compareRows(out, reference(in, checked, wrong, 1 - wrong), checked);
    r.expect(what + (wrong ? " vs one key more" : " vs one key fewer"),
             !s.within(1e-2), s.text(1e-2) + " (must exceed the bound)");
  }
  if (!c.timed || !device().timed())
    return;
  const double sec = device().medianSeconds([&](int) { launch(k, l, a); });
  double flops = 0; // q.k and p.v of every visible (row, key, head)
  for (int t = 0; t < T; ++t)
    flops += 2.0 * H * (pos[size_t(t)] + 1) * (c.dn + c.dr + c.dv);
  std::printf("TIME mla_prefill_attention %-28s T=%-5d %8.1f us  %6.1f TFLOP/s "
              "(%4.1f%% of "
              "790 TFLOP/s bf16)\n",
              c.shape.c_str(), T, sec * 1e6, flops / sec * 1e-12,
              flops / sec / 790e12 * 100);
  std::fflush(stdout);
}

void add(Cases &cases, const std::string &test, unsigned suites, PrefillCase c,
         Ty q, Ty kv, Ty kp, Ty out) {
  c.q = q;
  c.kv = kv;
  c.kp = kp;
  c.out = out;
  c.separates = suites == kEmu;
  const std::string name = std::string("mlaPrefillAttention<") + tyName(q) +
                           ", " + tyName(kv) + ", " + tyName(kp) + ", " +
                           tyName(out) + ", " + std::to_string(c.dn) + ", " +
                           std::to_string(c.dr) + ", " + std::to_string(c.dv) +
                           "> H=" + std::to_string(c.heads) + " " + c.shape +
                           (c.kvPad ? " kv ld+" + std::to_string(c.kvPad) : "");
  addCase(
      cases, "MlaPrefillAttention." + test, name, suites,
      mlaPrefillAttentionKernel(q, kv, kp, out, c.dn, c.dr, c.dv),
      [=](Report &r) { runPrefill(r, name, c); }, c.timed);
}

/// Several sequences (one of a single token), one full tile, a partial
/// tile, and keys over several tiles.
std::vector<PrefillCase> packings(int heads, int dn, int dr, int dv) {
  const Ty x = Ty::F32;
  return {{"T=100 seqs 37+1+62", x, x, x, x, heads, dn, dr, dv, {37, 1, 62}},
          {"T=64 one seq", x, x, x, x, heads, dn, dr, dv, {64}},
          {"T=5 one seq", x, x, x, x, heads, dn, dr, dv, {5}},
          {"T=200 seqs 150+50", x, x, x, x, heads, dn, dr, dv, {150, 50}}};
}

} // namespace

void addPrefillCases(Cases &cases) {
  const Ty f32 = Ty::F32, bf16 = Ty::BF16;
  // tiny (16, 8, 16): Dn + Dr = 24 padded to 32.
  for (const PrefillCase &c : packings(4, 16, 8, 16)) {
    add(cases, "Tiny", kEmu, c, f32, f32, f32, f32);
    add(cases, "Tiny", kEmu, c, bf16, bf16, bf16, bf16);
  }
  add(cases, "Tiny", kEmu, packings(4, 16, 8, 16)[0], f32, bf16, bf16, bf16);
  PrefillCase pad = packings(4, 16, 8, 16)[0];
  pad.shape = "T=70 seqs 3+67";
  pad.seqLens = {3, 67};
  pad.kvPad = 4;
  add(cases, "Tiny", kEmu, pad, bf16, bf16, f32, f32);
  // tiny-v2 (32, 16, 32).
  PrefillCase v2 = packings(2, 32, 16, 32)[0];
  add(cases, "TinyV2", kEmu, v2, bf16, bf16, bf16, bf16);
  v2.shape = "T=130 seqs 1+129";
  v2.seqLens = {1, 129};
  v2.kvPad = 4;
  add(cases, "TinyV2", kEmu, v2, bf16, bf16, bf16, bf16);
  // tiny-v3-fp8 (64, 32, 48): V rows not swizzled.
  for (const PrefillCase &c : packings(3, 64, 32, 48)) {
    add(cases, "TinyV3Fp8", kEmu, c, f32, f32, f32, f32);
    add(cases, "TinyV3Fp8", kEmu, c, bf16, bf16, bf16, bf16);
  }
  // DeepSeek-V3 (128, 64, 128): swizzled rows.
  for (const PrefillCase &c : packings(2, 128, 64, 128)) {
    add(cases, "DeepSeekV3", kEmu, c, bf16, bf16, bf16, bf16);
    add(cases, "DeepSeekV3", kEmu, c, f32, f32, f32, f32);
  }
  add(cases, "DeepSeekV3", kEmu, packings(2, 128, 64, 128)[0], f32, bf16, bf16,
      bf16);
  PrefillCase v3pad = packings(2, 128, 64, 128)[0];
  v3pad.kvPad = 4;
  add(cases, "DeepSeekV3", kEmu, v3pad, bf16, bf16, bf16, f32);

  // The GPU: as emitted (bf16), with f32 q, and all f32 for the tiny shapes.
  const PrefillCase gpu[] = {
      {"tiny 37+1+62", f32, f32, f32, f32, 4, 16, 8, 16, {37, 1, 62}},
      {"tiny-v2 100+30", f32, f32, f32, f32, 2, 32, 16, 32, {100, 30}},
      {"tiny-v3-fp8 5", f32, f32, f32, f32, 3, 64, 32, 48, {5}},
      {"tiny-v3-fp8 150+50", f32, f32, f32, f32, 3, 64, 32, 48, {150, 50}},
      {"v3 37+1+62", f32, f32, f32, f32, 128, 128, 64, 128, {37, 1, 62}},
      {"v3 1000+24+500",
       f32,
       f32,
       f32,
       f32,
       128,
       128,
       64,
       128,
       {1000, 24, 500}},
  };
  for (const PrefillCase &c : gpu) {
    add(cases, "Gpu", kGpu, c, bf16, bf16, bf16, bf16);
    add(cases, "Gpu", kGpu, c, f32, bf16, bf16, bf16);
    if (c.heads < 16)
      add(cases, "Gpu", kGpu, c, f32, f32, f32, f32);
  }
  PrefillCase timed{"v3 one seq", f32, f32, f32, f32,
                    128,          128, 64,  128, {4096}};
  timed.timed = true;
  add(cases, "Gpu", kGpu, timed, bf16, bf16, bf16, bf16);
  timed.shape = "v3 4 seqs of 1024";
  timed.seqLens = {1024, 1024, 1024, 1024};
  add(cases, "Gpu", kGpu, timed, bf16, bf16, bf16, bf16);
}

} // namespace moela::cases
