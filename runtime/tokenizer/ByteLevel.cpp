//===- ByteLevel.cpp - GPT-2's byte-to-character alphabet -----------------===//
#include "ByteLevel.h"

#include <array>

namespace moela {
namespace bytelevel {
namespace {

bool isPrintable(unsigned b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
}

/// The 256 characters of the alphabet span U+0021..U+0143.
constexpr unsigned kCharLimit = 0x144;

struct Tables {
  std::array<char32_t, 256> toChar{};
  std::array<int16_t, kCharLimit> toByte{}; // -1: not in the alphabet
  Tables() {
    toByte.fill(-1);
    unsigned next = 0x100;
    for (unsigned b = 0; b < 256; ++b) {
      toChar[b] = isPrintable(b) ? b : next++;
      toByte[toChar[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables &tables() {
  static const Tables t;
  return t;
}

} // namespace

char32_t byteToChar(uint8_t b) { return tables().toChar[b]; }

bool toBytes(std::string_view spelling, std::string &bytes) {
  const Tables &t = tables();
  bytes.clear();
  for (size_t i = 0; i < spelling.size();) {
    auto c0 = static_cast<unsigned char>(spelling[i]);
    char32_t cp;
    if (c0 < 0x80) {
      cp = c0;
      i += 1;
    } else if ((c0 & 0xE0) == 0xC0 && i + 1 < spelling.size()) {
      cp = (char32_t(c0 & 0x1F) << 6) | (spelling[i + 1] & 0x3F);
      i += 2;
    } else {
      return false; // 3- and 4-byte characters are all outside the alphabet
    }
    if (cp >= kCharLimit || t.toByte[cp] < 0)
      return false;
    bytes += static_cast<char>(t.toByte[cp]);
  }
  return true;
}

} // namespace bytelevel
} // namespace moela
