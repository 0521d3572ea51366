//===- StopStrings.cpp - Stop strings across token boundaries -------------===//
#include "moela/Runtime/StopStrings.h"

#include "moela/Runtime/Error.h"

#include <algorithm>

namespace moela {

StopStrings::StopStrings(std::vector<std::string> stops)
    : stops(std::move(stops)) {
  for (const std::string &s : this->stops)
    if (s.empty())
      fail("--stop: a stop string must not be empty");
}

std::string StopStrings::push(const std::string &piece) {
  if (hit)
    return {};
  held += piece;
  // The earliest stop string wins; the text before it is released.
  size_t cut = std::string::npos;
  for (const std::string &s : stops)
    cut = std::min(cut, held.find(s));
  if (cut != std::string::npos) {
    hit = true;
    std::string out = held.substr(0, cut);
    held.clear();
    return out;
  }
  // Hold back the longest suffix that is a proper prefix of a stop string.
  size_t keep = 0;
  for (const std::string &s : stops)
    for (size_t n = std::min(s.size() - 1, held.size()); n > keep; --n)
      if (held.compare(held.size() - n, n, s, 0, n) == 0) {
        keep = n;
        break;
      }
  std::string out = held.substr(0, held.size() - keep);
  held.erase(0, held.size() - keep);
  return out;
}

std::string StopStrings::flush() {
  std::string out = hit ? std::string() : held;
  held.clear();
  return out;
}

} // namespace moela
