//===- Cases.h - The kernel-case table ------------------------------------===//
//
// Every case of every kernel family, in one table that three runners read:
// test/unit/KernelCompileTest (NVRTC + ptxas on every kernel the cases
// name, and the instantiations only compiled: CompileKernels.cpp),
// test/emu/KernelEmuTest (the cases marked kEmu, on the CPU emulation) and
// test/gpu/KernelGpuTest (those marked kGpu). A case names its kernels and
// runs itself: builds random inputs, launches, and checks the outputs
// against the host reference (runtime/host) within its bound. The
// emulator's kernels are generated from the same table (moela-kernel-cases
// --emit-cuda, gen-emu-kernels.py), so a new kernel is registered once: in
// its family's *Cases.cpp. A new family also needs its kernel function in
// Families.h, its add*Cases below, and for the emulator an entry in
// MOELA_EMU_FAMILIES (test/emu/CMakeLists.txt) and test/emu/EmuKernels.h.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_CASES_H
#define MOELA_TEST_KERNELS_CASES_H

#include "Kernel.h"
#include "Report.h"

#include <functional>
#include <string>
#include <vector>

namespace moela::cases {

namespace K = moela::kernels; // args and launch geometry
namespace H = moela::host;    // the references

/// The row, attention and MoE families have fixed tiles (OpsLaunch.h
/// ignores the Tile).
const K::Tile kTile{};

/// The suites that run a case.
enum Suite : unsigned { kEmu = 1, kGpu = 2, kEmuAndGpu = 3 };

struct Case {
  /// The group it runs in, "<Family>.<Group>": KernelEmuTest's GoogleTest
  /// "KernelEmu<Family>.<Group>".
  std::string test;
  std::string name; // what it runs, printed with each check
  unsigned suites = kEmuAndGpu;
  /// GPU: DeepSeek-V3 sizes or timing, skipped by --quick.
  bool large = false;
  std::vector<Kernel> kernels;
  std::function<void(Report &)> run;
};

using Cases = std::vector<Case>;

/// Adds a case of one kernel.
void addCase(Cases &cases, const std::string &test, const std::string &name,
             unsigned suites, const Kernel &k,
             std::function<void(Report &)> run, bool large = false);

/// The whole table, family by family.
Cases allCases();
/// Every kernel the compile check builds: those of every case and the
/// instantiations that are only compiled, each once.
std::vector<Kernel> compileKernels();

// One function per family file.
void addNormCases(Cases &c);    // Embedding, RmsNorm, Elementwise, Rope, Argmax
void addCacheCases(Cases &c);   // KvAppend, KvGather
void addLatentCases(Cases &c);  // LatentAttention, MlaAttention
void addPrefillCases(Cases &c); // MlaPrefillAttention
void addRouteCases(Cases &c);   // Route
void addMoeCases(Cases &c);     // Dispatch, Combine, MoeExperts
void addGemmCases(Cases &c);    // Gemm
void addWgmmaCases(Cases &c);   // GemmWgmma
void addGroupedCases(Cases &c); // GroupedGemm
void addHeadGemmCases(Cases &c); // HeadGemm
std::vector<Kernel> compileOnlyKernels();

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_CASES_H
