//===- PreTokenizer.h - Regex splitting before BPE ------------------------===//
//
// Private to the runtime. Implements the subset of Hugging Face's
// pre-tokenizers that byte-level BPE files use: a Sequence of Split steps
// (regex or literal pattern, behavior "Isolated") ending in ByteLevel. Each
// step splits every piece of the previous step independently, so a regex
// never sees past its piece (lookaheads included), as in Hugging Face.
// Regexes are Oniguruma syntax in the file; the escapes whose meaning differs
// are translated (\s -> \p{White_Space}, ...) and the result is compiled
// with PCRE2 in UTF + UCP mode, JIT when available. Oniguruma-only syntax
// (nested classes, &&) is not supported. Characters newer than PCRE2's
// Unicode tables (14.0 for 10.42) may be classified differently.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_PRETOKENIZER_H
#define MOELA_RUNTIME_PRETOKENIZER_H

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace moela {

class PreTokenizer {
public:
  /// Builds the steps from tokenizer.json's "pre_tokenizer" value. `file`
  /// prefixes error messages. Throws moela::Error on structures it does not
  /// support (other pre-tokenizer types or behaviors, invert, prefix space).
  static PreTokenizer fromJson(const nlohmann::json &spec,
                               const std::string &file);

  PreTokenizer();
  PreTokenizer(PreTokenizer &&) noexcept;
  PreTokenizer &operator=(PreTokenizer &&) noexcept;
  ~PreTokenizer();

  /// Appends the non-empty pieces of `text` (valid UTF-8) to `pieces`, in
  /// order; they cover `text` exactly.
  void split(std::string_view text,
             std::vector<std::string_view> &pieces) const;

  /// Number of regex steps (for tests and diagnostics).
  size_t numSteps() const;

private:
  class Regex;
  struct Scratch;
  void splitFrom(size_t step, std::string_view text, Scratch &scratch,
                 std::vector<std::string_view> &pieces) const;

  std::vector<std::unique_ptr<Regex>> steps;
};

} // namespace moela

#endif // MOELA_RUNTIME_PRETOKENIZER_H
