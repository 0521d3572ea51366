//===- EnumNames.h - The names of an enum's values, for options -*- C++ -*-===//
//
// Typed pass options (Passes.td) accept the names of their enum's values;
// the names come from where the enum is defined (ODS stringify functions,
// compileTargetName), so that no option restates them.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_PASSES_ENUMNAMES_H
#define MOELA_PASSES_ENUMNAMES_H

#include "llvm/ADT/StringRef.h"

#include <string>

namespace moela {

/// The values `first..last` of `EnumT` and their names. As an llvm::cl
/// modifier (an option's extra argument), the option accepts these names.
template <typename EnumT> struct EnumNames {
  int first, last;
  llvm::StringRef (*nameOf)(EnumT);

  template <class Option> void apply(Option &option) const {
    for (int v = first; v <= last; ++v)
      option.getParser().addLiteralOption(nameOf(EnumT(v)), EnumT(v), "");
  }

  /// "a, b, c": for error messages.
  std::string joined() const {
    std::string out;
    for (int v = first; v <= last; ++v)
      out += (out.empty() ? "" : ", ") + nameOf(EnumT(v)).str();
    return out;
  }
};

/// The names of an ODS enum (cases 0..max): odsEnumNames(
/// getMaxEnumValForGemmEngine(), stringifyGemmEngine).
template <typename EnumT>
EnumNames<EnumT> odsEnumNames(unsigned max, llvm::StringRef (*nameOf)(EnumT)) {
  return {0, static_cast<int>(max), nameOf};
}

} // namespace moela

#endif // MOELA_PASSES_ENUMNAMES_H
