//===- IdArrays.h - Token-id files: --prompt-ids and --teacher-force ------===//
#ifndef MOELA_TOOLS_RUN_IDARRAYS_H
#define MOELA_TOOLS_RUN_IDARRAYS_H

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moela::runtool {

/// The non-empty JSON array of arrays of token ids in `text`
/// ("[[0, 5, 7], ...]"); `path` and `what` (the flag) name it in the one-line
/// moela::Error for anything else.
std::vector<std::vector<int32_t>>
parseIdArrays(std::string_view text, const std::string &path, const char *what);

/// parseIdArrays of the file `path` (Error if it cannot be read).
std::vector<std::vector<int32_t>> readIdArrays(const std::string &path,
                                               const char *what);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_IDARRAYS_H
