//===- LoadProgress.cpp - Weight loading, shown as it goes ----------------===//
#include "run/LoadProgress.h"

#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace fs = std::filesystem;

namespace moela::runtool {

namespace {

std::string mib(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f MiB", bytes / (1024.0 * 1024.0));
  return text;
}

} // namespace

LoadProgress::LoadProgress(WeightSource &inner, int64_t totalBytes, bool quiet,
                           const char *tool)
    : inner(inner), totalBytes(totalBytes), quiet(quiet),
      terminal(isatty(STDERR_FILENO) != 0), tool(tool),
      start(std::chrono::steady_clock::now()) {}

std::string LoadProgress::text() const {
  std::string line =
      std::to_string(tensors.load()) + " tensors, " + mib(bytes.load());
  if (totalBytes > 0)
    line += " of " + mib(totalBytes);
  return line;
}

void LoadProgress::count(int64_t n) {
  tensors += 1;
  bytes += n;
  if (quiet || !terminal)
    return;
  // Redrawn at most ten times a second; loads run on several threads.
  std::lock_guard<std::mutex> lock(printing);
  const auto now = std::chrono::steady_clock::now();
  if (now - lastDrawn < std::chrono::milliseconds(100))
    return;
  lastDrawn = now;
  std::fprintf(stderr, "\r%s: loading weights: %s\033[K", tool, text().c_str());
  std::fflush(stderr);
}

std::vector<float> LoadProgress::loadF32(const TensorSpec &spec) {
  std::vector<float> values = inner.loadF32(spec);
  count(static_cast<int64_t>(values.size() * sizeof(float)));
  return values;
}

RawTensor LoadProgress::loadRaw(const TensorSpec &spec) {
  RawTensor raw = inner.loadRaw(spec);
  count(static_cast<int64_t>(raw.data.size() +
                             raw.scales.size() * sizeof(float)));
  return raw;
}

RawWindow LoadProgress::loadRawWindow(const TensorSpec &spec) {
  RawWindow window = inner.loadRawWindow(spec);
  count(static_cast<int64_t>(window.raw.data.size() +
                             window.raw.scales.size() * sizeof(float)));
  return window;
}

void LoadProgress::finish() {
  if (quiet)
    return;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::fprintf(stderr, "%s%s: loaded %s in %.3f s%s\n", terminal ? "\r" : "",
               tool, text().c_str(), seconds, terminal ? "\033[K" : "");
}

int64_t checkpointBytes(const std::string &path) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec))
    return static_cast<int64_t>(fs::file_size(path, ec));
  // The files the checkpoint reader opens (moela::Checkpoint): a sharded
  // model's model-*.safetensors, else model.safetensors; others in the
  // folder (test goldens) are not the model.
  int64_t total = 0;
  for (const auto &entry : fs::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("model", 0) == 0 &&
        entry.path().extension() == ".safetensors" && entry.is_regular_file())
      total += static_cast<int64_t>(entry.file_size(ec));
  }
  return total;
}

} // namespace moela::runtool
