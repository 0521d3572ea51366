//===- ShareIds.h - Rank 0's token ids on every rank ---------------*- C++
//-*-===//
#ifndef MOELA_TOOLS_RUN_SHAREIDS_H
#define MOELA_TOOLS_RUN_SHAREIDS_H

#include <cstdint>
#include <vector>

namespace moela {
class Communicator;
} // namespace moela

namespace moela::runtool {

/// Rank 0's id sequences on every rank: count, lengths, then the ids. A
/// no-op for a single process.
void shareIdArrays(Communicator &comm,
                   std::vector<std::vector<int32_t>> &arrays);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_SHAREIDS_H
