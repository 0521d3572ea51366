//===- KernelPrograms.cpp - What a kernel-IR program is -------------------===//
#include "Kernel/KernelPrograms.h"
#include "Kernel/KernelOps.h"
#include "runtime/kernels/Abi.h"

#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

bool moela::kernel::isPrefillProgram(func::FuncOp func) {
  return func.getSymName() == abi::kPrefill ||
         func.getSymName() == abi::kExtend;
}

int64_t moela::kernel::kvCacheLayers(ModuleOp module, int64_t mainLayers) {
  int64_t layers = mainLayers;
  module.walk([&](KvAppendOp op) {
    layers = std::max<int64_t>(layers, int64_t(op.getLayer()) + 1);
  });
  return layers;
}

std::string moela::kernel::locationName(Location loc) {
  return TypeSwitch<LocationAttr, std::string>(loc)
      .Case([](NameLoc name) { return name.getName().str(); })
      .Case([](FusedLoc fused) {
        std::string joined;
        for (Location part : fused.getLocations()) {
          std::string name = locationName(part);
          if (name.empty() || StringRef(joined).contains(name))
            continue;
          joined += (joined.empty() ? "" : "+") + name;
        }
        return joined;
      })
      .Default([](LocationAttr) { return std::string(); });
}
