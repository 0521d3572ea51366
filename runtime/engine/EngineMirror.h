//===- EngineMirror.h - Rank 0's engine calls, replayed by the others -----===//
//
// A multi-rank server schedules on rank 0 only; the other ranks must run the
// same engine calls in the same order (their collectives pair with rank 0's).
// Rank 0 broadcasts each call that changes an engine's state before making
// it; the others receive and replay them until stop(). Private to the
// runtime's engine folder.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_ENGINE_ENGINEMIRROR_H
#define MOELA_RUNTIME_ENGINE_ENGINEMIRROR_H

#include <cstdint>
#include <string>
#include <vector>

namespace moela {

class Communicator;
class Engine;
struct RowSampling;

class EngineMirror {
public:
  explicit EngineMirror(Communicator &comm) : comm(comm) {}

  // Rank 0: the call about to be made.
  void reset(int slot);
  void reusePrefix(int slot, const std::vector<int32_t> &tokens);
  /// feedAndSample(tokens, rows): the others replay it with the same rows,
  /// so that every rank runs the same steps and collectives (a plan's
  /// collectives, and which outputs are fetched, depend on the sampling).
  void feedAndSample(const std::vector<std::vector<int32_t>> &tokens,
                     const std::vector<RowSampling> &rows);
  void stop();
  /// Ends every rank (an engine error on rank 0).
  [[noreturn]] void abort(const std::string &message);

  /// The other ranks: replays rank 0's calls on `engine` until stop(); an
  /// engine error ends every rank.
  void follow(Engine &engine);

private:
  void send(const std::vector<int32_t> &message);
  std::vector<int32_t> receive();

  Communicator &comm;
};

} // namespace moela

#endif // MOELA_RUNTIME_ENGINE_ENGINEMIRROR_H
