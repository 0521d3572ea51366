//===- Collectives.cpp - AllReduce and AllGather steps on the host --------===//
//
// The views of a step are column ranges of wider buffers, so each collective
// packs its rows into one contiguous block, hands that to the Communicator
// and unpacks the result. Every rank calls these in the same step order with
// the same shapes (docs/plan-format.md), which is what MPI's collectives ask.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Error.h"

#include <algorithm>
#include <vector>

namespace moela::host {

void allReduce(Communicator &comm, CMat x, Mat y) {
  if (x.rows != y.rows || x.cols != y.cols)
    fail("all-reduce of [", x.rows, ", ", x.cols, "] into [", y.rows, ", ",
         y.cols, "]");
  std::vector<float> block(size_t(x.rows * x.cols)); // [T, N]
  for (int64_t t = 0; t < x.rows; ++t)
    std::copy(x.row(t), x.row(t) + x.cols, block.begin() + t * x.cols);
  comm.allReduceSum(block.data(), block.size());
  for (int64_t t = 0; t < y.rows; ++t)
    std::copy(block.begin() + t * y.cols, block.begin() + (t + 1) * y.cols,
              y.row(t));
}

void allGather(Communicator &comm, CMat x, Mat y) {
  const int64_t ranks = comm.size();
  if (x.rows != y.rows || y.cols != ranks * x.cols)
    fail("all-gather of [", x.rows, ", ", x.cols, "] from ", ranks,
         " ranks into [", y.rows, ", ", y.cols, "]");
  const int64_t count = x.rows * x.cols;
  std::vector<float> mine(static_cast<size_t>(count)); // [T, C]
  std::vector<float> all(size_t(ranks * count));       // [N, T, C]
  for (int64_t t = 0; t < x.rows; ++t)
    std::copy(x.row(t), x.row(t) + x.cols, mine.begin() + t * x.cols);
  comm.allGather(mine.data(), size_t(count), all.data());
  for (int64_t r = 0; r < ranks; ++r)
    for (int64_t t = 0; t < y.rows; ++t) {
      const float *src = all.data() + r * count + t * x.cols;
      std::copy(src, src + x.cols, y.row(t) + r * x.cols);
    }
}

} // namespace moela::host
