//===- tokenizer_text.cpp - Fuzzes encode, decode and streaming decode ----===//
//
// With the bundled DeepSeek-V3 tokenizer. The first byte picks the mode and
// the rest is the text to encode or the ids (4 bytes each) to decode. Checked:
// decode(encode(text)) == text for UTF-8 text, and StreamDecoder's pieces add
// up to decode() of the same ids (both as documented in Tokenizer.h).
//
//===----------------------------------------------------------------------===//
#include "FuzzFiles.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Tokenizer.h"

#include <cstdlib>
#include <cstring>
#include <optional>

using namespace moela;

namespace {

const Tokenizer &bundled() {
  static const Tokenizer tokenizer(MOELA_SOURCE_DIR
                                   "/models/tokenizer/deepseek-v3");
  return tokenizer;
}

void encodeRoundTrip(std::string_view text) {
  std::vector<TokenId> ids;
  try {
    ids = bundled().encode(text);
  } catch (const Error &) {
    return; // not UTF-8
  }
  if (bundled().decode(ids) != text)
    std::abort();
}

std::optional<std::string> decodeAll(const std::vector<TokenId> &ids,
                                     bool skipSpecial) {
  try {
    return bundled().decode(ids, skipSpecial);
  } catch (const Error &) {
    return std::nullopt;
  }
}

std::optional<std::string> decodeStreaming(const std::vector<TokenId> &ids,
                                           bool skipSpecial) {
  try {
    StreamDecoder decoder(bundled(), skipSpecial);
    std::string text;
    for (TokenId id : ids)
      text += decoder.push(id);
    return text + decoder.flush();
  } catch (const Error &) {
    return std::nullopt;
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const uint8_t mode = data[0];
  std::string_view rest = fuzz::asText(data + 1, size - 1);
  if ((mode & 1) == 0) {
    encodeRoundTrip(rest);
    return 0;
  }
  // Ids a little past the vocabulary too, and negative ones.
  const int64_t range = bundled().vocabSize() + 64;
  std::vector<TokenId> ids;
  for (size_t i = 0; i + 4 <= rest.size(); i += 4) {
    int32_t raw;
    std::memcpy(&raw, rest.data() + i, 4);
    ids.push_back(raw < 0 ? raw : static_cast<TokenId>(raw % range));
  }
  const bool skipSpecial = mode & 2;
  if (decodeAll(ids, skipSpecial) != decodeStreaming(ids, skipSpecial))
    std::abort();
  return 0;
}
