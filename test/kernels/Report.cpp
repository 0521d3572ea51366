//===- Report.cpp - Comparisons of outputs with their references ----------===//
#include "Report.h"

#include <cmath>
#include <cstdio>

namespace moela::cases {

void ErrorStats::add(double o, double e, int64_t r, int64_t c) {
  ++count;
  if (std::isfinite(e) != std::isfinite(o) ||
      (!std::isfinite(e) && std::isnan(e) != std::isnan(o))) {
    if (!bad++)
      firstBad = "(" + std::to_string(r) + ", " + std::to_string(c) +
                 ") = " + std::to_string(o) + ", expected " + std::to_string(e);
    return;
  }
  if (!std::isfinite(e))
    return;
  err2 += (o - e) * (o - e);
  ref2 += e * e;
  maxAbs = std::max(maxAbs, std::fabs(o - e));
}

double ErrorStats::rel() const {
  return ref2 > 0 ? std::sqrt(err2 / ref2) : std::sqrt(err2);
}

bool ErrorStats::within(double bound) const {
  return bad == 0 && rel() <= bound && (ref2 > 0 || count == 0);
}

std::string ErrorStats::text(double bound) const {
  char buf[200];
  std::snprintf(
      buf, sizeof buf,
      "rel %.3g (bound %.0e), max |diff| %.3g, %lld non-finite mismatches",
      rel(), bound, maxAbs, (long long)bad);
  return std::string(buf) + (bad ? ", first at " + firstBad : "");
}

ErrorStats compare(const Tensor &out, const std::vector<float> &ref) {
  ErrorStats s;
  for (int64_t r = 0; r < out.rows(); ++r)
    for (int64_t c = 0; c < out.cols(); ++c)
      s.add(out.get(r, c), ref[size_t(r * out.cols() + c)], r, c);
  return s;
}

bool Report::untouchedOutside(
    const std::string &what, const Tensor &t,
    const std::function<bool(int64_t, int64_t)> &mustWrite) {
  if (!t.guardsIntact())
    return expect(what + " untouched", false,
                  "a guard band next to the buffer was written");
  for (int64_t r = 0; r < t.rows(); ++r)
    for (int64_t c = 0; c < t.ld(); ++c) {
      if (mustWrite(r, c))
        continue;
      const bool poison = t.ty() == Ty::I32 ? t.geti(r, c) == 0x7fffffff
                                            : std::isnan(t.get(r, c));
      if (!poison)
        return expect(
            what + " untouched", false,
            "element (" + std::to_string(r) + ", " + std::to_string(c) +
                ") must not be written: " + std::to_string(t.get(r, c)));
    }
  return expect(what + " untouched", true, "nothing written outside");
}

} // namespace moela::cases
