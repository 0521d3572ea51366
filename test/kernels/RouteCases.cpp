//===- RouteCases.cpp - Route (the MoE gate's expert choice) --------------===//
//
// Every routing method of docs/model.md §3.2 against host::route. Logits are
// built with clear margins (selection scores on a jittered ladder, redrawn
// until the group scores are clear too) so that float rounding cannot flip
// a choice: indices must be equal and weights within 1e-5. With the fused
// gate the logits come from a GEMV in another order: only the tokens whose
// margins stay clear are compared (at least half), weights within 1e-4.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Device.h"
#include "Families.h"
#include "Operands.h"

#include "kernels/OpsLaunch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace moela::cases {
namespace {

struct RouteCase {
  std::string shape;
  bool sigmoid;
  int method, experts, topK, groups,
      topkGroups; // method: 0 greedy, 1 group-limited, 2 noaux_tc
  bool bias, norm;
  float scaling;
  int rows;
  int fusedDim = 0; // > 0: fused gate GEMV of x [T, D] and a bf16 gate [E, D]
  float gateRange = 0.1f;
  Ty gate = Ty::F32; // the kernel's gate type (unused without the fused gate)
};

H::RouteConfig hostConfig(const RouteCase &c) {
  H::RouteConfig cfg;
  cfg.scoring = c.sigmoid ? ScoringFunc::Sigmoid : ScoringFunc::Softmax;
  cfg.method = c.method == 0   ? TopkMethod::Greedy
               : c.method == 1 ? TopkMethod::GroupLimitedGreedy
                               : TopkMethod::NoauxTc;
  cfg.experts = c.experts;
  cfg.topK = c.topK;
  cfg.groups = c.groups;
  cfg.topkGroups = c.topkGroups;
  cfg.normTopkProb = c.norm;
  cfg.scaling = c.scaling;
  return cfg;
}

/// Whether one token's selection is decided by clear margins (relative
/// gaps > 1e-4 at every comparison that matters), in double from the logits.
bool clearMargins(const RouteCase &c, const float *logits, const float *bias) {
  const int E = c.experts;
  std::vector<double> s(static_cast<size_t>(E)), sb(static_cast<size_t>(E));
  double mx = -INFINITY, sum = 0;
  for (int e = 0; e < E; ++e)
    mx = std::max(mx, double(logits[e]));
  for (int e = 0; e < E; ++e) {
    s[size_t(e)] = c.sigmoid ? 1 / (1 + std::exp(-double(logits[e])))
                             : std::exp(double(logits[e]) - mx);
    sum += s[size_t(e)];
  }
  for (int e = 0; e < E; ++e) {
    if (!c.sigmoid)
      s[size_t(e)] /= sum;
    sb[size_t(e)] = s[size_t(e)] + (bias ? bias[e] : 0.0);
  }
  const double tol = 1e-4 * (c.sigmoid ? 1.0 : 1.0 / E);
  std::vector<char> allowed(static_cast<size_t>(E), 1);
  if (c.method != 0 && c.groups > 1) {
    const int size = E / c.groups;
    std::vector<double> gs(static_cast<size_t>(c.groups));
    for (int g = 0; g < c.groups; ++g) {
      std::vector<double> v(sb.begin() + g * size, sb.begin() + (g + 1) * size);
      std::sort(v.rbegin(), v.rend());
      if (size > 1 && c.method == 2 && v.size() > 2 && v[1] - v[2] < tol)
        return false;
      if (size > 1 && v[0] - v[1] < tol)
        return false;
      gs[size_t(g)] = c.method == 2 && size > 1 ? v[0] + v[1] : v[0];
    }
    std::vector<double> sorted = gs;
    std::sort(sorted.rbegin(), sorted.rend());
    if (c.topkGroups < c.groups &&
        sorted[size_t(c.topkGroups - 1)] - sorted[size_t(c.topkGroups)] < tol)
      return false;
    const double cut = sorted[size_t(c.topkGroups - 1)];
    for (int e = 0; e < E; ++e)
      allowed[size_t(e)] = gs[size_t(e / size)] >= cut;
  }
  std::vector<double> v;
  for (int e = 0; e < E; ++e)
    if (allowed[size_t(e)])
      v.push_back(sb[size_t(e)]);
  std::sort(v.rbegin(), v.rend());
  for (int k = 0; k + 1 < int(v.size()) && k <= c.topK; ++k)
    if (v[size_t(k)] - v[size_t(k + 1)] < tol)
      return false;
  return true;
}

/// Logits [T, E] inverted from selection scores on a jittered ladder (gaps
/// >= 0.45 / E), redrawn until every margin is clear.
std::vector<float> clearLogits(Rng &rng, const RouteCase &c,
                               const std::vector<float> &bias) {
  const int T = c.rows, E = c.experts;
  std::vector<float> logits(size_t(T) * E);
  for (int t = 0; t < T; ++t) {
    float *lt = logits.data() + size_t(t) * E;
    for (int attempt = 0; attempt < 1000; ++attempt) {
      std::vector<int> rank(static_cast<size_t>(E));
      std::iota(rank.begin(), rank.end(), 0);
      std::shuffle(rank.begin(), rank.end(), rng.engine());
      for (int e = 0; e < E; ++e) {
        const double sb =
            0.05 + 0.9 * (rank[size_t(e)] + 0.5 * rng.uniform(0, 1)) / E;
        if (c.sigmoid) {
          const double s = sb - (c.bias ? bias[size_t(e)] : 0.0);
          lt[e] = float(std::log(s / (1 - s)));
        } else {
          lt[e] = float(std::log(sb) + 1.0);
        }
      }
      if (clearMargins(c, lt, c.bias ? bias.data() : nullptr))
        break;
    }
  }
  return logits;
}

K::RouteArgs routeArgs(const RouteCase &c, const Tensor &in, const Tensor &gate,
                       const Tensor &bias, const Tensor &idx, int idxLd,
                       const Tensor &w) {
  K::RouteArgs a{};
  a.input = in.view();
  a.gate = K::Weight{c.fusedDim ? gate.dev() : nullptr,
                     nullptr,
                     c.experts,
                     c.fusedDim,
                     0,
                     0,
                     0};
  a.bias = c.bias ? bias.devAs<float>() : nullptr;
  a.idx = idx.devAs<int>();
  a.idx_ld = idxLd;
  a.w = w.view();
  a.rows = c.rows;
  a.dim = c.fusedDim;
  a.experts = c.experts;
  a.top_k = c.topK;
  a.groups = c.groups;
  a.topk_groups = c.topkGroups;
  a.sigmoid = c.sigmoid;
  a.method = c.method;
  a.norm_topk_prob = c.norm;
  a.fused_gate = c.fusedDim > 0;
  a.scaling = c.scaling;
  return a;
}

void runRoute(Report &r, const std::string &what, const RouteCase &c) {
  Rng rng(what);
  const int T = c.rows, E = c.experts;
  Tensor bias(Ty::F32, 1, E);
  bias.fillUniform(rng, -0.02f, 0.02f);
  const std::vector<float> bv = bias.floats();
  std::vector<float> logits(size_t(T) * E);
  Tensor in, gate;
  if (c.fusedDim) {
    in = Tensor(Ty::F32, T, c.fusedDim);
    in.fillUniform(rng, -1, 1);
    gate = Tensor(Ty::BF16, E, c.fusedDim);
    gate.fillUniform(rng, -c.gateRange, c.gateRange);
    const std::vector<float> xv = in.floats(), gv = gate.floats();
    H::gemm(cmat(xv, T, c.fusedDim), H::Weight{gv.data(), E, c.fusedDim},
            mat(logits, T, E));
  } else {
    logits = clearLogits(rng, c, bv);
    in = fromFloats(Ty::F32, logits, T, E);
  }
  std::vector<char> clear(static_cast<size_t>(T));
  int clearCount = 0;
  for (int t = 0; t < T; ++t)
    clearCount += clear[size_t(t)] = clearMargins(
        c, logits.data() + size_t(t) * E, c.bias ? bv.data() : nullptr);
  std::vector<int32_t> idxRef(size_t(T) * c.topK);
  std::vector<float> wRef(size_t(T) * c.topK);
  H::route(cmat(logits, T, E), c.bias ? bv.data() : nullptr, hostConfig(c),
           imat(idxRef, T, c.topK), mat(wRef, T, c.topK));

  Tensor idx(Ty::I32, T, c.topK + 1), w(Ty::F32, T, c.topK); // idx_ld = K + 1
  const K::RouteArgs a = routeArgs(c, in, gate, bias, idx, c.topK + 1, w);
  launch(routeKernel(c.gate), K::launchRoute(a, kTile), a);

  std::vector<int32_t> gotI, refI;
  std::vector<float> gotW, refW;
  for (int t = 0; t < T; ++t)
    if (clear[size_t(t)])
      for (int k = 0; k < c.topK; ++k) {
        gotI.push_back(idx.geti(t, k));
        refI.push_back(idxRef[size_t(t) * c.topK + k]);
        gotW.push_back(w.get(t, k));
        refW.push_back(wRef[size_t(t) * c.topK + k]);
      }
  r.expect(what + " tokens compared",
           c.fusedDim ? clearCount >= T / 2 : clearCount == T,
           std::to_string(clearCount) + " of " + std::to_string(T) +
               " with clear margins");
  r.equal(what + " idx", gotI, refI);
  r.near(what + " w", fromFloats(Ty::F32, gotW, 1, int64_t(gotW.size())), refW,
         c.fusedDim ? 1e-4 : 1e-5);
  r.untouchedOutside(what + " idx", idx,
                     [&](int64_t, int64_t k) { return k < c.topK; });
}

/// The fused router of a DeepSeek-V3 decode batch (timing only): the gate
/// is read once ideally.
void timeRoute() {
  if (!device().timed())
    return;
  const int T = 64, D = 7168, E = 256, Kk = 8;
  const RouteCase c{"",   true, 2,    E, Kk, 8,     4,
                    true, true, 2.5f, T, D,  0.03f, Ty::BF16};
  Rng rng("time route");
  Tensor x(Ty::F32, T, D), gate(Ty::BF16, E, D), bias(Ty::F32, 1, E),
      idx(Ty::I32, T, Kk), w(Ty::F32, T, Kk);
  x.fillUniform(rng, -1, 1);
  gate.fillUniform(rng, -0.03f, 0.03f);
  bias.fillUniform(rng, -0.02f, 0.02f);
  const K::RouteArgs a = routeArgs(c, x, gate, bias, idx, Kk, w);
  timeBandwidth("route fused gate T=64 E=256 D=7168",
                double(E) * D * 2 + double(T) * D * 4, [&] {
                  launch(routeKernel(Ty::BF16), K::launchRoute(a, kTile), a);
                });
}

} // namespace

void addRouteCases(Cases &cases) {
  const Ty bf16 = Ty::BF16;
  struct Rt {
    unsigned suites;
    RouteCase c;
  };
  for (const Rt &t : {
           Rt{kEmu,
              {"tiny sigmoid noaux_tc E8 K2 G4/2", true, 2, 8, 2, 4, 2, true,
               true, 2.5f, 13}},
           Rt{kEmu,
              {"tiny-v3-fp8 sigmoid noaux_tc E8 K2 G2/1", true, 2, 8, 2, 2, 1,
               true, true, 2.5f, 6}},
           Rt{kEmu,
              {"tiny-v2 softmax group_limited E16 K3 G4/2", false, 1, 16, 3, 4,
               2, false, false, 4.0f, 9}},
           Rt{kEmu,
              {"tiny-v2-lite softmax greedy E12 K3", false, 0, 12, 3, 1, 1,
               false, false, 1.0f, 17}},
           Rt{kEmu,
              {"v2-lite softmax greedy E64 K6", false, 0, 64, 6, 1, 1, false,
               false, 1.0f, 9}},
           Rt{kEmu,
              {"v3 sigmoid noaux_tc E256 K8 G8/4", true, 2, 256, 8, 8, 4, true,
               true, 2.5f, 10}},
           Rt{kEmu,
              {"tiny fused gate D64", true, 2, 8, 2, 4, 2, true, true, 2.5f, 8,
               64, 0.1f, bf16}},
           // The GPU's: the kernel with a bf16 gate throughout, V3 sizes.
           Rt{kGpu,
              {"v3 noaux_tc E256 K8 G8/4 T64", true, 2, 256, 8, 8, 4, true,
               true, 2.5f, 64, 0, 0.1f, bf16}},
           Rt{kGpu,
              {"v3 fused gate D7168", true, 2, 256, 8, 8, 4, true, true, 2.5f,
               16, 7168, 0.03f, bf16}},
           Rt{kGpu,
              {"v2 group_limited E160 K6 G8/3", false, 1, 160, 6, 8, 3, false,
               false, 16.0f, 64, 0, 0.1f, bf16}},
           Rt{kGpu,
              {"v2-lite greedy E64 K6 T33", false, 0, 64, 6, 1, 1, false, false,
               1.0f, 33, 0, 0.1f, bf16}},
           Rt{kGpu,
              {"tiny noaux_tc E8 K2 G4/2 T5", true, 2, 8, 2, 4, 2, true, true,
               2.5f, 5, 0, 0.1f, bf16}},
           Rt{kGpu,
              {"tiny-v2 group_limited E16 K3 G4/2", false, 1, 16, 3, 4, 2,
               false, false, 4.0f, 9, 0, 0.1f, bf16}},
           Rt{kGpu,
              {"tiny-v3-fp8 noaux_tc E8 K2 G2/1", true, 2, 8, 2, 2, 1, true,
               true, 2.5f, 6, 0, 0.1f, bf16}},
       }) {
    const std::string name =
        std::string("route<f32, ") + tyName(t.c.gate) + "> " + t.c.shape;
    const RouteCase c = t.c;
    addCase(cases, "Ops.Route", name, t.suites, routeKernel(c.gate),
            [=](Report &r) { runRoute(r, name, c); });
  }
  addCase(
      cases, "Ops.Route", "time route", kGpu, routeKernel(bf16),
      [](Report &) { timeRoute(); }, true);
}

} // namespace moela::cases
