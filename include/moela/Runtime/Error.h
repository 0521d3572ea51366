//===- Error.h - The runtime's error type ---------------------------------===//
//
// The runtime reports bad input (plan, weights, tokenizer, prompts) by throwing
// moela::Error with a one-line message that names the culprit: the file, the
// tensor with expected and found values, the flag. Tools catch it in main,
// print "moela-run: <message>" and exit 1. Libraries never call exit().
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_ERROR_H
#define MOELA_RUNTIME_ERROR_H

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace moela {

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Throws Error with the streamed concatenation of `parts`.
template <typename... Parts> [[noreturn]] void fail(Parts &&...parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  throw Error(os.str());
}

/// Formats a shape as "[a, b, c]" for error messages.
template <typename Container> std::string shapeString(const Container &dims) {
  std::string s = "[";
  bool first = true;
  for (auto d : dims) {
    if (!first)
      s += ", ";
    s += std::to_string(d);
    first = false;
  }
  return s + "]";
}

} // namespace moela

#endif // MOELA_RUNTIME_ERROR_H
