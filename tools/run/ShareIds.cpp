//===- ShareIds.cpp - Rank 0's token ids on every rank --------------------===//
#include "run/ShareIds.h"

#include "moela/Runtime/Communicator.h"

namespace moela::runtool {

void shareIdArrays(Communicator &comm,
                   std::vector<std::vector<int32_t>> &arrays) {
  if (comm.size() == 1)
    return;
  int64_t count = int64_t(arrays.size());
  comm.broadcast(&count, sizeof(count), 0);
  std::vector<int64_t> lengths(size_t(count), 0);
  for (size_t i = 0; i < arrays.size(); ++i)
    lengths[i] = int64_t(arrays[i].size());
  comm.broadcast(lengths.data(), lengths.size() * sizeof(int64_t), 0);
  arrays.resize(size_t(count));
  for (size_t i = 0; i < arrays.size(); ++i) {
    arrays[i].resize(size_t(lengths[i]));
    comm.broadcast(arrays[i].data(), arrays[i].size() * sizeof(int32_t), 0);
  }
}

} // namespace moela::runtool
