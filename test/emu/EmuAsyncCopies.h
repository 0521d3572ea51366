//===- EmuAsyncCopies.h - Asynchronous copies land at synchronisation -----===//
//
// The emulated driver (EmuDriver.cpp) runs stream work when it is enqueued,
// so without help a host that reads a cuMemcpyDtoHAsync destination before
// synchronising its stream would read the right values, and one that
// rewrites a pinned cuMemcpyHtoDAsync source too early would not corrupt
// anything. On a GPU both are races. AsyncCopies makes them visible:
//
//  - a device-to-host copy keeps the device bytes as they are in stream
//    order and fills the destination with 0xff (NaN in every float format)
//    until a synchronisation delivers it;
//  - a host-to-device copy from pinned memory (cuMemAllocHost: the GPU reads
//    it while the copy runs; pageable sources are staged before the call
//    returns) keeps the bytes it read, and the synchronisation that
//    completes it fails if the host changed them since.
//
// Copies carry a sequence number, so an event delivers only those enqueued
// before it. MOELA_EMU_EAGER_COPIES=1 delivers every copy at once instead.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUASYNCCOPIES_H
#define MOELA_TEST_EMU_EMUASYNCCOPIES_H

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace emu {
namespace driver {

class AsyncCopies {
public:
  AsyncCopies() {
    const char *e = std::getenv("MOELA_EMU_EAGER_COPIES");
    eager_ = e && *e && std::strcmp(e, "0") != 0;
  }

  /// [p, p + bytes) is pinned host memory (cuMemAllocHost) until unpinned.
  void pinned(const void *p, size_t bytes) {
    std::lock_guard<std::mutex> lock(m_);
    pinned_[reinterpret_cast<uintptr_t>(p)] = bytes;
  }
  /// cuMemFreeHost: copies still pending into or from it are dropped (a
  /// late delivery would write freed memory).
  void unpinned(const void *p) {
    std::lock_guard<std::mutex> lock(m_);
    auto it = pinned_.find(reinterpret_cast<uintptr_t>(p));
    if (it == pinned_.end())
      return;
    const uintptr_t begin = it->first, end = it->first + it->second;
    std::vector<Copy> kept;
    for (Copy &c : pending_) {
      const uintptr_t a = reinterpret_cast<uintptr_t>(c.host);
      if (a < begin || a >= end)
        kept.push_back(std::move(c));
    }
    pending_ = std::move(kept);
    pinned_.erase(it);
  }

  /// A cuMemcpyDtoHAsync of `stream` reaching its turn: `src` as it is now
  /// reaches `dst` at the synchronisation; until then dst holds 0xff.
  void toHost(const void *stream, void *dst, const void *src, size_t bytes) {
    std::lock_guard<std::mutex> lock(m_);
    if (eager_) {
      std::memcpy(dst, src, bytes);
      return;
    }
    const auto *s = static_cast<const unsigned char *>(src);
    pending_.push_back(
        {stream, next_++, true, dst, std::vector<unsigned char>(s, s + bytes)});
    std::memset(dst, 0xff, bytes);
  }

  /// A cuMemcpyHtoDAsync of `stream` that read `src` now: a pinned source
  /// must not change until the synchronisation.
  void fromHost(const void *stream, const void *src, size_t bytes) {
    std::lock_guard<std::mutex> lock(m_);
    if (eager_ || !isPinned(src))
      return;
    const auto *s = static_cast<const unsigned char *>(src);
    pending_.push_back({stream, next_++, false, const_cast<void *>(src),
                        std::vector<unsigned char>(s, s + bytes)});
  }

  /// The sequence number the next copy gets (an event recorded now covers
  /// the copies below it).
  uint64_t enqueued() {
    std::lock_guard<std::mutex> lock(m_);
    return next_;
  }

  /// Completes the copies of `stream` (every stream: nullptr) numbered below
  /// `before`. Returns why the host raced with one, or "".
  std::string deliver(const void *stream, uint64_t before = ~uint64_t(0)) {
    std::lock_guard<std::mutex> lock(m_);
    std::string why;
    std::vector<Copy> kept;
    for (Copy &c : pending_) {
      if ((stream && c.stream != stream) || c.seq >= before) {
        kept.push_back(std::move(c));
        continue;
      }
      if (c.toHost)
        std::memcpy(c.host, c.bytes.data(), c.bytes.size());
      else if (why.empty() &&
               std::memcmp(c.host, c.bytes.data(), c.bytes.size()) != 0)
        why = "the host wrote pinned memory at " + hex(c.host) + " (" +
              std::to_string(c.bytes.size()) +
              " bytes) that a cuMemcpyHtoDAsync enqueued before this "
              "synchronisation reads (a GPU may copy it at any time until "
              "then)";
    }
    pending_ = std::move(kept);
    return why;
  }

private:
  struct Copy {
    const void *stream;
    uint64_t seq;
    bool toHost; // device to host (else a pinned source to check)
    void *host;
    std::vector<unsigned char> bytes;
  };

  bool isPinned(const void *p) const {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    auto it = pinned_.upper_bound(a);
    return it != pinned_.begin() &&
           a < std::prev(it)->first + std::prev(it)->second;
  }
  static std::string hex(const void *p) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%p", p);
    return buf;
  }

  std::mutex m_;
  bool eager_ = false;
  std::map<uintptr_t, size_t> pinned_;
  std::vector<Copy> pending_;
  uint64_t next_ = 0;
};

} // namespace driver
} // namespace emu

#endif // MOELA_TEST_EMU_EMUASYNCCOPIES_H
