//===- Lexer.cpp - Jinja template text to tokens --------------------------===//
//
// Follows jinja2's lexer (3.1): text runs to the next "{{", "{%" or "{#";
// inside a tag, "}}" or "%}" ends it only outside brackets, so "{{ {'a': 1}}}"
// reads as a dict.
//
//===----------------------------------------------------------------------===//
#include "Lexer.h"

#include "moela/Runtime/Error.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace moela::jinja {

namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

std::string normalizeNewlines(const std::string &source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n')
        ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n')
    out.pop_back();
  return out;
}

class Lexer {
public:
  Lexer(const std::string &source, const std::string &name,
        const LexOptions &options)
      : src(normalizeNewlines(source)), name(name), options(options) {
    for (size_t i = 0; i < src.size(); ++i)
      if (src[i] == '\n')
        newlines.push_back(i);
  }

  std::vector<Token> run() {
    while (pos < src.size()) {
      size_t start = findTagStart(pos);
      if (start == std::string::npos) {
        emitText(src.substr(pos), pos);
        break;
      }
      std::string text = src.substr(pos, start - pos);
      char kind = src[start + 1]; // '{', '%' or '#'
      char sign = start + 2 < src.size() ? src[start + 2] : '\0';
      if (sign == '-') {
        size_t keep = text.size();
        while (keep > 0 && isSpace(text[keep - 1]))
          --keep;
        text.resize(keep);
      } else if (sign != '+' && kind != '{' && options.lstripBlocks) {
        // Only spaces between the line's start and the tag: drop them.
        size_t lineStart = text.rfind('\n');
        lineStart = lineStart == std::string::npos ? 0 : lineStart + 1;
        bool atLineStart = lineStart > 0 || pos == 0 || src[pos - 1] == '\n';
        bool blank = lineStart < text.size();
        for (size_t i = lineStart; i < text.size() && blank; ++i)
          blank = isSpace(text[i]);
        if (atLineStart && blank)
          text.resize(lineStart);
      }
      emitText(text, pos);
      pos = start + 2;
      if (sign == '-' || (sign == '+' && kind != '{'))
        ++pos;
      if (kind == '#')
        lexComment(start);
      else
        lexTag(start, kind == '{' ? Token::VarBegin : Token::BlockBegin);
    }
    tokens.push_back({Token::End, "", lineAt(src.size())});
    return std::move(tokens);
  }

private:
  std::string src;
  const std::string &name;
  LexOptions options;
  std::vector<Token> tokens;
  std::vector<size_t> newlines; // offsets of every "\n"
  size_t pos = 0;

  /// The 1-based line of offset `at`.
  int lineAt(size_t at) const {
    return 1 + static_cast<int>(
                   std::lower_bound(newlines.begin(), newlines.end(), at) -
                   newlines.begin());
  }

  [[noreturn]] void error(size_t at, const std::string &message) {
    fail(name, ":", lineAt(at), ": ", message);
  }

  size_t findTagStart(size_t from) const {
    for (size_t i = src.find('{', from); i != std::string::npos;
         i = src.find('{', i + 1))
      if (i + 1 < src.size() &&
          (src[i + 1] == '{' || src[i + 1] == '%' || src[i + 1] == '#'))
        return i;
    return std::string::npos;
  }

  void emitText(const std::string &text, size_t at) {
    if (!text.empty())
      tokens.push_back({Token::Text, text, lineAt(at)});
  }

  /// After a closing "%}" or "#}": "-" strips all following whitespace,
  /// trim_blocks one newline unless the tag ended with "+".
  void afterBlockEnd(char sign) {
    if (sign == '-') {
      size_t end = pos;
      while (end < src.size() && isSpace(src[end]))
        ++end;
      pos = end;
    } else if (sign != '+' && options.trimBlocks && pos < src.size() &&
               src[pos] == '\n') {
      ++pos;
    }
  }

  void lexComment(size_t start) {
    size_t close = src.find("#}", pos);
    if (close == std::string::npos)
      error(start, "unclosed comment {# (no #} follows)");
    char sign = close > pos ? src[close - 1] : '\0';
    pos = close + 2;
    afterBlockEnd(sign == '-' || sign == '+' ? sign : '\0');
  }

  void lexTag(size_t start, Token::Kind begin) {
    tokens.push_back({begin, "", lineAt(start)});
    const char closing = begin == Token::VarBegin ? '}' : '%';
    int depth = 0;
    while (true) {
      while (pos < src.size() && isSpace(src[pos]))
        ++pos;
      if (pos >= src.size())
        error(start, std::string("unclosed ") +
                         (begin == Token::VarBegin ? "{{ (no }} follows)"
                                                   : "{% tag (no %} follows)"));
      // The end of the tag, with its whitespace-control sign.
      char sign = '\0';
      size_t at = pos;
      if ((src[at] == '-' || src[at] == '+') && at + 1 < src.size() &&
          src[at + 1] == closing && at + 2 < src.size() && src[at + 2] == '}' &&
          depth == 0) {
        sign = src[at];
        ++at;
      }
      if (depth == 0 && src.compare(at, 2, std::string{closing, '}'}) == 0) {
        if (begin == Token::VarBegin && sign == '+')
          sign = '\0';
        tokens.push_back(
            {begin == Token::VarBegin ? Token::VarEnd : Token::BlockEnd, "",
             lineAt(at)});
        pos = at + 2;
        if (begin == Token::BlockBegin)
          afterBlockEnd(sign);
        else if (sign == '-')
          afterBlockEnd('-');
        return;
      }
      lexOne(depth);
    }
  }

  void lexOne(int &depth) {
    char c = src[pos];
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t end = pos;
      while (end < src.size() &&
             (std::isalnum(static_cast<unsigned char>(src[end])) ||
              src[end] == '_'))
        ++end;
      tokens.push_back({Token::Name, src.substr(pos, end - pos), lineAt(pos)});
      pos = end;
      return;
    }
    if (std::isdigit(static_cast<unsigned char>(c))) {
      size_t end = pos;
      bool isFloat = false;
      while (end < src.size() &&
             (std::isdigit(static_cast<unsigned char>(src[end])) ||
              src[end] == '_'))
        ++end;
      if (end + 1 < src.size() && src[end] == '.' &&
          std::isdigit(static_cast<unsigned char>(src[end + 1]))) {
        isFloat = true;
        ++end;
        while (end < src.size() &&
               std::isdigit(static_cast<unsigned char>(src[end])))
          ++end;
      }
      if (end < src.size() && (src[end] == 'e' || src[end] == 'E')) {
        size_t e = end + 1;
        if (e < src.size() && (src[e] == '+' || src[e] == '-'))
          ++e;
        if (e < src.size() &&
            std::isdigit(static_cast<unsigned char>(src[e]))) {
          isFloat = true;
          end = e;
          while (end < src.size() &&
                 std::isdigit(static_cast<unsigned char>(src[end])))
            ++end;
        }
      }
      std::string digits;
      for (size_t i = pos; i < end; ++i)
        if (src[i] != '_')
          digits += src[i];
      tokens.push_back(
          {isFloat ? Token::Float : Token::Integer, digits, lineAt(pos)});
      pos = end;
      return;
    }
    if (c == '\'' || c == '"') {
      lexString(c);
      return;
    }
    static const char *const twoChar[] = {"//", "**", "==", "!=", "<=", ">="};
    for (const char *op : twoChar)
      if (src.compare(pos, 2, op) == 0) {
        tokens.push_back({Token::Operator, op, lineAt(pos)});
        pos += 2;
        return;
      }
    if (std::strchr("+-*/%~<>=()[]{},.:|", c)) {
      if (c == '(' || c == '[' || c == '{')
        ++depth;
      else if ((c == ')' || c == ']' || c == '}') && depth > 0)
        --depth;
      tokens.push_back({Token::Operator, std::string(1, c), lineAt(pos)});
      ++pos;
      return;
    }
    error(pos, std::string("unexpected character '") + c + "' in a tag");
  }

  void lexString(char quote) {
    std::string value;
    size_t i = pos + 1;
    for (; i < src.size() && src[i] != quote; ++i) {
      char c = src[i];
      if (c != '\\' || i + 1 >= src.size()) {
        value += c;
        continue;
      }
      char e = src[++i];
      switch (e) {
      case 'n':
        value += '\n';
        break;
      case 't':
        value += '\t';
        break;
      case 'r':
        value += '\r';
        break;
      case '\\':
      case '\'':
      case '"':
        value += e;
        break;
      case '\n': // a line continuation
        break;
      case 'u':
      case 'x': {
        size_t digits = e == 'u' ? 4 : 2;
        if (i + digits >= src.size())
          error(i, "truncated \\" + std::string(1, e) + " escape in a string");
        std::string hex = src.substr(i + 1, digits);
        if (hex.find_first_not_of("0123456789abcdefABCDEF") !=
            std::string::npos)
          error(i, "bad \\" + std::string(1, e) + " escape in a string");
        unsigned long cp = std::stoul(hex, nullptr, 16);
        i += digits;
        appendUtf8(value, cp);
        break;
      }
      default: // Python keeps unknown escapes as written
        value += '\\';
        value += e;
      }
    }
    if (i >= src.size())
      error(pos, "unterminated string literal");
    tokens.push_back({Token::String, value, lineAt(pos)});
    pos = i + 1;
  }

  static void appendUtf8(std::string &out, unsigned long cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
};

} // namespace

std::vector<Token> lex(const std::string &source, const std::string &name,
                       const LexOptions &options) {
  return Lexer(source, name, options).run();
}

} // namespace moela::jinja
