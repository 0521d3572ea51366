//===- Strings.cpp - Python's string semantics over UTF-8 -----------------===//
//
// Invalid UTF-8 cannot occur: the tokenizer's inputs are validated, and the
// template text is read as given; a stray byte is taken as one code point.
//
//===----------------------------------------------------------------------===//
#include "Strings.h"

#include "Value.h"

#include <algorithm>
#include <cctype>

namespace moela::jinja {

namespace {

size_t sequenceLength(unsigned char lead) {
  if (lead < 0x80)
    return 1;
  if ((lead >> 5) == 0x6)
    return 2;
  if ((lead >> 4) == 0xE)
    return 3;
  if ((lead >> 3) == 0x1E)
    return 4;
  return 1;
}

} // namespace

std::vector<std::string> codePoints(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t n = std::min(sequenceLength(s[i]), s.size() - i);
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

size_t codePointCount(std::string_view s) {
  size_t count = 0;
  for (size_t i = 0; i < s.size(); i += sequenceLength(s[i]))
    ++count;
  return count;
}

bool isPySpace(std::string_view c) {
  if (c.size() == 1) {
    unsigned char b = c[0];
    return b == ' ' || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F);
  }
  // U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F,
  // U+205F, U+3000
  static const char *const spaces[] = {
      "\u0085", "\u00a0", "\u1680", "\u2000", "\u2001", "\u2002", "\u2003",
      "\u2004", "\u2005", "\u2006", "\u2007", "\u2008", "\u2009", "\u200a",
      "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"};
  for (const char *s : spaces)
    if (c == s)
      return true;
  return false;
}

std::string pyStrip(std::string_view s, const std::string *chars, bool left,
                    bool right) {
  std::vector<std::string> cps = codePoints(s);
  std::vector<std::string> set;
  if (chars)
    set = codePoints(*chars);
  auto strip = [&](const std::string &c) {
    return chars ? std::find(set.begin(), set.end(), c) != set.end()
                 : isPySpace(c);
  };
  size_t begin = 0, end = cps.size();
  while (left && begin < end && strip(cps[begin]))
    ++begin;
  while (right && end > begin && strip(cps[end - 1]))
    --end;
  std::string out;
  for (size_t i = begin; i < end; ++i)
    out += cps[i];
  return out;
}

std::vector<std::string> pySplit(std::string_view s, const std::string *sep,
                                 long maxsplit, bool fromRight) {
  std::vector<std::string> parts;
  if (sep) {
    if (sep->empty())
      evalFail("split(): empty separator");
    if (!fromRight) {
      size_t start = 0;
      while (maxsplit != 0) {
        size_t at = s.find(*sep, start);
        if (at == std::string_view::npos)
          break;
        parts.emplace_back(s.substr(start, at - start));
        start = at + sep->size();
        --maxsplit;
      }
      parts.emplace_back(s.substr(start));
      return parts;
    }
    size_t end = s.size();
    while (maxsplit != 0) {
      if (end < sep->size())
        break;
      size_t at = s.rfind(*sep, end - sep->size());
      if (at == std::string_view::npos)
        break;
      parts.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
      end = at;
      --maxsplit;
    }
    parts.emplace_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
  }
  // Runs of whitespace; no empty parts.
  std::vector<std::string> cps = codePoints(s);
  if (fromRight) {
    std::reverse(cps.begin(), cps.end());
  }
  std::string word;
  bool inWord = false;
  for (size_t i = 0; i < cps.size(); ++i) {
    if (isPySpace(cps[i])) {
      if (inWord) {
        parts.push_back(word);
        word.clear();
        inWord = false;
      }
      continue;
    }
    if (!inWord && maxsplit >= 0 &&
        static_cast<long>(parts.size()) == maxsplit) {
      // The rest, unsplit, with its whitespace as Python keeps it.
      for (size_t j = i; j < cps.size(); ++j)
        word += cps[j];
      inWord = true;
      break;
    }
    word += cps[i];
    inWord = true;
  }
  if (inWord)
    parts.push_back(word);
  if (fromRight) {
    for (std::string &part : parts) {
      std::vector<std::string> back = codePoints(part);
      part.clear();
      for (auto it = back.rbegin(); it != back.rend(); ++it)
        part += *it;
    }
    std::reverse(parts.begin(), parts.end());
  }
  return parts;
}

std::string pyReplace(std::string_view s, std::string_view from,
                      std::string_view to, long count) {
  std::string out;
  if (from.empty()) { // Python inserts `to` around every code point
    std::vector<std::string> cps = codePoints(s);
    long done = 0;
    for (const std::string &c : cps) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out += c;
    }
    if (count < 0 || done < count)
      out += to;
    return out;
  }
  size_t start = 0;
  for (long done = 0; count < 0 || done < count; ++done) {
    size_t at = s.find(from, start);
    if (at == std::string_view::npos)
      break;
    out += s.substr(start, at - start);
    out += to;
    start = at + from.size();
  }
  out += s.substr(start);
  return out;
}

std::string asciiUpper(std::string s) {
  for (char &c : s)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string asciiLower(std::string s) {
  for (char &c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

} // namespace moela::jinja
