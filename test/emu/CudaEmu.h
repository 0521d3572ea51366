//===- CudaEmu.h - The CUDA execution model on the CPU, for kernel tests --===//
//
// Lets g++ compile the device templates of runtime/kernels unchanged and run
// their launches on the host, so that CI checks the kernels without a GPU.
// Header-only. The kernels' inline PTX sits in wrappers in Ptx.cuh, which
// call PtxEmu.h when MOELA_KERNEL_EMULATION is defined; include/cuda_bf16.h
// and include/cuda_fp8.h stand in for the toolkit's headers and bring this
// one. Build with -fno-strict-aliasing (the kernels pun types through
// pointers, as CUDA allows) and -fno-extern-tls-init (see __shared__ below);
// EmuKernels.h includes it all. The parts, one concern each, are listed at
// the end of this comment.
//
// Execution model. emu::launch(kernel, grid, block, sharedBytes, args) runs
// the grid's blocks on a few worker threads (MOELA_EMU_WORKERS, default: all
// cores), one block at a time per worker, and returns when all are done. A
// block runs as one fiber (its own stack) per CUDA thread, all on
// the worker's OS thread: fibers switch only where CUDA threads synchronise
// (__syncthreads, every warp collective), so a block is deterministic. The
// order in which runnable fibers are resumed is a seeded shuffle
// (MOELA_EMU_SCHEDULE: a seed, or "forward"), so that races between warps
// show up as wrong results rather than hide behind one lucky order.
//
//  - Built-in variables (threadIdx, blockIdx, blockDim, gridDim) are
//    thread_local globals that the scheduler sets before it resumes a fiber.
//  - __shared__ is thread_local: one instance per worker, i.e. per running
//    block. Static shared arrays are filled with the word 0x7fbfffff before
//    each block (NaN as f32, bf16 and f16; 2143289343 as int32:
//    EmuStaticShared.h). `extern __shared__` arrays (dynamic shared memory)
//    must be defined with MOELA_EMU_DYNAMIC_SHARED (one per kernel's array
//    name, each kMaxDynamicSharedBytes long); the launcher fills them with 0xff
//    (NaN in every float format) before each block and checks after it that the
//    4 KiB past the launch's size are untouched.
//  - Warp collectives (shuffles, votes, match_any, __syncwarp, ldmatrix,
//    mma) are rendezvous of the warp's 32 lanes: each lane deposits its
//    operand, the last to arrive computes every lane's result. They require
//    the full mask, all 32 lanes present and every lane at the same kind of
//    collective; anything else fails the launch.
//  - Warpgroup collectives (wgmma.*, PtxEmu.h) are rendezvous of the 128
//    threads of 4 consecutive warps (the first a multiple of 4), with the
//    same rules.
//  - Shared-memory addresses: byte b of dynamic shared array i is at
//    0x40000000 + (i << 20) + 384 + b (an 18-bit window, as on the GPU, not
//    1024-byte aligned); other __shared__ objects at their offset from an
//    anchor. mbarrier waits suspend the thread until the barrier's phase
//    changes.
//  - __syncthreads fails the launch once a thread of the block has exited
//    (CUDA leaves that undefined). A block whose fibers all wait on each
//    other is reported as a deadlock, with where they wait.
//  - Device memory is host memory. Tests may declare their buffers as
//    emu::GlobalRange and set Options::checkGlobal: then a cp.async that
//    reads outside every buffer fails the launch.
//  - Failures (__trap, the checks above and those of PtxEmu.h) stop the
//    launch; emu::launch then throws emu::Error naming the block and thread.
//  - Arithmetic is IEEE fp32 (the host's): fast-math intrinsics (__expf,
//    __sincosf, ...) are computed accurately, FMA contraction is g++'s.
//
//
// The parts: EmuLanguage.h (keywords, types, built-in variables, math),
// EmuState.h (options, errors, device memory, what a block keeps),
// EmuScheduler.h (blocks as fibers), EmuCollectives.h (warp and warpgroup
// rendezvous, warp intrinsics), EmuDeviceFunctions.h (__syncthreads,
// atomics, shared addresses), EmuLaunch.h (emu::launch); PtxEmu.h adds the
// PTX instructions.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_CUDAEMU_H
#define MOELA_TEST_EMU_CUDAEMU_H

#include "EmuCollectives.h"
#include "EmuDeviceFunctions.h"
#include "EmuLanguage.h"
#include "EmuLaunch.h"
#include "EmuScheduler.h"
#include "EmuState.h"

// CUDA's keywords, after every standard header (libstdc++ uses
// __attribute__((__noinline__)) itself).
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))
#define __shared__ thread_local
#define __restrict__ __restrict

#endif // MOELA_TEST_EMU_CUDAEMU_H
