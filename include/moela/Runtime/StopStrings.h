//===- StopStrings.h - Ending generation at a stop string -----------------===//
#ifndef MOELA_RUNTIME_STOPSTRINGS_H
#define MOELA_RUNTIME_STOPSTRINGS_H

#include <string>
#include <vector>

namespace moela {

/// Watches one sequence's decoded text for any of a set of stop strings,
/// which may span token boundaries. push() returns only text that can no
/// longer be the start of a stop string; the rest is held back until the
/// next piece decides it, so neither a stop string nor anything after it is
/// ever handed out.
class StopStrings {
public:
  explicit StopStrings(std::vector<std::string> stops);

  /// Adds decoded text and returns what is now safe to print (nothing after
  /// a stop string was seen).
  std::string push(const std::string &piece);
  /// The text held back at the end of generation (none after a stop).
  std::string flush();
  bool stopped() const { return hit; }

private:
  std::vector<std::string> stops;
  std::string held; // a suffix that may still begin a stop string
  bool hit = false;
};

} // namespace moela

#endif // MOELA_RUNTIME_STOPSTRINGS_H
