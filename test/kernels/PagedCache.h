//===- PagedCache.h - A latent cache in shuffled pages, for the cases -----===//
//
// The cache cases write their expectations against a contiguous cache
// [slots * maxSeq, width] (slot s, position p at row s * maxSeq + p). pageCache
// lays the same rows into pages of kKvPageTokens rows in a shuffled order, with
// the block tables that find them, so that every kernel and the host
// reference read through non-contiguous tables (rows past maxSeq are NaN).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_PAGEDCACHE_H
#define MOELA_TEST_KERNELS_PAGEDCACHE_H

#include "Tensor.h"

#include "host/Kernels.h"
#include "kernels/Args.h"

#include <vector>

namespace moela::cases {

struct PagedCache {
  int slots = 0, maxSeq = 0, perSeq = 0, width = 0;
  Tensor pages;               // [slots * perSeq * 64, width], the source's type
  std::vector<int32_t> table; // [slots, perSeq] page ids
  Tensor tableDev;            // the same on the device

  /// Row of (slot, position) in `pages`.
  int64_t row(int slot, int pos) const;
  /// Kernel arguments over `pages`.
  kernels::KvPages args() const;
  /// The host reference over `floats` (pages' values) with `table`.
  host::KvLayer layer(std::vector<float> &floats, int latent, int rope) const;
};

/// `contiguous` [slots * maxSeq, width] in pages shuffled by `rng`.
PagedCache pageCache(Rng &rng, const Tensor &contiguous, int slots, int maxSeq);

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_PAGEDCACHE_H
