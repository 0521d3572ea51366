//===- KernelCache.h - NVRTC results on disk, checked before use (internal)
//===//
//
// One file per compilation, named by the SHA-256 of its key material (NVRTC
// version, name, source, flags, device headers). A hit is trusted only after
// checking it: the entry stores the material's digest and a digest of its
// payload, so a renamed, colliding, truncated or corrupted entry reads as a
// miss and is compiled again. Entries are written to a temporary file and
// renamed; after each write the oldest entries (by mtime, refreshed on every
// hit) are removed until the cache is within its size bound.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_CUDA_KERNELCACHE_H
#define MOELA_RUNTIME_CUDA_KERNELCACHE_H

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace moela {

/// What a compilation leaves: the cubin and NVRTC's log (the ptxas report).
struct KernelCacheEntry {
  std::vector<uint8_t> cubin;
  std::string log;
};

/// The bound when $MOELA_CACHE_MAX_MB is not set: 1 GiB.
constexpr uint64_t kDefaultKernelCacheBytes = uint64_t(1) << 30;

/// $MOELA_CACHE_MAX_MB in bytes, else kDefaultKernelCacheBytes; throws
/// moela::Error naming the variable for anything but a whole number.
uint64_t kernelCacheMaxBytes();

class KernelCache {
public:
  KernelCache(std::filesystem::path dir, uint64_t maxBytes)
      : dir_(std::move(dir)), maxBytes_(maxBytes) {}

  /// The entry made from exactly `material`, if the cache holds an intact one.
  std::optional<KernelCacheEntry> load(const std::string &material) const;
  /// Writes the entry for `material` atomically, then prunes to the bound.
  /// An unwritable cache is not an error: the entry is just not kept.
  void store(const std::string &material, const KernelCacheEntry &entry) const;
  /// The file that holds the entry for `material`.
  std::filesystem::path pathFor(const std::string &material) const;

private:
  /// Removes the oldest entries, `keep` last, until within the bound.
  void prune(const std::filesystem::path &keep) const;

  std::filesystem::path dir_;
  uint64_t maxBytes_;
};

} // namespace moela

#endif // MOELA_RUNTIME_CUDA_KERNELCACHE_H
