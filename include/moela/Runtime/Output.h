//===- Output.h - Outputs checked after writing and closing ---------------===//
//
// A full disk or a closed pipe often shows only when buffered data is
// flushed, at close or at exit, where nobody looks. Every tool output (files
// and standard output) is closed or flushed through here before the tool
// reports success, so a failed write is one line and exit 1, never exit 0.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_OUTPUT_H
#define MOELA_RUNTIME_OUTPUT_H

#include <fstream>
#include <string>

namespace moela {

/// Closes `out`, written to `path`; fails with "PATH: cannot write WHAT:
/// <reason>" when a write or the close failed.
void closeOutput(std::ofstream &out, const std::string &path,
                 const std::string &what);

/// Flushes std::cout and C's stdout; fails with "cannot write standard
/// output: <reason>" when any write to them failed.
void flushStdout();

} // namespace moela

#endif // MOELA_RUNTIME_OUTPUT_H
