//===- MoeCases.cpp - Dispatch, Combine, MoeExperts -----------------------===//
//
// The MoE steps around the expert GEMMs against host::moeDispatch /
// moeCombine / moeExperts: dispatch's offsets and permutation exactly and
// its sorted rows as bf16 copies, combine within 1e-6, the fused small-batch
// experts within 1e-4 (a slot with expert -1 gives a row of NaN). The GPU
// also times a DeepSeek-V3 prefill chunk's dispatch and combine.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Device.h"
#include "Families.h"
#include "Operands.h"

#include "kernels/OpsLaunch.h"

#include <cmath>
#include <cstdio>

namespace moela::cases {
namespace {

// ---- Dispatch ---------------------------------------------------------------

struct DispatchCase {
  int T, Kk, E, D;
  bool skew;
};

K::DispatchArgs dispatchArgs(const DispatchCase &c, const Tensor &x,
                             const Tensor &idx, const Tensor &sorted,
                             const Tensor &offsets, const Tensor &perm) {
  K::DispatchArgs a{};
  a.x = x.view();
  a.idx = idx.devAs<int>();
  a.idx_ld = c.Kk;
  a.sorted = sorted.view();
  a.offsets = offsets.devAs<int>();
  a.perm = perm.devAs<int>();
  a.counters = nullptr;
  a.rows = c.T;
  a.cols = c.D;
  a.experts = c.E;
  a.top_k = c.Kk;
  return a;
}

/// Launches every phase of `k`: OpsLaunch.h's `phases` and `geometry`.
template <typename Args>
void launchPhases(const Kernel &k, Args a, int (*phases)(const Args &),
                  K::Launch (*geometry)(const Args &, const K::Tile &)) {
  for (int phase = 0; phase < phases(a); ++phase) {
    a.phase = phase;
    launch(k, geometry(a, kTile), a);
  }
}

void launchDispatch(const K::DispatchArgs &a) {
  launchPhases(dispatchKernel(Ty::BF16), a, K::dispatchLaunches,
               K::launchDispatch);
}

void runDispatch(Report &r, const std::string &what, const DispatchCase &c) {
  Rng rng(what);
  const int N = c.T * c.Kk;
  const std::vector<int32_t> idxV = randomIdx(rng, c.T, c.Kk, c.E, c.skew);
  Tensor x(Ty::F32, c.T, c.D), idx = fromInts(idxV, c.T, c.Kk);
  x.fillUniform(rng, -1, 1);
  const std::vector<float> xv = x.floats();
  std::vector<float> sortedRef(size_t(N) * c.D);
  std::vector<int32_t> offRef(size_t(c.E + 1)), permRef(static_cast<size_t>(N));
  H::moeDispatch(cmat(xv, c.T, c.D), cimat(idxV, c.T, c.Kk), c.E,
                 mat(sortedRef, N, c.D), imat(offRef, c.E + 1, 1),
                 imat(permRef, N, 1));
  for (float &v : sortedRef)
    v = roundTo(Ty::BF16, v);
  Tensor sorted(Ty::BF16, N, c.D), offsets(Ty::I32, c.E + 1, 1),
      perm(Ty::I32, N, 1);
  launchDispatch(dispatchArgs(c, x, idx, sorted, offsets, perm));
  r.equal(what + " offsets", offsets.ints(), offRef);
  r.equal(what + " perm", perm.ints(), permRef);
  r.equal(what + " sorted rows", sorted.floats(), sortedRef);
}

// ---- Combine ----------------------------------------------------------------

struct CombineCase {
  int T, Kk, D;
  bool perm, shared, residual, inPlace;
  int experts; // of the routing behind perm
};

K::CombineArgs combineArgs(const CombineCase &c, const Tensor &y,
                           const Tensor &w, const Tensor &shared,
                           const Tensor &resid, const Tensor &out,
                           const Tensor &perm, const Tensor &inverse) {
  K::CombineArgs a{};
  a.y = y.view();
  a.w = w.view();
  if (c.shared)
    a.shared = shared.view();
  if (c.residual)
    a.residual = resid.view();
  a.out = c.inPlace ? resid.view() : out.view();
  a.perm = c.perm ? perm.devAs<int>() : nullptr;
  a.inverse = inverse.devAs<int>();
  a.rows = c.T;
  a.cols = c.D;
  a.top_k = c.Kk;
  return a;
}

void launchCombine(const K::CombineArgs &a) {
  launchPhases(combineKernel(), a, K::combineLaunches, K::launchCombine);
}

void runCombine(Report &r, const std::string &what, const CombineCase &c) {
  Rng rng(what);
  const int N = c.T * c.Kk;
  const std::vector<int32_t> idx = randomIdx(rng, c.T, c.Kk, c.experts, false);
  Tensor y(Ty::F32, N, c.D), w(Ty::F32, c.T, c.Kk), shared(Ty::F32, c.T, c.D),
      resid(Ty::F32, c.T, c.D), out(Ty::F32, c.T, c.D), inverse(Ty::I32, N, 1);
  y.fillUniform(rng, -1, 1);
  w.fillUniform(rng, 0, 1);
  shared.fillUniform(rng, -1, 1);
  resid.fillUniform(rng, -1, 1);
  const std::vector<int32_t> permV =
      c.perm ? dispatchPermutation(idx, c.T, c.Kk, c.experts)
             : std::vector<int32_t>(size_t(N));
  Tensor perm = fromInts(permV, N, 1);
  const std::vector<float> yv = y.floats(), wv = w.floats(),
                           sv = shared.floats(), rv = resid.floats();
  std::vector<float> ref(size_t(c.T) * c.D);
  H::CIMat pm = cimat(permV, N, 1);
  H::CMat sm = cmat(sv, c.T, c.D), rm = cmat(rv, c.T, c.D);
  H::moeCombine(cmat(yv, N, c.D), cmat(wv, c.T, c.Kk), c.perm ? &pm : nullptr,
                c.shared ? &sm : nullptr, c.residual ? &rm : nullptr, c.Kk,
                mat(ref, c.T, c.D));
  launchCombine(combineArgs(c, y, w, shared, resid, out, perm, inverse));
  r.near(what, c.inPlace ? resid : out, ref, 1e-6);
}

/// Dispatch and combine of a DeepSeek-V3 prefill chunk (timing only).
void timeDispatchCombine() {
  if (!device().timed())
    return;
  const int T = 4096, D = 7168, Kk = 8, E = 256;
  Rng rng("time dispatch combine");
  const std::vector<int32_t> idxV = randomIdx(rng, T, Kk, E, false);
  Tensor idx = fromInts(idxV, T, Kk);
  {
    const DispatchCase c{T, Kk, E, D, false};
    Tensor x(Ty::F32, T, D), sorted(Ty::BF16, int64_t(T) * Kk, D),
        offsets(Ty::I32, E + 1, 1), perm(Ty::I32, int64_t(T) * Kk, 1);
    x.fillUniform(rng, -1, 1);
    const K::DispatchArgs a = dispatchArgs(c, x, idx, sorted, offsets, perm);
    timeBandwidth("dispatch T=4096 K=8 D=7168 -> bf16",
                  double(T) * D * 4 + double(T) * Kk * D * 2,
                  [&] { launchDispatch(a); });
  }
  const CombineCase c{T, Kk, D, true, true, true, true, E};
  Tensor y(Ty::F32, int64_t(T) * Kk, D), w(Ty::F32, T, Kk),
      shared(Ty::F32, T, D), resid(Ty::F32, T, D),
      inverse(Ty::I32, int64_t(T) * Kk, 1);
  Tensor perm =
      fromInts(dispatchPermutation(idxV, T, Kk, E), int64_t(T) * Kk, 1);
  for (Tensor *t : {&y, &w, &shared, &resid})
    t->fillUniform(rng, -1, 1);
  const K::CombineArgs a =
      combineArgs(c, y, w, shared, resid, resid, perm, inverse);
  timeBandwidth("combine T=4096 K=8 D=7168 perm+shared+residual",
                double(T) * Kk * D * 4 + double(T) * D * 4 * 3,
                [&] { launchCombine(a); });
}

// ---- MoeExperts -------------------------------------------------------------

struct ExpertsCase {
  Ty w;
  int T, Kk, E, D, F;
  int first = 0, held = 0; // expert parallelism: the kernel holds experts
                           // [first, first + held); 0 = all of them
};

/// One of gate [F, D], up [F, D], down [D, F] for every expert: bf16, or FP8
/// codes with block scales; the values the kernel multiplies by in `ref`.
struct ExpertWeight {
  Tensor data;
  Fp8Weight fp8;
  std::vector<float> ref; // [E][rows, cols]
  int rows = 0, cols = 0;

  K::Weight weight(Ty ty) const {
    if (ty == Ty::F8)
      return K::Weight{fp8.codes.dev(),
                       fp8.scales.devAs<float>(),
                       rows,
                       cols,
                       int(fp8.scaleLd),
                       int64_t(rows) * cols,
                       fp8.scaleExpertStride};
    return plainWeight(data, rows, cols, int64_t(rows) * cols);
  }
};

ExpertWeight expertWeight(Rng &rng, Ty ty, int experts, int rows, int cols) {
  ExpertWeight m;
  m.rows = rows;
  m.cols = cols;
  const float range = 1.5f / std::sqrt(float(cols));
  m.ref.resize(size_t(experts) * rows * cols);
  if (ty == Ty::F8) {
    m.fp8 = randomFp8Weight(rng, experts, rows, cols);
    m.fp8.scaleBy(range);
    for (int e = 0; e < experts; ++e)
      for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c)
          m.ref[(size_t(e) * rows + r) * cols + c] = m.fp8.value(e, r, c);
  } else {
    m.data = Tensor(ty, int64_t(experts) * rows, cols);
    m.data.fillUniform(rng, -range, range);
    m.ref = m.data.floats();
  }
  return m;
}

void runMoeExperts(Report &r, const std::string &what, const ExpertsCase &c) {
  Rng rng(what);
  const int N = c.T * c.Kk, E = c.E, D = c.D, F = c.F;
  std::vector<int32_t> idxV = randomIdx(rng, c.T, c.Kk, E, false);
  idxV[1] = -1; // writes a row of NaN
  if (c.held) { // at least one slot on this rank's experts, one elsewhere
    idxV[0] = c.first;
    idxV[2] = (c.first + c.held) % E;
  }
  Tensor x(Ty::F32, c.T, D), idx = fromInts(idxV, c.T, c.Kk), y(Ty::F32, N, D);
  x.fillUniform(rng, -1, 1);
  const ExpertWeight gate = expertWeight(rng, c.w, E, F, D),
                     up = expertWeight(rng, c.w, E, F, D),
                     down = expertWeight(rng, c.w, E, D, F);
  // Reference: every slot with a valid expert (host::moeExperts rejects -1).
  std::vector<int32_t> idxValid = idxV;
  idxValid[1] = 0;
  std::vector<std::vector<float>> gu(static_cast<size_t>(E));
  std::vector<H::Weight> gateUp, downW;
  const size_t fd = size_t(F) * D;
  for (int e = 0; e < E; ++e) {
    gu[size_t(e)].assign(gate.ref.begin() + e * fd,
                         gate.ref.begin() + (e + 1) * fd);
    gu[size_t(e)].insert(gu[size_t(e)].end(), up.ref.begin() + e * fd,
                         up.ref.begin() + (e + 1) * fd);
    gateUp.push_back(H::Weight{gu[size_t(e)].data(), 2 * F, D});
    downW.push_back(H::Weight{down.ref.data() + e * fd, D, F});
  }
  const std::vector<float> xv = x.floats();
  std::vector<float> ref(size_t(N) * D), scratch;
  H::moeExperts(cmat(xv, c.T, D), cimat(idxValid, c.T, c.Kk), gateUp, downW,
                mat(ref, N, D), scratch);
  for (int col = 0; col < D; ++col)
    ref[size_t(1) * D + col] = NAN;
  // Expert parallelism: slots routed to another rank's experts are zero.
  const int held = c.held ? c.held : E;
  for (int s = 0; s < N; ++s)
    if (idxV[size_t(s)] >= 0 &&
        (idxV[size_t(s)] < c.first || idxV[size_t(s)] >= c.first + held))
      std::fill_n(ref.begin() + size_t(s) * D, D, 0.0f);
  // The rank's experts: the weights from expert `first` on.
  const size_t elementBytes = c.w == Ty::F8 ? 1 : 2;
  auto rankPart = [&](K::Weight w) {
    w.data = static_cast<const char *>(w.data) +
             size_t(c.first) * size_t(w.expert_stride) * elementBytes;
    if (w.scales)
      w.scales += size_t(c.first) * size_t(w.scale_expert_stride);
    return w;
  };

  K::MoeExpertsArgs a{};
  a.x = x.view();
  a.idx = idx.devAs<int>();
  a.idx_ld = c.Kk;
  a.gate = rankPart(gate.weight(c.w));
  a.up = rankPart(up.weight(c.w));
  a.down = rankPart(down.weight(c.w));
  a.first_expert = c.first;
  a.experts = held;
  a.global_experts = E;
  a.y = y.view();
  a.workspace = nullptr;
  a.rows = c.T;
  a.top_k = c.Kk;
  a.hidden = D;
  a.intermediate = F;
  launch(moeExpertsKernel(c.w), K::launchMoeExperts(a, kTile), a);
  r.near(what, y, ref, 1e-4);
}

} // namespace

void addMoeCases(Cases &cases) {
  struct Disp {
    unsigned suites;
    DispatchCase c;
  };
  for (const Disp &d :
       {Disp{kEmuAndGpu, {5, 2, 8, 64, false}},
        Disp{kEmu, {70, 3, 16, 96, true}},
        Disp{kEmu, {400, 3, 12, 32, false}}, // 1200 slots: two chunks of 1024
        Disp{kEmuAndGpu, {33, 6, 160, 128, true}}, // more experts than lanes
        Disp{kGpu, {64, 8, 256, 7168, false}},
        Disp{kGpu, {4096, 8, 256, 64, false}},
        Disp{kGpu, {3000, 8, 256, 32, true}}}) {
    const DispatchCase c = d.c;
    const std::string name =
        "dispatch<f32, bf16> T=" + std::to_string(c.T) +
        " K=" + std::to_string(c.Kk) + " E=" + std::to_string(c.E) +
        " D=" + std::to_string(c.D) + (c.skew ? " skewed" : "");
    addCase(cases, "Ops.Dispatch", name, d.suites, dispatchKernel(Ty::BF16),
            [=](Report &r) { runDispatch(r, name, c); });
  }

  struct Comb {
    unsigned suites;
    CombineCase c;
  };
  for (const Comb &m :
       {Comb{kEmuAndGpu, {5, 2, 64, false, false, false, false, 16}},
        Comb{kEmu, {70, 3, 96, true, true, true, true, 16}},
        Comb{kEmu, {9, 2, 300, true, false, true, false, 16}},
        Comb{kEmuAndGpu, {7, 3, 96, false, true, false, false, 16}},
        Comb{kGpu, {64, 8, 7168, true, true, true, true, 32}},
        Comb{kGpu, {300, 6, 256, true, false, true, false, 32}}}) {
    const CombineCase c = m.c;
    const std::string name =
        "combine<f32, f32, f32, f32> T=" + std::to_string(c.T) +
        " K=" + std::to_string(c.Kk) + " D=" + std::to_string(c.D) +
        (c.perm ? " perm of E=" + std::to_string(c.experts) : "") +
        (c.shared ? " +shared" : "") + (c.residual ? " +residual" : "") +
        (c.inPlace ? " in-place" : "");
    addCase(cases, "Ops.Combine", name, m.suites, combineKernel(),
            [=](Report &r) { runCombine(r, name, c); });
  }
  cases.push_back({"Ops.Combine",
                   "time dispatch and combine",
                   kGpu,
                   true,
                   {dispatchKernel(Ty::BF16), combineKernel()},
                   [](Report &) { timeDispatchCombine(); }});

  struct Exp {
    unsigned suites;
    const char *shape;
    ExpertsCase c;
  };
  for (const Exp &x :
       {Exp{kEmuAndGpu, "tiny", {Ty::BF16, 5, 2, 8, 64, 32}},
        Exp{kEmuAndGpu,
            "tiny, experts 4..5 of 8",
            {Ty::BF16, 5, 2, 8, 64, 32, 4, 2}},
        Exp{kEmuAndGpu,
            "tiny-v3-fp8 (partial 128-blocks)",
            {Ty::F8, 5, 2, 8, 192, 96}},
        Exp{kEmu,
            "tiny-v3-fp8, experts 2..4 of 8",
            {Ty::F8, 5, 2, 8, 192, 96, 2, 3}},
        Exp{kGpu, "v3-sized subset", {Ty::F8, 2, 8, 8, 7168, 256}}}) {
    const ExpertsCase c = x.c;
    const std::string name =
        std::string("moeExperts<f32, f32, ") + tyName(c.w) + "> " + x.shape +
        " T=" + std::to_string(c.T) + " K=" + std::to_string(c.Kk) +
        " E=" + std::to_string(c.E) + " D=" + std::to_string(c.D) +
        " F=" + std::to_string(c.F);
    addCase(cases, "Ops.MoeExperts", name, x.suites, moeExpertsKernel(c.w),
            [=](Report &r) { runMoeExperts(r, name, c); });
  }
}

} // namespace moela::cases
