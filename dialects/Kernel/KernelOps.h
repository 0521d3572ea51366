//===- KernelOps.h - kernel operations --------------------------*- C++ -*-===//
#ifndef MOELA_DIALECTS_KERNEL_KERNELOPS_H
#define MOELA_DIALECTS_KERNEL_KERNELOPS_H

#include "Kernel/KernelDialect.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "Kernel/KernelOps.h.inc"

#endif // MOELA_DIALECTS_KERNEL_KERNELOPS_H
