//===- Communicator.h - The collectives of a multi-device run -------------===//
//
// A plan compiled for N ranks (moela-compile --tp N, docs/parallel.md) runs as
// N processes that exchange activations through a Communicator: the host
// backend's AllReduce / AllGather steps, the engine's broadcast of the sampled
// tokens, and the abort that ends every rank when one fails. One interface,
// one implementation per transport: a single process (world of 1) and MPI
// (runtime/comm). Every rank calls the same collectives in the same order.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_COMMUNICATOR_H
#define MOELA_RUNTIME_COMMUNICATOR_H

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace moela {

class Communicator {
public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// x[i] = the sum over ranks of x[i] [count]; bit-identical on every rank.
  virtual void allReduceSum(float *x, size_t count) = 0;
  /// out [size * count] = rank 0's `in`, then rank 1's, ...
  virtual void allGather(const float *in, size_t count, float *out) = 0;
  /// `bytes` of `data` from rank `root` to every rank.
  virtual void broadcast(void *data, size_t bytes, int root) = 0;
  /// Ends every rank of the run with a non-zero exit after printing
  /// "<tool>: rank R: <message>" on this one; the others end within seconds.
  [[noreturn]] virtual void abort(const std::string &message) = 0;
  /// "single process" or "MPI, rank 1 of 4 on host-a".
  virtual std::string describe() const = 0;
};

/// Every rank's `rows` x `cols` block (row t at x + t * xLd) side by side by
/// columns, rank 0 first: y [rows, size * cols] (row t at y + t * yLd). A
/// collective: every rank calls it with the same rows and cols.
void allGatherColumns(Communicator &comm, const float *x, int64_t rows,
                      int64_t cols, int64_t xLd, float *y, int64_t yLd);

/// A world of one: collectives are copies, abort exits.
std::unique_ptr<Communicator> makeSingleProcessCommunicator();

/// Whether this binary was built with MPI, and whether it was started by an
/// MPI launcher (mpirun sets OMPI_COMM_WORLD_SIZE / PMI_SIZE).
bool mpiAvailable();
bool launchedByMpi();

/// Initializes MPI (once per process) and returns the world communicator;
/// throws moela::Error when the binary was built without MPI.
std::unique_ptr<Communicator> makeMpiCommunicator();

/// The communicator of this process: MPI's world when an MPI launcher
/// started it, else a world of one.
std::unique_ptr<Communicator> makeLaunchedCommunicator();

} // namespace moela

#endif // MOELA_RUNTIME_COMMUNICATOR_H
