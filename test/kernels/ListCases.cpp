//===- ListCases.cpp - moela-kernel-cases: the table, printed -------------===//
//
//   moela-kernel-cases --emit-cuda [--suite emu|gpu] [-o FILE]
//       the kernels the cases of a suite launch, as moela-compile --emit=cuda
//       writes them (gen-emu-kernels.py builds the emulator's from it)
//   moela-kernel-cases --list [--suite emu|gpu]   one line per case
//   moela-kernel-cases --compile-list             the compile check's kernels
//
//===----------------------------------------------------------------------===//
#include "Cases.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

using namespace moela::cases;

namespace {

int usage() {
  std::fprintf(
      stderr,
      "usage: moela-kernel-cases --emit-cuda [--suite emu|gpu] [-o FILE]\n"
      "       moela-kernel-cases --list [--suite emu|gpu]\n"
      "       moela-kernel-cases --compile-list\n");
  return 2;
}

std::string snake(const std::string &family) {
  std::string s;
  for (char c : family) {
    if (std::isupper(static_cast<unsigned char>(c)) && !s.empty())
      s += '_';
    s += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return s;
}

} // namespace

int main(int argc, char **argv) {
  std::string mode, suite, output;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--suite") && i + 1 < argc)
      suite = argv[++i];
    else if (!std::strcmp(argv[i], "-o") && i + 1 < argc)
      output = argv[++i];
    else if (argv[i][0] == '-' && mode.empty())
      mode = argv[i];
    else
      return usage();
  }
  const unsigned want = suite == "emu"   ? kEmu
                        : suite == "gpu" ? kGpu
                                         : kEmuAndGpu;
  if (!suite.empty() && suite != "emu" && suite != "gpu")
    return usage();
  if (mode == "--compile-list") {
    for (const Kernel &k : compileKernels())
      std::printf("%s\n", k.label().c_str());
    return 0;
  }
  if (mode != "--emit-cuda" && mode != "--list")
    return usage();
  std::map<std::string, Kernel> kernels;
  for (const Case &c : allCases()) {
    if (!(c.suites & want))
      continue;
    if (mode == "--list")
      std::printf("%-40s %-4s %s\n", c.test.c_str(),
                  c.suites == kEmuAndGpu ? "both"
                  : c.suites == kEmu     ? "emu"
                                         : "gpu",
                  c.name.c_str());
    for (const Kernel &k : c.kernels)
      kernels.emplace(k.name(), k);
  }
  if (mode != "--emit-cuda")
    return 0;
  FILE *out = output.empty() ? stdout : std::fopen(output.c_str(), "w");
  if (!out) {
    std::perror(output.c_str());
    return 1;
  }
  for (const auto &[name, k] : kernels)
    std::fprintf(out, "// ---- %s (%s, sm_90a)\n%s\n", name.c_str(),
                 snake(k.family).c_str(), k.source().c_str());
  return out == stdout || std::fclose(out) == 0 ? 0 : 1;
}
