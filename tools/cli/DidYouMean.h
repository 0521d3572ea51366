//===- DidYouMean.h - The known name nearest to a mistyped one ------------===//
#ifndef MOELA_TOOLS_CLI_DIDYOUMEAN_H
#define MOELA_TOOLS_CLI_DIDYOUMEAN_H

#include <string>
#include <vector>

namespace moela::cli {

/// The name of `known` with the smallest edit distance to `typed`, if that
/// distance is small enough to be a typo (at most 2, or a third of the
/// typed length for long names); else "".
std::string nearestName(const std::string &typed,
                        const std::vector<std::string> &known);

} // namespace moela::cli

#endif // MOELA_TOOLS_CLI_DIDYOUMEAN_H
