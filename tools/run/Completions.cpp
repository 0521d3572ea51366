//===- Completions.cpp - Each sequence's text, cut at its stop strings
//-----===//
#include "run/Completions.h"

#include "moela/Runtime/Error.h"

#include <cerrno>
#include <cstring>

namespace moela::runtool {

Completions::Completions(const Tokenizer &tokenizer,
                         const std::vector<std::string> &stopStrings,
                         size_t count, std::ostream *stream)
    : tokenizer(tokenizer), texts(count), stream(stream) {
  for (size_t b = 0; b < count; ++b) {
    decoders.emplace_back(tokenizer, /*skipSpecial=*/true);
    stops.emplace_back(stopStrings);
  }
}

void Completions::add(size_t b, const std::string &piece) {
  if (piece.empty())
    return;
  texts[b] += piece;
  // A full disk stops the run at once, while errno still says why.
  if (stream && b == 0 && !(*stream << piece << std::flush))
    fail("cannot write standard output: ", std::strerror(errno));
}

void Completions::push(size_t b, int32_t id) {
  // The model's padding ids beyond the tokenizer's vocabulary (random
  // weights can pick them) have no text.
  if (id < tokenizer.vocabSize())
    add(b, stops[b].push(decoders[b].push(id)));
}

void Completions::finish(size_t b) {
  add(b, stops[b].push(decoders[b].flush()));
  add(b, stops[b].flush());
}

} // namespace moela::runtool
