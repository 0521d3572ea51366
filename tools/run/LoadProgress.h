//===- LoadProgress.h - Weight loading, shown as it goes ----------*- C++
//-*-===//
//
// A WeightSource that counts what the engine loads through it: on a terminal
// a progress line redrawn in place (tensors, and bytes of the checkpoint's
// size), elsewhere one summary line when loading is done, so logs stay short.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_RUN_LOADPROGRESS_H
#define MOELA_TOOLS_RUN_LOADPROGRESS_H

#include "moela/Runtime/Weights.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

namespace moela::runtool {

class LoadProgress : public WeightSource {
public:
  /// `totalBytes`: the checkpoint's size (0 = unknown, e.g. random weights).
  /// Nothing is printed when `quiet`; lines start with `tool`.
  LoadProgress(WeightSource &inner, int64_t totalBytes, bool quiet,
               const char *tool = "moela-run");
  std::vector<float> loadF32(const TensorSpec &spec) override;
  RawTensor loadRaw(const TensorSpec &spec) override;
  RawWindow loadRawWindow(const TensorSpec &spec) override;
  std::string describe() const override { return inner.describe(); }
  /// Ends the progress line, or prints the summary line.
  void finish();

private:
  void count(int64_t bytes);
  std::string text() const;

  WeightSource &inner;
  const int64_t totalBytes;
  const bool quiet, terminal;
  const char *tool;
  const std::chrono::steady_clock::time_point start;
  std::atomic<int64_t> tensors{0}, bytes{0};
  std::mutex printing;
  std::chrono::steady_clock::time_point lastDrawn;
};

/// The size of the safetensors files of a checkpoint folder or file (0 when
/// none is found).
int64_t checkpointBytes(const std::string &path);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_LOADPROGRESS_H
