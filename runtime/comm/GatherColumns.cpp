//===- GatherColumns.cpp - The ranks' column blocks side by side ----------===//
//
// Communicator::allGather concatenates the ranks' contiguous blocks; a
// vocab-parallel or sharded result wants them as columns of each row. Both
// backends' AllGather steps and the runtime's gather of sharded logits use
// this one rearrangement.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Communicator.h"

#include <algorithm>
#include <vector>

namespace moela {

void allGatherColumns(Communicator &comm, const float *x, int64_t rows,
                      int64_t cols, int64_t xLd, float *y, int64_t yLd) {
  const int64_t ranks = comm.size(), count = rows * cols;
  std::vector<float> mine(static_cast<size_t>(count));        // [T, C]
  std::vector<float> all(static_cast<size_t>(ranks * count)); // [N, T, C]
  for (int64_t t = 0; t < rows; ++t)
    std::copy(x + t * xLd, x + t * xLd + cols, mine.begin() + t * cols);
  comm.allGather(mine.data(), static_cast<size_t>(count), all.data());
  for (int64_t r = 0; r < ranks; ++r)
    for (int64_t t = 0; t < rows; ++t) {
      const float *src = all.data() + r * count + t * cols;
      std::copy(src, src + cols, y + t * yLd + r * cols);
    }
}

} // namespace moela
