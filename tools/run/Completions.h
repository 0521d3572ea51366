//===- Completions.h - Each sequence's text, cut at its stop strings
//-------===//
#ifndef MOELA_TOOLS_RUN_COMPLETIONS_H
#define MOELA_TOOLS_RUN_COMPLETIONS_H

#include "moela/Runtime/StopStrings.h"
#include "moela/Runtime/Tokenizer.h"

#include <ostream>
#include <string>
#include <vector>

namespace moela::runtool {

/// Decodes every sequence's tokens as they come and cuts its text at the
/// first stop string. With a stream, sequence 0's text is also printed as
/// soon as no stop string can claim it.
class Completions {
public:
  Completions(const Tokenizer &tokenizer, const std::vector<std::string> &stops,
              size_t count, std::ostream *stream);

  /// Adds token `id` of sequence b.
  void push(size_t b, int32_t id);
  /// Whether a stop string ended sequence b.
  bool stopped(size_t b) const { return stops[b].stopped(); }
  /// Ends sequence b: the text still held back is added (and streamed).
  void finish(size_t b);
  const std::string &text(size_t b) const { return texts[b]; }

private:
  void add(size_t b, const std::string &piece);

  const Tokenizer &tokenizer;
  std::vector<StreamDecoder> decoders;
  std::vector<StopStrings> stops;
  std::vector<std::string> texts;
  std::ostream *stream;
};

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_COMPLETIONS_H
