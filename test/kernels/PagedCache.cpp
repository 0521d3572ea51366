//===- PagedCache.cpp - A latent cache in shuffled pages, for the cases ---===//
#include "PagedCache.h"

#include "kernels/Abi.h"
#include "moela/Runtime/DType.h"

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
  return kernels::KvPages{pages.dev(), fp8 ? scales.devAs<float>() : nullptr,
                          tableDev.devAs<int>(), perSeq};
}

std::vector<float> PagedCache::values() const {
  std::vector<float> v = pages.floats();
  if (fp8) {
    const std::vector<float> s = scales.floats();
    const int blocks = abi::kvFp8Scales(width);
    for (size_t i = 0; i < v.size(); ++i)
      v[i] *= s[i / size_t(width) * blocks + i % size_t(width) / 128];
  }
  return v;
}

host::KvLayer PagedCache::layer(std::vector<float> &floats, int latent,
                                int rope) const {
  host::KvLayer l;
  l.data = floats.data();
  l.pages = slots * perSeq;
  l.latent = latent;
  l.rope = rope;
  l.blockTables = table.data();
  l.fp8 = fp8;
  l.pagesPerSeq = perSeq;
  return l;
}

PagedCache pageCache(Rng &rng, const Tensor &contiguous, int slots, int maxSeq,
                     bool fp8) {
  PagedCache c;
  c.fp8 = fp8;
  c.slots = slots;
  c.maxSeq = maxSeq;
  c.perSeq = (maxSeq + abi::kKvPageTokens - 1) / abi::kKvPageTokens;
  c.width = int(contiguous.cols());
  c.table.resize(size_t(slots) * c.perSeq);
  std::iota(c.table.begin(), c.table.end(), 0);
  std::shuffle(c.table.begin(), c.table.end(), rng.engine());
  c.tableDev = fromInts(c.table, slots, c.perSeq);
  const int64_t rows = int64_t(c.table.size()) * abi::kKvPageTokens;
  c.pages = Tensor(fp8 ? Ty::F8 : contiguous.ty(), rows, c.width);
  // Rows of (slot, position): the source's row, NaN past maxSeq.
  std::vector<int64_t> source(size_t(c.pages.rows()), -1);
  for (int s = 0; s < slots; ++s)
    for (int p = 0; p < maxSeq; ++p)
      source[size_t(c.row(s, p))] = int64_t(s) * maxSeq + p;
  const std::vector<float> values = contiguous.floats();
  if (!fp8) {
    c.pages.fill([&](int64_t r, int64_t j) {
      const int64_t from = source[size_t(r)];
      return from < 0 ? NAN : values[size_t(from * c.width + j)];
    });
    return c;
  }
  // Per row and 128-column block: s = max(amax, 1e-4) / 448, e4m3(v / s).
  const int blocks = abi::kvFp8Scales(c.width);
  c.scales = Tensor(Ty::F32, rows, blocks);
  c.scales.fill([&](int64_t r, int64_t b) {
    const int64_t from = source[size_t(r)];
    if (from < 0)
      return 1.0f;
    float amax = 0;
    for (int64_t j = b * 128; j < std::min<int64_t>(c.width, b * 128 + 128);
         ++j)
      amax = std::max(amax, std::fabs(values[size_t(from * c.width + j)]));
    return std::max(amax, 1e-4f) / 448.0f;
  });
  const std::vector<float> s = c.scales.floats();
  c.pages.fillCodes([&](int64_t r, int64_t j) -> uint8_t {
    const int64_t from = source[size_t(r)];
    if (from < 0)
      return 0x7f; // NaN
    return floatToE4m3(values[size_t(from * c.width + j)] /
                       s[size_t(r * blocks + j / 128)]);
  });
  return c;
}

} // namespace moela::cases
