//===- Output.cpp - Outputs checked after writing and closing -------------===//
#include "moela/Runtime/Output.h"

#include "moela/Runtime/Error.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>

namespace moela {

namespace {

std::string reason(int error) {
  return error ? std::strerror(error) : "write error";
}

} // namespace

void closeOutput(std::ofstream &out, const std::string &path,
                 const std::string &what) {
  errno = 0;
  if (out.is_open())
    out.close(); // flushes: sets failbit when the data does not fit
  if (!out)
    fail(path, ": cannot write ", what, ": ", reason(errno));
}

void flushStdout() {
  errno = 0;
  std::cout.flush();
  bool ok = static_cast<bool>(std::cout);
  ok = std::fflush(stdout) == 0 && ok;
  if (!ok || std::ferror(stdout))
    fail("cannot write standard output: ", reason(errno));
}

} // namespace moela
