//===- MoEEnums.td - moe enums ----------------------------------*- tablegen -*-===//
// Kept apart from the attributes so that -gen-enum-decls emits each enum once.
#ifndef MOELA_MOE_ENUMS
#define MOELA_MOE_ENUMS

include "mlir/IR/EnumAttr.td"

def MoE_ScoringFunc : I32EnumAttr<"ScoringFunc", "router scoring function", [
    I32EnumAttrCase<"softmax", 0>,
    I32EnumAttrCase<"sigmoid", 1>]> {
  let cppNamespace = "::moela::moe";
}

def MoE_TopkMethod : I32EnumAttr<"TopkMethod", "expert selection method", [
    I32EnumAttrCase<"greedy", 0>,
    I32EnumAttrCase<"group_limited_greedy", 1>,
    I32EnumAttrCase<"noaux_tc", 2>]> {
  let cppNamespace = "::moela::moe";
}

#endif // MOELA_MOE_ENUMS
