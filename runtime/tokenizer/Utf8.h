//===- Utf8.h - UTF-8 validation and lossy, resumable decoding ------------===//
//
// Private to the runtime. Tokens are byte strings and may end in the middle of
// a UTF-8 sequence, so decoding replaces invalid bytes with U+FFFD the way
// Rust's String::from_utf8_lossy does (one U+FFFD per maximal invalid
// subpart, which is what Hugging Face tokenizers returns) and can stop before
// an incomplete sequence at the end to resume once more bytes arrive.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_UTF8_H
#define MOELA_RUNTIME_UTF8_H

#include <cstddef>
#include <string>
#include <string_view>

namespace moela {
namespace utf8 {

/// Returns the byte offset of the first invalid or truncated sequence in
/// `text`, or text.size() when all of it is valid UTF-8.
size_t firstInvalid(std::string_view text);

/// Appends `bytes` to `out` as valid UTF-8, replacing each maximal invalid
/// subpart with U+FFFD. With `final` false it stops before a trailing
/// sequence that is incomplete but could still become valid. Returns how many
/// bytes of `bytes` were consumed (bytes.size() when `final`).
size_t appendLossy(std::string &out, std::string_view bytes, bool final);

/// Length of the UTF-8 sequence that starts with lead byte `c` (1 for
/// invalid leads, so callers always make progress).
inline size_t sequenceLength(unsigned char c) {
  if (c < 0xC0)
    return 1;
  if (c < 0xE0)
    return 2;
  if (c < 0xF0)
    return 3;
  return c < 0xF8 ? 4 : 1;
}

/// Encodes code point `cp` (assumed <= 0x10FFFF) as UTF-8 onto `out`.
void appendCodePoint(std::string &out, char32_t cp);

} // namespace utf8
} // namespace moela

#endif // MOELA_RUNTIME_UTF8_H
