//===- EmuCollectives.h - Warp and warpgroup rendezvous -------------------===//
//
// The collectives of the emulation (CudaEmu.h): a warp (or warpgroup)
// rendezvous where every lane deposits its operand and the last to arrive
// computes every lane's result, checking that all are at the same
// collective; and the warp intrinsics built on it (__syncwarp, shuffles,
// votes, __match_any_sync). PtxEmu.h builds ldmatrix, mma and wgmma on it.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUCOLLECTIVES_H
#define MOELA_TEST_EMU_EMUCOLLECTIVES_H

#include "EmuScheduler.h"

#include <cstring>
#include <string>
#include <type_traits>

namespace emu {
namespace detail {

/// A warp rendezvous: every lane deposits `in`; the last to arrive checks that
/// all lanes are at the same kind of collective and runs compute(slots), which
/// fills each lane's `out`; every lane then gets its own `out`.
template <typename Compute>
inline void warpCollective(int kind, const void *in, size_t inBytes, void *out,
                           size_t outBytes, Compute compute) {
  Runner &r = runner();
  Fiber &f = *r.current;
  WarpState &w = r.warps[f.warp];
  const unsigned seq = f.collectives++;
  Slot(&slots)[32] = w.slot[seq & 1];
  Slot &mine = slots[f.lane];
  mine.kind = kind;
  mine.seq = seq;
  if (inBytes)
    std::memcpy(mine.in, in, inBytes);
  if (w.exited)
    fail(std::string(kindName(kind)) + " in a warp with " +
         std::to_string(w.exited) + " exited or missing lanes");
  const unsigned gen = w.gen;
  if (w.arrived == 0)
    w.pendingKind = kind;
  if (++w.arrived == 32) {
    for (int l = 0; l < 32; ++l)
      if (slots[l].kind != kind || slots[l].seq != seq)
        fail(std::string("warp divergence: lane ") + std::to_string(l) +
             " is at " + kindName(slots[l].kind) + " (#" +
             std::to_string(slots[l].seq) + "), lane " +
             std::to_string(f.lane) + " at " + kindName(kind) + " (#" +
             std::to_string(seq) + ")");
    compute(slots);
    w.arrived = 0;
    ++w.gen;
  } else {
    waitUntilChanged(&w.gen, gen, kindName(kind));
  }
  if (outBytes)
    std::memcpy(out, mine.out, outBytes);
}

/// A warpgroup rendezvous (wgmma.*: .sync.aligned over 128 threads): every
/// thread of the warpgroup deposits `in` (a pointer that stays valid while it
/// waits, e.g. to its registers); the last to arrive checks that all are at
/// the same kind of collective and runs compute(ins), which may write through
/// the pointers. The block must hold the whole warpgroup, none of it exited.
template <typename Compute>
inline void warpgroupCollective(int kind, const void *in, Compute compute) {
  Runner &r = runner();
  Fiber &f = *r.current;
  const unsigned wg = f.linear / 128, rank = f.linear % 128;
  if (wg >= r.warpgroups.size())
    fail(std::string(kindName(kind)) + ": thread " + std::to_string(f.linear) +
         " is not in a complete warpgroup (the block has " +
         std::to_string(r.threads) + " threads)");
  WarpgroupState &w = r.warpgroups[wg];
  const unsigned seq = f.wgCollectives++;
  w.slot[rank].kind = kind;
  w.slot[rank].seq = seq;
  w.slot[rank].in = in;
  for (unsigned q = 0; q < 4; ++q)
    if (r.warps[4 * wg + q].exited)
      fail(std::string(kindName(kind)) + " in a warpgroup with " +
           std::to_string(r.warps[4 * wg + q].exited) + " exited threads");
  const unsigned gen = w.gen;
  if (w.arrived == 0)
    w.pendingKind = kind;
  if (++w.arrived == 128) {
    const void *ins[128];
    for (int t = 0; t < 128; ++t) {
      if (w.slot[t].kind != kind || w.slot[t].seq != seq)
        fail(std::string("warpgroup divergence: thread ") +
             std::to_string(128 * wg + t) + " is at " +
             kindName(w.slot[t].kind) + " (#" + std::to_string(w.slot[t].seq) +
             "), thread " + std::to_string(f.linear) + " at " + kindName(kind) +
             " (#" + std::to_string(seq) + ")");
      ins[t] = w.slot[t].in;
    }
    compute(ins, w);
    w.arrived = 0;
    ++w.gen;
  } else {
    waitUntilChanged(&w.gen, gen, kindName(kind));
  }
}

inline void requireFullMask(unsigned mask, const char *what) {
  if (mask != 0xffffffffu)
    fail(std::string(what) + " with mask " + std::to_string(mask) +
         ": the emulator supports full-warp masks only");
}

/// Shuffle: lane l gets the value of lane src(l) (within segments of `width`).
template <typename T>
inline T shuffle(int kind, unsigned mask, T v, int param, int width) {
  static_assert(std::is_trivially_copyable<T>::value && sizeof(T) <= 16,
                "shuffle type");
  requireFullMask(mask, kindName(kind));
  struct In {
    T v;
    int param, width;
  } in{v, param, width};
  static_assert(sizeof(In) <= sizeof(Slot::in), "slot size");
  T out;
  warpCollective(kind, &in, sizeof in, &out, sizeof out, [kind](Slot(&s)[32]) {
    for (int l = 0; l < 32; ++l) {
      In a;
      std::memcpy(&a, s[l].in, sizeof a);
      const int wd = a.width, base = l & ~(wd - 1), rel = l - base;
      int src = l;
      if (kind == kShflIdx)
        src = base + ((a.param % wd) + wd) % wd;
      else if (kind == kShflXor)
        src = (rel ^ a.param) < wd ? base + (rel ^ a.param) : l;
      else if (kind == kShflUp)
        src = rel - a.param >= 0 ? l - a.param : l;
      else if (kind == kShflDown)
        src = rel + a.param < wd ? l + a.param : l;
      In b;
      std::memcpy(&b, s[src].in, sizeof b);
      std::memcpy(s[l].out, &b.v, sizeof(T));
    }
  });
  return out;
}

inline void checkWidth(int width) {
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail("shuffle width " + std::to_string(width) +
         " is not a power of two in [1, 32]");
}

} // namespace detail
} // namespace emu

// ---- Warp primitives --------------------------------------------------------

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  emu::detail::requireFullMask(mask, "__syncwarp");
  emu::detail::warpCollective(emu::detail::kSyncWarp, nullptr, 0, nullptr, 0,
                              [](emu::detail::Slot(&)[32]) {});
}

inline unsigned __activemask() {
  emu::detail::Runner &r = emu::detail::runner();
  const emu::detail::Fiber &me = *r.current;
  unsigned m = 0;
  for (unsigned l = 0; l < 32; ++l) {
    const unsigned t = me.warp * 32 + l;
    if (t < r.threads && r.fibers[t]->state != emu::detail::Fiber::kDone)
      m |= 1u << l;
  }
  return m;
}

template <typename T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
  emu::detail::checkWidth(width);
  return emu::detail::shuffle(emu::detail::kShflIdx, mask, v, src, width);
}
template <typename T>
inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
  emu::detail::checkWidth(width);
  return emu::detail::shuffle(emu::detail::kShflXor, mask, v, laneMask, width);
}
template <typename T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  emu::detail::checkWidth(width);
  return emu::detail::shuffle(emu::detail::kShflUp, mask, v, int(delta), width);
}
template <typename T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
  emu::detail::checkWidth(width);
  return emu::detail::shuffle(emu::detail::kShflDown, mask, v, int(delta),
                              width);
}

namespace emu {
namespace detail {
/// ballot / any / all: out = the ballot of every lane's predicate.
inline unsigned vote(int kind, unsigned mask, int pred) {
  requireFullMask(mask, kindName(kind));
  const int p = pred != 0;
  unsigned out;
  warpCollective(kind, &p, sizeof p, &out, sizeof out, [](Slot(&s)[32]) {
    unsigned b = 0;
    for (int l = 0; l < 32; ++l) {
      int v;
      std::memcpy(&v, s[l].in, sizeof v);
      b |= unsigned(v) << l;
    }
    for (int l = 0; l < 32; ++l)
      std::memcpy(s[l].out, &b, sizeof b);
  });
  return out;
}
} // namespace detail
} // namespace emu

inline unsigned __ballot_sync(unsigned mask, int pred) {
  return emu::detail::vote(emu::detail::kBallot, mask, pred);
}
inline int __any_sync(unsigned mask, int pred) {
  return emu::detail::vote(emu::detail::kAny, mask, pred) != 0;
}
inline int __all_sync(unsigned mask, int pred) {
  return emu::detail::vote(emu::detail::kAll, mask, pred) == 0xffffffffu;
}

template <typename T> inline unsigned __match_any_sync(unsigned mask, T value) {
  static_assert(std::is_integral<T>::value && sizeof(T) <= 8,
                "match_any: 32/64-bit integers");
  emu::detail::requireFullMask(mask, "__match_any_sync");
  const long long v = static_cast<long long>(value);
  unsigned out;
  emu::detail::warpCollective(emu::detail::kMatchAny, &v, sizeof v, &out,
                              sizeof out, [](emu::detail::Slot(&s)[32]) {
                                for (int l = 0; l < 32; ++l) {
                                  long long a, b;
                                  std::memcpy(&a, s[l].in, sizeof a);
                                  unsigned m = 0;
                                  for (int k = 0; k < 32; ++k) {
                                    std::memcpy(&b, s[k].in, sizeof b);
                                    m |= unsigned(a == b) << k;
                                  }
                                  std::memcpy(s[l].out, &m, sizeof m);
                                }
                              });
  return out;
}

#endif // MOELA_TEST_EMU_EMUCOLLECTIVES_H
