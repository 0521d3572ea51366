//===- MLAOps.h - mla operations --------------------------------*- C++ -*-===//
#ifndef MOELA_DIALECTS_MLA_MLAOPS_H
#define MOELA_DIALECTS_MLA_MLAOPS_H

#include "MLA/MLADialect.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

#define GET_OP_CLASSES
#include "MLA/MLAOps.h.inc"

#endif // MOELA_DIALECTS_MLA_MLAOPS_H
