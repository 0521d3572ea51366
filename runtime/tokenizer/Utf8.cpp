//===- Utf8.cpp - UTF-8 validation and lossy, resumable decoding ----------===//
#include "Utf8.h"

#include <cstdint>
#include <cstring>

namespace moela {
namespace utf8 {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD"; // U+FFFD

/// How the sequence at `p` ends: Valid (length `len`), Invalid (a maximal
/// subpart of `len` bytes to replace) or Truncated (input ends inside a
/// sequence that could still be valid).
enum class Scan { Valid, Invalid, Truncated };

/// Classifies the sequence at the start of [p, end), following the Unicode
/// table of well-formed byte sequences (no overlongs, surrogates or values
/// above U+10FFFF).
Scan scanOne(const unsigned char *p, const unsigned char *end, size_t &len) {
  unsigned char c = p[0];
  len = 1;
  if (c < 0x80)
    return Scan::Valid;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0)
      lo = 0xA0;
    else if (c == 0xED)
      hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0)
      lo = 0x90;
    else if (c == 0xF4)
      hi = 0x8F;
  } else {
    return Scan::Invalid;
  }
  for (size_t i = 1; i < need; ++i) {
    if (p + i == end)
      return Scan::Truncated;
    unsigned char b = p[i];
    bool ok = i == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok)
      return Scan::Invalid;
    len = i + 1;
  }
  return Scan::Valid;
}

} // namespace

size_t firstInvalid(std::string_view text) {
  const auto *begin = reinterpret_cast<const unsigned char *>(text.data());
  const auto *end = begin + text.size();
  const auto *p = begin;
  while (p < end) {
    // ASCII fast path, 8 bytes at a time.
    while (end - p >= 8) {
      uint64_t word;
      std::memcpy(&word, p, 8);
      if (word & 0x8080808080808080ull)
        break;
      p += 8;
    }
    if (p == end)
      break;
    size_t len;
    if (scanOne(p, end, len) != Scan::Valid)
      return static_cast<size_t>(p - begin);
    p += len;
  }
  return text.size();
}

size_t appendLossy(std::string &out, std::string_view bytes, bool final) {
  const auto *begin = reinterpret_cast<const unsigned char *>(bytes.data());
  const auto *end = begin + bytes.size();
  const auto *p = begin;
  const auto *validStart = p; // start of the pending run of valid bytes
  auto flushValid = [&] {
    out.append(reinterpret_cast<const char *>(validStart),
               static_cast<size_t>(p - validStart));
  };
  while (p < end) {
    size_t len;
    switch (scanOne(p, end, len)) {
    case Scan::Valid:
      p += len;
      break;
    case Scan::Invalid:
      flushValid();
      out.append(kReplacement);
      p += len;
      validStart = p;
      break;
    case Scan::Truncated:
      flushValid();
      if (!final)
        return static_cast<size_t>(p - begin);
      out.append(kReplacement);
      return bytes.size();
    }
  }
  flushValid();
  return bytes.size();
}

void appendCodePoint(std::string &out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

} // namespace utf8
} // namespace moela
