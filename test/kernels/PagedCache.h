//===- PagedCache.h - A latent cache in shuffled pages, for the cases -----===//
//
// The cache cases write their expectations against a contiguous cache
// [slots * maxSeq, width] (slot s, position p at row s * maxSeq + p). pageCache
// lays the same rows into pages of kKvPageTokens rows in a shuffled order, with
// the block tables that find them, so that every kernel and the host
// reference read through non-contiguous tables (rows past maxSeq are NaN).
// With fp8 the pages hold e4m3 codes with a f32 scale per 128 columns of a
// row, quantized as KvAppend does (docs/model.md §3.4).
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
  Tensor scales;              // fp8: [rows of pages, kvFp8Scales(width)] f32
  std::vector<int32_t> table; // [slots, perSeq] page ids
  Tensor tableDev;            // the same on the device
  bool fp8 = false;

  /// Row of (slot, position) in `pages`.
  int64_t row(int slot, int pos) const;
  /// Kernel arguments over `pages`.
  kernels::KvPages args() const;
  /// What the rows hold as f32: the pages' values, or codes times scales.
  std::vector<float> values() const;
  /// The host reference over `floats` (values()) with `table`.
  host::KvLayer layer(std::vector<float> &floats, int latent, int rope) const;
};

/// `contiguous` [slots * maxSeq, width] in pages shuffled by `rng`, as e4m3
/// with `fp8`.
PagedCache pageCache(Rng &rng, const Tensor &contiguous, int slots, int maxSeq,
                     bool fp8 = false);

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_PAGEDCACHE_H
