//===- JsonDepth.cpp - The nesting limit every JSON reader enforces -------===//
#include "moela/Runtime/JsonDepth.h"

namespace moela {

TextPlace textPlace(std::string_view text, size_t offset) {
  TextPlace place;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++place.line;
      place.column = 1;
    } else {
      ++place.column;
    }
  }
  return place;
}

std::string jsonDepthError(std::string_view text) {
  int depth = 0;
  bool inString = false, escaped = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (inString) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"') {
      inString = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kJsonMaxDepth) {
        TextPlace at = textPlace(text, i);
        return "line " + std::to_string(at.line) + ", column " +
               std::to_string(at.column) + ": arrays and objects nest deeper " +
               "than moela's limit of " + std::to_string(kJsonMaxDepth) +
               " levels";
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth; // a stray bracket is the parser's error to report
    }
  }
  return {};
}

} // namespace moela
