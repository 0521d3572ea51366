//===- RouteCases.h - Routing cases and their host configuration --------===//
//
// The routing cases of the Route kernel tests (test/emu/KernelEmuTest on the
// emulator, test/gpu/OpsGpuTest on a GPU), the host reference's
// configuration for each, and the filter that keeps only tokens whose expert
// choice is decided by clear margins (so that float rounding cannot flip it).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_ROUTECASES_H
#define MOELA_TEST_ROUTECASES_H

#include "host/Kernels.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace moela::test {

struct RouteCase {
  std::string name;
  bool sigmoid;
  int method, experts, topK, groups, topkGroups;
  bool bias, norm;
  float scaling;
  int rows;
  int fusedDim = 0; // > 0: fused gate GEMV with x [T, D] and gate [E, D] bf16
};

inline host::RouteConfig hostConfig(const RouteCase &c) {
  host::RouteConfig cfg;
  cfg.scoring = c.sigmoid ? ScoringFunc::Sigmoid : ScoringFunc::Softmax;
  cfg.method = c.method == 0 ? TopkMethod::Greedy
                             : (c.method == 1 ? TopkMethod::GroupLimitedGreedy
                                              : TopkMethod::NoauxTc);
  cfg.experts = c.experts;
  cfg.topK = c.topK;
  cfg.groups = c.groups;
  cfg.topkGroups = c.topkGroups;
  cfg.normTopkProb = c.norm;
  cfg.scaling = c.scaling;
  return cfg;
}

/// Whether the selection of one token is decided by clear margins (relative
/// gaps > 1e-4 at every comparison that matters), computed in double from
/// the logits.
inline bool clearMargins(const RouteCase &c, const float *logits, const float *bias) {
  const int E = c.experts;
  std::vector<double> s(E), sb(E);
  double mx = -INFINITY, sum = 0;
  for (int e = 0; e < E; ++e)
    mx = std::max(mx, double(logits[e]));
  for (int e = 0; e < E; ++e) {
    s[e] = c.sigmoid ? 1 / (1 + std::exp(-double(logits[e]))) : std::exp(double(logits[e]) - mx);
    sum += s[e];
  }
  for (int e = 0; e < E; ++e) {
    if (!c.sigmoid)
      s[e] /= sum;
    sb[e] = s[e] + (bias ? bias[e] : 0.0);
  }
  const double tol = 1e-4 * (c.sigmoid ? 1.0 : 1.0 / E);
  std::vector<char> allowed(E, 1);
  if (c.method != 0 && c.groups > 1) {
    const int size = E / c.groups;
    std::vector<double> gs(c.groups);
    for (int g = 0; g < c.groups; ++g) {
      std::vector<double> v(sb.begin() + g * size, sb.begin() + (g + 1) * size);
      std::sort(v.rbegin(), v.rend());
      if (size > 1 && c.method == 2 && v.size() > 2 && v[1] - v[2] < tol)
        return false;
      if (size > 1 && v[0] - v[1] < tol)
        return false;
      gs[g] = c.method == 2 && size > 1 ? v[0] + v[1] : v[0];
    }
    std::vector<double> sorted = gs;
    std::sort(sorted.rbegin(), sorted.rend());
    if (c.topkGroups < c.groups && sorted[c.topkGroups - 1] - sorted[c.topkGroups] < tol)
      return false;
    const double cut = sorted[c.topkGroups - 1];
    for (int e = 0; e < E; ++e)
      allowed[e] = gs[e / size] >= cut;
  }
  std::vector<double> v;
  for (int e = 0; e < E; ++e)
    if (allowed[e])
      v.push_back(sb[e]);
  std::sort(v.rbegin(), v.rend());
  for (int k = 0; k + 1 < static_cast<int>(v.size()) && k <= c.topK; ++k)
    if (v[k] - v[k + 1] < tol)
      return false;
  return true;
}

} // namespace moela::test

#endif // MOELA_TEST_ROUTECASES_H
