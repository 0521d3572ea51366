//===- EmuDeviceFunctions.h - __syncthreads, atomics and addresses --------===//
//
// The CUDA device functions of the emulation (CudaEmu.h) that are not
// warp collectives: __syncthreads (suspends the fiber until the whole
// block arrives), atomics and fences on host memory, __trap, and
// __cvta_generic_to_shared.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUDEVICEFUNCTIONS_H
#define MOELA_TEST_EMU_EMUDEVICEFUNCTIONS_H

#include "EmuScheduler.h"

#include <cstdint>
#include <string>
#include <type_traits>

// ---- Block barrier ----------------------------------------------------------

inline void __syncthreads() {
  emu::detail::Runner &r = emu::detail::runner();
  if (r.exited)
    emu::detail::fail("__syncthreads after " + std::to_string(r.exited) +
                      " threads of the block exited");
  const unsigned gen = r.barGen;
  if (++r.barArrived == r.threads) {
    r.barArrived = 0;
    ++r.barGen;
    return;
  }
  emu::detail::waitUntilChanged(&r.barGen, gen, "__syncthreads");
}

// ---- Atomics, fences, __trap, shared addresses ------------------------------

template <typename T> inline T emuAtomicRmw(T *p, T v, int op) {
  static_assert(std::is_integral<T>::value, "integer atomics");
  switch (op) {
  case 0:
    return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST);
  case 1:
    return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST);
  case 2:
    return __atomic_fetch_or(p, v, __ATOMIC_SEQ_CST);
  case 3:
    return __atomic_fetch_and(p, v, __ATOMIC_SEQ_CST);
  default:
    return __atomic_fetch_xor(p, v, __ATOMIC_SEQ_CST);
  }
}
inline int atomicAdd(int *p, int v) { return emuAtomicRmw(p, v, 0); }
inline unsigned atomicAdd(unsigned *p, unsigned v) {
  return emuAtomicRmw(p, v, 0);
}
inline unsigned long long atomicAdd(unsigned long long *p,
                                    unsigned long long v) {
  return emuAtomicRmw(p, v, 0);
}
inline float atomicAdd(float *p, float v) {
  uint32_t old = __atomic_load_n(reinterpret_cast<uint32_t *>(p),
                                 __ATOMIC_SEQ_CST),
           next;
  do
    next = emu::num::bits(emu::num::fromBits(old) + v);
  while (!__atomic_compare_exchange_n(reinterpret_cast<uint32_t *>(p), &old,
                                      next, false, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST));
  return emu::num::fromBits(old);
}
inline int atomicSub(int *p, int v) { return emuAtomicRmw(p, -v, 0); }
inline int atomicExch(int *p, int v) { return emuAtomicRmw(p, v, 1); }
inline unsigned atomicExch(unsigned *p, unsigned v) {
  return emuAtomicRmw(p, v, 1);
}
inline int atomicOr(int *p, int v) { return emuAtomicRmw(p, v, 2); }
inline unsigned atomicOr(unsigned *p, unsigned v) {
  return emuAtomicRmw(p, v, 2);
}
inline int atomicAnd(int *p, int v) { return emuAtomicRmw(p, v, 3); }
inline unsigned atomicAnd(unsigned *p, unsigned v) {
  return emuAtomicRmw(p, v, 3);
}
inline int atomicXor(int *p, int v) { return emuAtomicRmw(p, v, 4); }
template <typename T> inline T atomicCAS(T *p, T compare, T v) {
  __atomic_compare_exchange_n(p, &compare, v, false, __ATOMIC_SEQ_CST,
                              __ATOMIC_SEQ_CST);
  return compare;
}
template <typename T> inline T emuAtomicMinMax(T *p, T v, bool isMax) {
  T old = __atomic_load_n(p, __ATOMIC_SEQ_CST);
  while ((isMax ? v > old : v < old) &&
         !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_SEQ_CST,
                                      __ATOMIC_SEQ_CST)) {
  }
  return old;
}
inline int atomicMax(int *p, int v) { return emuAtomicMinMax(p, v, true); }
inline unsigned atomicMax(unsigned *p, unsigned v) {
  return emuAtomicMinMax(p, v, true);
}
inline int atomicMin(int *p, int v) { return emuAtomicMinMax(p, v, false); }
inline unsigned atomicMin(unsigned *p, unsigned v) {
  return emuAtomicMinMax(p, v, false);
}
inline void __threadfence() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline void __threadfence_block() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

[[noreturn]] inline void __trap() { emu::detail::fail("__trap()"); }

/// A shared-memory address (the 32-bit offset PTX uses) of a __shared__
/// object (see sharedAnchor). Notes the dynamic shared array it points into
/// (Runner::activeArray: the wgmma descriptors keep only 18 address bits).
inline size_t __cvta_generic_to_shared(const void *p) {
  namespace d = emu::detail;
  const unsigned char *c = static_cast<const unsigned char *>(p);
  if (d::Runner *r = d::tlsRunner)
    for (size_t i = 0; i < r->arrays.size(); ++i)
      if (c >= r->arrays[i] && c < r->arrays[i] + d::dynamicShared()[i].bytes) {
        if (r->current) {
          if (r->activeArray == -1)
            r->activeArray = int(i);
          else if (r->activeArray != int(i))
            r->activeArray = -2;
        }
        return d::kDynamicWindowBase + (uint32_t(i) << d::kDynamicWindowShift) +
               d::kDynamicWindowOffset + uint32_t(c - r->arrays[i]);
      }
  return uint32_t(reinterpret_cast<uintptr_t>(p) -
                  reinterpret_cast<uintptr_t>(&d::sharedAnchor));
}

#endif // MOELA_TEST_EMU_EMUDEVICEFUNCTIONS_H
