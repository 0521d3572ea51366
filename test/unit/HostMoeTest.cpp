//===- HostMoeTest.cpp - Host backend: routing and the MoE step families --===//
#include "HostTestHarness.h"

#include <gtest/gtest.h>

#include <numeric>

namespace moela::test {
namespace {

using plan::RowKind;
using plan::StepParams;

/// A route of `topK` of `experts`; with `groups` > 1, only the best
/// `topkGroups` groups are kept.
struct RouteCase {
  RouteCase(plan::ScoringFunc scoring, plan::TopkMethod method, int experts,
            int topK, int groups = 1, int topkGroups = 1)
      : scoring(scoring), method(method), experts(experts), topK(topK),
        groups(groups), topkGroups(topkGroups) {}

  plan::ScoringFunc scoring;
  plan::TopkMethod method;
  int experts, topK, groups, topkGroups;
  bool norm = false;
  float scaling = 1.0f;
  bool fusedGate = false, bias = false;
};

ParamsFn routeParams(const RouteCase &c) {
  return [c](flatbuffers::FlatBufferBuilder &b) {
    return plan::CreateRouteParams(b, c.scoring, c.method, c.experts, c.topK,
                                   c.groups, c.topkGroups, c.norm, c.scaling,
                                   c.fusedGate, c.bias)
        .Union();
  };
}

/// docs/model.md §3.2 in double, written from it: idx in descending biased
/// score (ties to the lower index), weights from the unbiased scores.
void refRoute(const std::vector<double> &logits,
              const std::vector<double> &bias, const RouteCase &c,
              std::vector<int> &idx, std::vector<double> &w) {
  const int e = c.experts;
  std::vector<double> s(static_cast<size_t>(e)), sb(static_cast<size_t>(e));
  double max = *std::max_element(logits.begin(), logits.end()), sum = 0;
  for (int i = 0; i < e; ++i)
    sum += std::exp(logits[size_t(i)] - max);
  for (int i = 0; i < e; ++i) {
    s[size_t(i)] = c.scoring == plan::ScoringFunc::Sigmoid
                       ? 1 / (1 + std::exp(-logits[size_t(i)]))
                       : std::exp(logits[size_t(i)] - max) / sum;
    sb[size_t(i)] = s[size_t(i)] + (bias.empty() ? 0.0 : bias[size_t(i)]);
  }
  // Descending order of a key, ties to the lower index (a stable sort).
  auto order = [](const std::vector<double> &key) {
    std::vector<int> o(key.size());
    std::iota(o.begin(), o.end(), 0);
    std::stable_sort(o.begin(), o.end(), [&](int a, int b) {
      return key[size_t(a)] > key[size_t(b)];
    });
    return o;
  };
  std::vector<bool> kept(size_t(e), true);
  if (c.method != plan::TopkMethod::Greedy && c.groups > 1) {
    const int size = e / c.groups;
    std::vector<double> gscore;
    for (int g = 0; g < c.groups; ++g) {
      std::vector<double> members(sb.begin() + g * size,
                                  sb.begin() + (g + 1) * size);
      auto o = order(members);
      gscore.push_back(c.method == plan::TopkMethod::NoauxTc
                           ? members[size_t(o[0])] + members[size_t(o[1])]
                           : members[size_t(o[0])]);
    }
    auto go = order(gscore);
    for (int i = 0; i < e; ++i)
      kept[size_t(i)] = std::find(go.begin(), go.begin() + c.topkGroups,
                                  i / size) != go.begin() + c.topkGroups;
  }
  std::vector<double> key = sb;
  for (int i = 0; i < e; ++i)
    if (!kept[size_t(i)])
      key[size_t(i)] = -INFINITY;
  auto o = order(key);
  idx.assign(o.begin(), o.begin() + c.topK);
  w.clear();
  double total = 0;
  for (int i : idx)
    total += s[size_t(i)];
  for (int i : idx)
    w.push_back((c.norm && c.topK > 1 ? s[size_t(i)] / total : s[size_t(i)]) *
                c.scaling);
}

struct RouteBuffers {
  uint32_t idx, w;
};

/// Adds a Route step of `c` over `in` that writes buffers "idx<suffix>" and
/// "w<suffix>".
RouteBuffers addRoute(Harness &h, const std::string &suffix, const RouteCase &c,
                      uint32_t in, std::vector<uint32_t> weights = {}) {
  uint32_t idx =
      h.buffer("idx" + suffix, c.topK, RowKind::PerToken, 1, plan::DType::I32);
  uint32_t w = h.buffer("w" + suffix, c.topK);
  h.step({"route" + suffix,
          StepParams::RouteParams,
          routeParams(c),
          {h.op(in)},
          {h.op(idx), h.op(w)},
          std::move(weights)});
  return {idx, w};
}

/// Runs one Route step over the logits (or x and a gate) of `t` tokens and
/// compares idx exactly and w to 1e-6 with refRoute.
void checkRoute(const RouteCase &c, int t,
                std::vector<float> logitsTable = {}) {
  Harness h(t);
  const int d = 10;
  uint32_t in;
  std::vector<uint32_t> weights;
  if (c.fusedGate) {
    in = h.input("x", d);
    weights.push_back(h.weight("gate", {c.experts, d}, 0.8f));
  } else if (!logitsTable.empty()) {
    in = h.input("logits", c.experts, logitsTable);
  } else {
    in = h.input("logits", c.experts, 2.0f);
  }
  if (c.bias)
    weights.push_back(h.weight("bias", {c.experts}, 0.05f));
  addRoute(h, "", c, in, weights);
  h.prepare();
  h.runFirst(t);

  auto gotIdx = h.read("idx"), gotW = h.read("w");
  std::vector<double> bias;
  if (c.bias)
    bias = toDouble(h.weights.get("bias"));
  for (int i = 0; i < t; ++i) {
    std::vector<double> logits;
    if (c.fusedGate) {
      const auto &x = h.table("x"), &gate = h.weights.get("gate");
      for (int e = 0; e < c.experts; ++e) {
        double s = 0;
        for (int k = 0; k < d; ++k)
          s += double(x[size_t(i * d + k)]) * gate[size_t(e * d + k)];
        logits.push_back(s);
      }
    } else {
      const auto &table = h.table("logits");
      logits.assign(table.begin() + i * c.experts,
                    table.begin() + (i + 1) * c.experts);
    }
    std::vector<int> eIdx;
    std::vector<double> eW;
    refRoute(logits, bias, c, eIdx, eW);
    for (int k = 0; k < c.topK; ++k) {
      EXPECT_EQ(int(gotIdx[size_t(i * c.topK + k)]), eIdx[size_t(k)])
          << "token " << i << " slot " << k;
      EXPECT_NEAR(gotW[size_t(i * c.topK + k)], eW[size_t(k)], 1e-6)
          << "token " << i << " slot " << k;
    }
  }
}

// Tests DeepSeek-V3 routing: sigmoid, bias for selection only, group score =
// sum of the top 2, 2 of 4 groups kept, normalised, scaled by 2.5.
TEST(HostRoute, SigmoidNoauxTcGroups) {
  RouteCase c(plan::ScoringFunc::Sigmoid, plan::TopkMethod::NoauxTc, 16, 4, 4,
              2);
  c.norm = true;
  c.scaling = 2.5f;
  c.bias = true;
  checkRoute(c, 8);
}

// Tests DeepSeek-V2 routing: softmax over all experts, group score = max,
// one group of three kept, no normalisation.
TEST(HostRoute, SoftmaxGroupLimitedGreedy) {
  checkRoute(RouteCase(plan::ScoringFunc::Softmax,
                       plan::TopkMethod::GroupLimitedGreedy, 12, 3, 3, 1),
             8);
}

// Tests greedy softmax routing with the gate GEMM fused in, normalised.
TEST(HostRoute, SoftmaxGreedyFusedGate) {
  RouteCase c(plan::ScoringFunc::Softmax, plan::TopkMethod::Greedy, 8, 2);
  c.norm = true;
  c.scaling = 1.5f;
  c.fusedGate = true;
  checkRoute(c, 6);
}

// Tests the tie rule: equal scores go to the lower expert index, equal group
// scores to the lower group, and idx is in descending score order.
TEST(HostRoute, Ties) {
  Harness h(2);
  uint32_t logits = h.input("logits", 6,
                            std::vector<float>{1, 2, 2, 0, 2, 3, //
                                               0, 0, 0, 0, 0, 0});
  const RouteCase greedy(plan::ScoringFunc::Sigmoid, plan::TopkMethod::Greedy,
                         6, 3);
  addRoute(h, "", greedy, logits);
  // Groups of 2 scored by their top-2 sum: in token 0 groups 0 and 2 tie
  // (sigmoid(1) twice) above group 1 (sigmoid(2) + sigmoid(0)); with one group
  // kept, group 0 wins.
  uint32_t scores = h.input("scores", 6,
                            std::vector<float>{1, 1, 2, 0, 1, 1, //
                                               0, 5, 5, 0, 0, 0});
  const RouteCase grouped(plan::ScoringFunc::Sigmoid, plan::TopkMethod::NoauxTc,
                          6, 2, 3, 1);
  addRoute(h, "2", grouped, scores);
  h.prepare();
  h.runFirst(2);
  EXPECT_EQ(h.read("idx"), (std::vector<float>{5, 1, 2, 0, 1, 2}));
  // Token 0: group 0 = {0, 1}. Token 1: groups 0 and 1 both score 5; group 0
  // wins and its best expert is 1, then 0.
  EXPECT_EQ(h.read("idx2"), (std::vector<float>{0, 1, 1, 0}));
}

/// Expert e's tensors of an expert set as MapWeights holds them.
void randomExperts(Harness &h, const std::string &pattern, int experts,
                   std::vector<int64_t> shape, float scale) {
  for (int e = 0; e < experts; ++e) {
    std::string name = pattern;
    name.replace(name.find("{e}"), 3, std::to_string(e));
    h.weights.random(name, shape, h.rng, scale);
  }
}
std::string expertName(std::string pattern, int e) {
  return pattern.replace(pattern.find("{e}"), 3, std::to_string(e));
}

/// Adds a GroupedGemm step: `out` = `in` times each expert's `weight`, over
/// the rows that `offsets` gives that expert; with `siluMul`, silu(gate) * up.
void addGroupedGemm(Harness &h, const std::string &name, int experts,
                    bool siluMul, uint32_t in, uint32_t offsets, uint32_t out,
                    uint32_t weight) {
  h.step({name,
          StepParams::GroupedGemmParams,
          [=](auto &b) {
            return plan::CreateGroupedGemmParams(b, experts, siluMul).Union();
          },
          {h.op(in), h.op(offsets)},
          {h.op(out)},
          {weight}});
}

// Tests that MoeExperts + MoeCombine equals MoeDispatch + GroupedGemm
// (silu_mul) + GroupedGemm + MoeCombine(permuted), both with a shared expert
// and a residual (in place on the second path), and both equal a direct
// double computation.
TEST(HostMoe, ExpertsEqualDispatchGroupedCombine) {
  const int t = 7, d = 16, e = 8, k = 3, f = 6;
  Harness h(t);
  uint32_t x = h.input("x", d);
  uint32_t shared = h.input("shared", d);
  uint32_t r = h.input("r", d);
  uint32_t r2 = h.copyOf("r2", "r");
  uint32_t gate = h.weight("gate", {e, d}, 1.0f);
  randomExperts(h, "experts.{e}.gate_proj", e, {f, d}, 0.25f);
  randomExperts(h, "experts.{e}.up_proj", e, {f, d}, 0.25f);
  randomExperts(h, "experts.{e}.down_proj", e, {d, f}, 0.4f);
  uint32_t gateUp = h.plan.addWeight(
      {{"experts.{e}.gate_proj", {f, d}}, {"experts.{e}.up_proj", {f, d}}}, e);
  uint32_t down = h.plan.addWeight({{"experts.{e}.down_proj", {d, f}}}, e);

  RouteCase c(plan::ScoringFunc::Softmax, plan::TopkMethod::Greedy, e, k);
  c.norm = true;
  c.scaling = 2.0f;
  c.fusedGate = true;
  const RouteBuffers route = addRoute(h, "", c, x, {gate});
  const uint32_t idx = route.idx, w = route.w;

  // Path A: MoeExperts, then combine into a fresh buffer.
  uint32_t yA = h.buffer("yA", d, RowKind::PerToken, k);
  uint32_t outA = h.buffer("outA", d);
  h.step({"experts",
          StepParams::MoeExpertsParams,
          [=](auto &b) {
            return plan::CreateMoeExpertsParams(b, e, k, f).Union();
          },
          {h.op(x), h.op(idx)},
          {h.op(yA)},
          {gateUp, down}});
  h.step(
      {"combineA",
       StepParams::MoeCombineParams,
       [=](auto &b) {
         return plan::CreateMoeCombineParams(b, k, false, true, true).Union();
       },
       {h.op(yA), h.op(w), h.op(shared), h.op(r)},
       {h.op(outA)},
       {}});

  // Path B: dispatch, grouped GEMMs, permuted combine in place on r2.
  uint32_t xs = h.buffer("xs", d, RowKind::PerToken, k);
  uint32_t offsets =
      h.buffer("offsets", 1, RowKind::Fixed, e + 1, plan::DType::I32);
  uint32_t perm = h.buffer("perm", 1, RowKind::PerToken, k, plan::DType::I32);
  uint32_t hid = h.buffer("hid", f, RowKind::PerToken, k);
  uint32_t ys = h.buffer("ys", d, RowKind::PerToken, k);
  h.step(
      {"dispatch",
       StepParams::MoeDispatchParams,
       [=](auto &b) { return plan::CreateMoeDispatchParams(b, e, k).Union(); },
       {h.op(x), h.op(idx)},
       {h.op(xs), h.op(offsets), h.op(perm)},
       {}});
  addGroupedGemm(h, "gate_up", e, true, xs, offsets, hid, gateUp);
  addGroupedGemm(h, "down", e, false, hid, offsets, ys, down);
  h.step({"combineB",
          StepParams::MoeCombineParams,
          [=](auto &b) {
            return plan::CreateMoeCombineParams(b, k, true, true, true).Union();
          },
          {h.op(ys), h.op(w), h.op(perm), h.op(shared), h.op(r2)},
          {h.op(r2)},
          {}});
  h.prepare();
  h.runFirst(t);

  // Reference: routed experts from the backend's own idx and w (routing has
  // its own tests), everything else in double.
  auto gotIdx = h.read("idx"), gotW = h.read("w");
  std::vector<double> expected;
  const auto &xt = h.table("x");
  for (int i = 0; i < t; ++i) {
    std::vector<double> out(size_t(d), 0.0);
    for (int s = 0; s < k; ++s) {
      const int ex = int(gotIdx[size_t(i * k + s)]);
      const auto &g = h.weights.get(expertName("experts.{e}.gate_proj", ex));
      const auto &u = h.weights.get(expertName("experts.{e}.up_proj", ex));
      const auto &dn = h.weights.get(expertName("experts.{e}.down_proj", ex));
      std::vector<double> act(static_cast<size_t>(f));
      for (int j = 0; j < f; ++j) {
        double gs = 0, us = 0;
        for (int q = 0; q < d; ++q) {
          gs += double(g[size_t(j * d + q)]) * xt[size_t(i * d + q)];
          us += double(u[size_t(j * d + q)]) * xt[size_t(i * d + q)];
        }
        act[size_t(j)] = gs / (1 + std::exp(-gs)) * us;
      }
      for (int q = 0; q < d; ++q) {
        double y = 0;
        for (int j = 0; j < f; ++j)
          y += double(dn[size_t(q * f + j)]) * act[size_t(j)];
        out[size_t(q)] += gotW[size_t(i * k + s)] * y;
      }
    }
    for (int q = 0; q < d; ++q)
      expected.push_back(out[size_t(q)] + h.table("shared")[size_t(i * d + q)] +
                         h.table("r")[size_t(i * d + q)]);
  }
  expectClose(h.read("outA"), expected, 1e-5, "MoeExperts path vs double");
  expectClose(h.read("r2"), expected, 1e-5, "dispatch path vs double");
  expectClose(h.read("r2"), h.read("outA"), 1e-6,
              "dispatch path vs MoeExperts");

  // Dispatch: offsets count each expert's slots; perm lists slots by expert.
  auto off = h.read("offsets"), pm = h.read("perm");
  EXPECT_EQ(off.front(), 0);
  EXPECT_EQ(off.back(), t * k);
  for (int ex = 0; ex < e; ++ex)
    for (int i = int(off[size_t(ex)]); i < int(off[size_t(ex) + 1]); ++i) {
      EXPECT_EQ(int(gotIdx[size_t(pm[size_t(i)])]), ex);
      if (i > int(off[size_t(ex)])) {
        EXPECT_LT(pm[size_t(i) - 1], pm[size_t(i)]) << "stable within expert";
      }
    }
}

// Tests that an expert index outside [0, E) is an error, not a crash.
TEST(HostMoe, ExpertIndexOutOfRange) {
  Harness h(2);
  h.plan.config.vocabSize = 1;
  uint32_t x = h.input("x", 4);
  // idx comes from Argmax over a table whose largest column is 5 >= E = 4.
  uint32_t scores = h.input("scores", 6,
                            std::vector<float>{0, 0, 0, 0, 0, 9, //
                                               1, 0, 0, 0, 0, 0});
  uint32_t idx = h.buffer("idx", 1, RowKind::PerToken, 1, plan::DType::I32);
  h.step({"argmax",
          StepParams::ArgmaxParams,
          [](auto &b) { return plan::CreateArgmaxParams(b).Union(); },
          {h.op(scores)},
          {h.op(idx)},
          {}});
  uint32_t xs = h.buffer("xs", 4);
  uint32_t offsets =
      h.buffer("offsets", 1, RowKind::Fixed, 5, plan::DType::I32);
  uint32_t perm = h.buffer("perm", 1, RowKind::PerToken, 1, plan::DType::I32);
  h.step(
      {"dispatch",
       StepParams::MoeDispatchParams,
       [](auto &b) { return plan::CreateMoeDispatchParams(b, 4, 1).Union(); },
       {h.op(x), h.op(idx)},
       {h.op(xs), h.op(offsets), h.op(perm)},
       {}});
  h.prepare();
  try {
    h.runFirst(2);
    FAIL() << "expected an error";
  } catch (const Error &e) {
    EXPECT_STREQ(e.what(), "test.plan: program 'p' step 3 'dispatch' "
                           "(MoeDispatch): expert index 5 of token 0 out of "
                           "range [0, 4)");
  }
  EXPECT_NO_THROW(h.run({1}));
}

} // namespace
} // namespace moela::test
