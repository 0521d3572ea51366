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

moela::kernel::Layout moela::kernel::readLayout(ModuleOp module) {
  Layout layout;
  auto dict = module->getAttrOfType<DictionaryAttr>(kLayoutAttr);
  if (!dict)
    return layout;
  auto integer = [&](StringRef key, int64_t fallback) {
    auto a = dict.getAs<IntegerAttr>(key);
    return a ? a.getInt() : fallback;
  };
  layout.ranks = integer("ranks", 1);
  layout.tp = integer("tp", 1);
  layout.ep = dict.get("ep") != nullptr;
  layout.vocabParallel = dict.get("vocab_parallel") != nullptr;
  layout.logitsSharded = dict.get("logits_sharded") != nullptr;
  return layout;
}

void moela::kernel::writeLayout(ModuleOp module, const Layout &layout) {
  Builder b(module.getContext());
  SmallVector<NamedAttribute> entries{
      b.getNamedAttr("ranks", b.getI64IntegerAttr(layout.ranks)),
      b.getNamedAttr("tp", b.getI64IntegerAttr(layout.tp))};
  if (layout.ep)
    entries.push_back(b.getNamedAttr("ep", b.getUnitAttr()));
  if (layout.vocabParallel)
    entries.push_back(b.getNamedAttr("vocab_parallel", b.getUnitAttr()));
  if (layout.logitsSharded)
    entries.push_back(b.getNamedAttr("logits_sharded", b.getUnitAttr()));
  module->setAttr(kLayoutAttr, b.getDictionaryAttr(entries));
}
