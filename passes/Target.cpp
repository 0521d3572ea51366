//===- Target.cpp - What a plan is compiled for ---------------------------===//
#include "passes/Target.h"

#include <iterator>
#include <string_view>

namespace moela {

constexpr int kGpuTargets = static_cast<int>(std::size(abi::kTargets));
static_assert(kGpuTargets == 1, "one CompileTarget per entry of abi::kTargets");
static_assert(std::string_view(
                  abi::kTargets[int(CompileTarget::sm_90a)].arch) == "sm_90a");

const abi::Target *gpuTarget(CompileTarget target) {
  return target == CompileTarget::host
             ? nullptr
             : &abi::kTargets[static_cast<int>(target)];
}

llvm::StringRef compileTargetName(CompileTarget target) {
  return target == CompileTarget::host ? "host" : gpuTarget(target)->arch;
}

EnumNames<CompileTarget> compileTargetNames() {
  return {static_cast<int>(CompileTarget::host), kGpuTargets - 1,
          compileTargetName};
}

std::optional<CompileTarget> parseCompileTarget(llvm::StringRef name) {
  EnumNames<CompileTarget> names = compileTargetNames();
  for (int v = names.first; v <= names.last; ++v)
    if (name == compileTargetName(CompileTarget(v)))
      return CompileTarget(v);
  return std::nullopt;
}

EnumNames<kernel::GemmEngine> gemmEngineNames() {
  return odsEnumNames(kernel::getMaxEnumValForGemmEngine(),
                      kernel::stringifyGemmEngine);
}

} // namespace moela
