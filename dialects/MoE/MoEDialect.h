//===- MoEDialect.h - The moe dialect ---------------------------*- C++ -*-===//
#ifndef MOELA_DIALECTS_MOE_MOEDIALECT_H
#define MOELA_DIALECTS_MOE_MOEDIALECT_H

#include "NN/NNDialect.h"

#include "MoE/MoEDialect.h.inc"
#include "MoE/MoEEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "MoE/MoEAttrs.h.inc"

#endif // MOELA_DIALECTS_MOE_MOEDIALECT_H
