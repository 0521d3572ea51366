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
  allGatherColumns(comm, x.data, x.rows, x.cols, x.stride, y.data, y.stride);
}

} // namespace moela::host
