//===- KernelEnums.td - kernel enums ----------------------------*- tablegen -*-===//
// Kept apart from the attributes so that -gen-enum-decls emits each enum once.
#ifndef MOELA_KERNEL_ENUMS
#define MOELA_KERNEL_ENUMS

include "mlir/IR/EnumAttr.td"

def Kernel_RowKind : I32EnumAttr<"RowKind", "what a buffer's row count follows", [
    I32EnumAttrCase<"token", 0>,
    I32EnumAttrCase<"logit_row", 1>,
    I32EnumAttrCase<"fixed", 2>]> {
  let cppNamespace = "::moela::kernel";
}

def Kernel_ExpertProj : I32EnumAttr<"ExpertProj", "which expert weights a grouped GEMM uses", [
    I32EnumAttrCase<"gate_up", 0>,
    I32EnumAttrCase<"down", 1>]> {
  let cppNamespace = "::moela::kernel";
}

def Kernel_GemmEngine : I32EnumAttr<"GemmEngine",
    "the tensor-core instruction family of a GEMM (abi::GemmEngine)", [
    I32EnumAttrCase<"mma", 0>,     // mma.sync, Gemm.cuh
    I32EnumAttrCase<"wgmma", 1>]> { // warpgroup MMA (sm_90a), GemmWgmma.cuh
  let cppNamespace = "::moela::kernel";
}

#endif // MOELA_KERNEL_ENUMS
