//===- EmuKernels.h - Every kernel family, compiled for the CPU emulation -===//
//
// Includes the device templates of runtime/kernels on top of CudaEmu.h (built
// with MOELA_KERNEL_EMULATION and test/emu/include first on the include path)
// after defining the dynamic shared arrays the kernels declare as
// `extern __shared__`: a kernel with a new such array fails to link until it
// is added here.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUKERNELS_H
#define MOELA_TEST_EMU_EMUKERNELS_H

#ifndef MOELA_KERNEL_EMULATION
#error "build with -DMOELA_KERNEL_EMULATION (test/emu/CMakeLists.txt)"
#endif

#include "CudaEmu.h"

namespace moela {
namespace kernels {
MOELA_EMU_DYNAMIC_SHARED(unsigned char, mmSmem); // Gemm, GroupedGemm, HeadGemm
MOELA_EMU_DYNAMIC_SHARED(unsigned char, latentSmem);  // LatentAttention
MOELA_EMU_DYNAMIC_SHARED(float, rmsRow);              // RmsNorm
MOELA_EMU_DYNAMIC_SHARED(float, ropeTable);           // Rope
MOELA_EMU_DYNAMIC_SHARED(float, mlaSmem);             // MlaAttention
MOELA_EMU_DYNAMIC_SHARED(unsigned char, prefillSmem); // MlaPrefillAttention
MOELA_EMU_DYNAMIC_SHARED(float, routeSmem);           // Route (fused gate)
MOELA_EMU_DYNAMIC_SHARED(float, moeSmem);             // MoeExperts
MOELA_EMU_DYNAMIC_SHARED(unsigned char, wgmmaSmem);   // GemmWgmma
namespace dispatching {
MOELA_EMU_DYNAMIC_SHARED(int, dispatchSmem); // Dispatch
} // namespace dispatching
} // namespace kernels
} // namespace moela

#include "kernels/Argmax.cuh"
#include "kernels/Combine.cuh"
#include "kernels/Dispatch.cuh"
#include "kernels/Elementwise.cuh"
#include "kernels/Embedding.cuh"
#include "kernels/Gemm.cuh"
#include "kernels/GemmWgmma.cuh"
#include "kernels/GroupedGemm.cuh"
#include "kernels/HeadGemm.cuh"
#include "kernels/KvAppend.cuh"
#include "kernels/KvGather.cuh"
#include "kernels/LatentAttention.cuh"
#include "kernels/MatmulLaunch.h"
#include "kernels/MlaAttention.cuh"
#include "kernels/MlaPrefillAttention.cuh"
#include "kernels/MoeExperts.cuh"
#include "kernels/OpsLaunch.h"
#include "kernels/RmsNorm.cuh"
#include "kernels/Rope.cuh"
#include "kernels/Route.cuh"
#include "kernels/WgmmaLaunch.h"

#endif // MOELA_TEST_EMU_EMUKERNELS_H
