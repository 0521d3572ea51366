//===- ThreadPool.h - parallelFor over all cores for the host backend -----===//
#ifndef MOELA_RUNTIME_THREADPOOL_H
#define MOELA_RUNTIME_THREADPOOL_H

#include <cstdint>
#include <functional>

namespace moela {

/// Number of worker threads parallelFor uses (hardware concurrency, or the
/// MOELA_NUM_THREADS environment variable).
int hostThreadCount();

/// Runs body(begin, end) over [0, n) split into contiguous chunks of at least
/// `grain` items, on a process-wide pool. Blocks until all chunks are done.
/// Nested calls from inside a body run serially.
void parallelFor(int64_t n, int64_t grain,
                 const std::function<void(int64_t, int64_t)> &body);

} // namespace moela

#endif // MOELA_RUNTIME_THREADPOOL_H
