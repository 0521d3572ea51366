//===- JsonDepth.h - The nesting limit every JSON reader enforces ---------===//
//
// Recursive code (a parser, printing a value for an error, comparing values)
// overflows the stack on tens of thousands of `[`. Every JSON text moela reads
// (config, safetensors header, tokenizer files, id files, JSONL prompts, HTTP
// bodies) is scanned here first, by the compiler's LLVM parser and the
// runtime's nlohmann parser alike. C++ standard library only.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_JSONDEPTH_H
#define MOELA_RUNTIME_JSONDEPTH_H

#include <cstddef>
#include <string>
#include <string_view>

namespace moela {

/// Deepest nesting of arrays and objects accepted; real files need under 10.
constexpr int kJsonMaxDepth = 256;

/// The 1-based line and column of byte `offset` of `text`.
struct TextPlace {
  size_t line = 1, column = 1;
};
TextPlace textPlace(std::string_view text, size_t offset);

/// "line L, column C: ..." for the first bracket that nests deeper than
/// kJsonMaxDepth, or "" when the text stays within it. Linear, no recursion.
std::string jsonDepthError(std::string_view text);

} // namespace moela

#endif // MOELA_RUNTIME_JSONDEPTH_H
