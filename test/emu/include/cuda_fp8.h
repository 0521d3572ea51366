//===- cuda_fp8.h - Emulation stand-in for the CUDA header ----------------===//
//
// On the include path of the emulated kernel tests only (test/emu): the
// kernels' `#include <cuda_fp8.h>` gets the CPU types of CudaEmu.h.
//
//===----------------------------------------------------------------------===//
#include "../CudaEmu.h"
