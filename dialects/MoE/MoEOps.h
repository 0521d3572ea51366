//===- MoEOps.h - moe operations --------------------------------*- C++ -*-===//
#ifndef MOELA_DIALECTS_MOE_MOEOPS_H
#define MOELA_DIALECTS_MOE_MOEOPS_H

#include "MoE/MoEDialect.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "MoE/MoEOps.h.inc"

#endif // MOELA_DIALECTS_MOE_MOEOPS_H
