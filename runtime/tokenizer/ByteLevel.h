//===- ByteLevel.h - GPT-2's byte-to-character alphabet -------------------===//
//
// Private to the runtime. Byte-level BPE vocabularies spell every byte as a
// printable character (GPT-2's bytes_to_unicode: printable Latin-1 bytes map
// to themselves, the other 68 to U+0100..U+0143, so a space is "Ġ"). moela
// converts the vocabulary back to raw bytes once at load time and runs BPE on
// bytes, so this mapping is only needed while loading.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_BYTELEVEL_H
#define MOELA_RUNTIME_BYTELEVEL_H

#include <cstdint>
#include <string>
#include <string_view>

namespace moela {
namespace bytelevel {

/// The character that spells byte `b` in a byte-level vocabulary.
char32_t byteToChar(uint8_t b);

/// Decodes a byte-level token spelling (valid UTF-8) into the raw bytes it
/// stands for. Returns false, leaving `bytes` unspecified, when the spelling
/// has a character outside the alphabet (e.g. "<｜begin▁of▁sentence｜>").
bool toBytes(std::string_view spelling, std::string &bytes);

} // namespace bytelevel
} // namespace moela

#endif // MOELA_RUNTIME_BYTELEVEL_H
