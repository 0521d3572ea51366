//===- Strings.h - Python's string semantics over UTF-8 -------------------===//
//
// Private to the runtime. Jinja strings are Python strings, indexed and
// measured in code points; moela keeps them as UTF-8, so length, indexing,
// slicing and reversal go through these helpers, and strip()/split() use
// Python's notion of whitespace (str.isspace(), Unicode included).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JINJA_STRINGS_H
#define MOELA_RUNTIME_JINJA_STRINGS_H

#include <string>
#include <string_view>
#include <vector>

namespace moela::jinja {

/// The code points of `s`, each as its UTF-8 bytes.
std::vector<std::string> codePoints(std::string_view s);
/// The number of code points in `s`.
size_t codePointCount(std::string_view s);
/// Whether the code point spelled by `c` (UTF-8) is whitespace to Python.
bool isPySpace(std::string_view c);

/// str.strip / lstrip / rstrip: `chars` null strips whitespace.
std::string pyStrip(std::string_view s, const std::string *chars, bool left,
                    bool right);
/// str.split(sep, maxsplit) (sep null: runs of whitespace); `fromRight` is
/// rsplit. maxsplit < 0 is unlimited.
std::vector<std::string> pySplit(std::string_view s, const std::string *sep,
                                 long maxsplit, bool fromRight);
/// str.replace(old, new, count); count < 0 replaces all.
std::string pyReplace(std::string_view s, std::string_view from,
                      std::string_view to, long count);
/// ASCII-only str.upper / lower (non-ASCII letters are left as they are).
std::string asciiUpper(std::string s);
std::string asciiLower(std::string s);

} // namespace moela::jinja

#endif // MOELA_RUNTIME_JINJA_STRINGS_H
