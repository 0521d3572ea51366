//===- PagedCache.cpp - A latent cache in shuffled pages, for the cases ---===//
#include "PagedCache.h"

#include "kernels/Abi.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace moela::cases {

int64_t PagedCache::row(int slot, int pos) const {
  return int64_t(table[size_t(slot) * perSeq + pos / abi::kKvPageTokens]) *
             abi::kKvPageTokens +
         pos % abi::kKvPageTokens;
}

kernels::KvPages PagedCache::args() const {
  return kernels::KvPages{pages.dev(), tableDev.devAs<int>(), perSeq};
}

host::KvLayer PagedCache::layer(std::vector<float> &floats, int latent,
                                int rope) const {
  host::KvLayer l;
  l.data = floats.data();
  l.pages = slots * perSeq;
  l.latent = latent;
  l.rope = rope;
  l.blockTables = table.data();
  l.pagesPerSeq = perSeq;
  return l;
}

PagedCache pageCache(Rng &rng, const Tensor &contiguous, int slots,
                     int maxSeq) {
  PagedCache c;
  c.slots = slots;
  c.maxSeq = maxSeq;
  c.perSeq = (maxSeq + abi::kKvPageTokens - 1) / abi::kKvPageTokens;
  c.width = int(contiguous.cols());
  c.table.resize(size_t(slots) * c.perSeq);
  std::iota(c.table.begin(), c.table.end(), 0);
  std::shuffle(c.table.begin(), c.table.end(), rng.engine());
  c.tableDev = fromInts(c.table, slots, c.perSeq);
  c.pages = Tensor(contiguous.ty(),
                   int64_t(c.table.size()) * abi::kKvPageTokens, c.width);
  // Rows of (slot, position): the source's row, NaN past maxSeq.
  std::vector<int64_t> source(size_t(c.pages.rows()), -1);
  for (int s = 0; s < slots; ++s)
    for (int p = 0; p < maxSeq; ++p)
      source[size_t(c.row(s, p))] = int64_t(s) * maxSeq + p;
  const std::vector<float> values = contiguous.floats();
  c.pages.fill([&](int64_t r, int64_t j) {
    const int64_t from = source[size_t(r)];
    return from < 0 ? NAN : values[size_t(from * c.width + j)];
  });
  return c;
}

} // namespace moela::cases
