//===- MLAEnums.td - mla enums ----------------------------------*- tablegen -*-===//
// Kept apart from the attributes so that -gen-enum-decls emits each enum once.
#ifndef MOELA_MLA_ENUMS
#define MOELA_MLA_ENUMS

include "mlir/IR/EnumAttr.td"

def MLA_AttentionForm : I32EnumAttr<"AttentionForm", "how MLA attention is computed", [
    I32EnumAttrCase<"absorbed", 0>,
    I32EnumAttrCase<"expanded", 1>]> {
  let cppNamespace = "::moela::mla";
  let genSpecializedAttr = 0;
}

#endif // MOELA_MLA_ENUMS
