//===- Cases.cpp - The kernel-case table ----------------------------------===//
#include "Cases.h"

#include <map>
#include <set>
#include <stdexcept>

namespace moela::cases {

void addCase(Cases &cases, const std::string &test, const std::string &name,
             unsigned suites, const Kernel &k,
             std::function<void(Report &)> run, bool large) {
  cases.push_back({test, name, suites, large, {k}, std::move(run)});
}

Cases allCases() {
  Cases c;
  addNormCases(c);
  addCacheCases(c);
  addLatentCases(c);
  addPrefillCases(c);
  addRouteCases(c);
  addMoeCases(c);
  addGemmCases(c);
  addWgmmaCases(c);
  addGroupedCases(c);
  addHeadGemmCases(c);
  std::set<std::string> names;
  for (const Case &x : c)
    if (!names.insert(x.name).second)
      throw std::logic_error("two kernel cases named '" + x.name + "'");
  return c;
}

std::vector<Kernel> compileKernels() {
  std::map<std::string, Kernel> byName;
  for (const Case &c : allCases())
    for (const Kernel &k : c.kernels)
      byName.emplace(k.name(), k);
  for (const Kernel &k : compileOnlyKernels())
    byName.emplace(k.name(), k);
  std::vector<Kernel> v;
  for (auto &[name, k] : byName)
    v.push_back(k);
  return v;
}

} // namespace moela::cases
