//===- Utils.cpp - Small helpers shared by moela passes -------------------===//
#include "passes/Utils.h"
#include "passes/Passes.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

std::string moela::locationName(Location loc) {
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

bool moela::isPrefillProgram(func::FuncOp func) {
  return func.getSymName() == "prefill" || func.getSymName() == "extend";
}

int64_t moela::kvCacheLayers(ModuleOp module, int64_t mainLayers) {
  int64_t layers = mainLayers;
  module.walk([&](kernel::KvAppendOp op) {
    layers = std::max<int64_t>(layers, int64_t(op.getLayer()) + 1);
  });
  return layers;
}
