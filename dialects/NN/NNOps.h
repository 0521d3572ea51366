//===- NNOps.h - nn operations ----------------------------------*- C++ -*-===//
#ifndef MOELA_DIALECTS_NN_NNOPS_H
#define MOELA_DIALECTS_NN_NNOPS_H

#include "NN/NNDialect.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "NN/NNOps.h.inc"

#endif // MOELA_DIALECTS_NN_NNOPS_H
