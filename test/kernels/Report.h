//===- Report.h - The checks of a case and where their results go --------===//
//
// Cases check through a Report: the emulator's runner turns each check into
// a GoogleTest expectation, the GPU's into a PASS / FAIL line. Outputs are
// compared by ||out - ref|| / ||ref|| against the case's bound, with
// non-finite mismatches counted apart (a NaN where the reference is finite
// is an unwritten or wrongly read element; a finite value where it is NaN,
// a write where none may be).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_REPORT_H
#define MOELA_TEST_KERNELS_REPORT_H

#include "Tensor.h"

#include <functional>
#include <string>
#include <vector>

namespace moela::cases {

/// The comparison of an output with its reference, element by element.
struct ErrorStats {
  double err2 = 0, ref2 = 0, maxAbs = 0;
  int64_t count = 0, bad = 0;
  std::string firstBad;

  void add(double out, double ref, int64_t r, int64_t c);
  double rel() const;
  bool within(double bound) const;
  std::string text(double bound) const;
};

/// out [rows, cols] (padding left out) against ref [rows, cols].
ErrorStats compare(const Tensor &out, const std::vector<float> &ref);

class Report {
public:
  virtual ~Report() = default;
  /// One check: printed and counted by the runner.
  virtual void record(const std::string &what, bool ok,
                      const std::string &detail) = 0;

  bool expect(const std::string &what, bool ok,
              const std::string &detail = "") {
    record(what, ok, detail);
    return ok;
  }
  bool near(const std::string &what, const ErrorStats &s, double bound) {
    return expect(what, s.within(bound), s.text(bound));
  }
  bool near(const std::string &what, const Tensor &out,
            const std::vector<float> &ref, double bound) {
    return near(what, compare(out, ref), bound);
  }
  /// Element-wise equality (indices, copies); NaN equals NaN.
  template <typename T>
  bool equal(const std::string &what, const std::vector<T> &out,
             const std::vector<T> &ref);
  /// Elements for which mustWrite(r, c) is false (padding, gaps, other rows)
  /// are still poison, and the guard bands are intact.
  bool untouchedOutside(const std::string &what, const Tensor &t,
                        const std::function<bool(int64_t, int64_t)> &mustWrite);
};

template <typename T>
bool Report::equal(const std::string &what, const std::vector<T> &out,
                   const std::vector<T> &ref) {
  if (out.size() != ref.size())
    return expect(what, false,
                  "sizes " + std::to_string(out.size()) + " vs " +
                      std::to_string(ref.size()));
  size_t diff = 0, first = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    const bool same =
        out[i] == ref[i] || (out[i] != out[i] && ref[i] != ref[i]);
    if (!same && !diff++)
      first = i;
  }
  std::string detail =
      std::to_string(diff) + " of " + std::to_string(ref.size()) + " differ";
  if (diff)
    detail += ", first at " + std::to_string(first) + ": " +
              std::to_string(out[first]) + " vs " + std::to_string(ref[first]);
  return expect(what, diff == 0, detail);
}

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_REPORT_H
