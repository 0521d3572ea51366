//===- Bpe.h - Byte-pair merging of one pre-token -------------------------===//
//
// Private to the runtime. Works on raw bytes: the vocabulary arrives already
// mapped back from the byte-level alphabet. A word starts as one symbol per
// byte and the lowest-ranked adjacent pair is merged until none is left
// (ties: leftmost first), exactly Hugging Face's BPE without dropout. Merges
// are found in a flat hash table keyed by the id pair, and a min-heap over
// (rank, position) with a linked list of symbols keeps a word O(n log n).
// Results are cached per word, since natural text repeats words constantly.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_BPE_H
#define MOELA_RUNTIME_BPE_H

#include "BpeTables.h"

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace moela {

class Bpe {
public:
  /// Merge rule of rank = its index: `left` + `right` -> `merged`.
  struct Merge {
    int32_t left, right, merged;
  };

  /// `byteIds[b]` is the token of the single byte b. With `ignoreMerges`, a
  /// word that is itself in `vocab` (raw bytes -> id) maps to that id
  /// directly. At most `cacheEntries` words (of up to kMaxCachedWord bytes)
  /// are cached; 0 disables the cache.
  Bpe(const std::array<int32_t, 256> &byteIds, const std::vector<Merge> &merges,
      std::unordered_map<std::string, int32_t> vocab, bool ignoreMerges,
      size_t cacheEntries);

  /// Appends the tokens of `word` (non-empty bytes) to `out`. Thread-safe.
  void encode(std::string_view word, std::vector<int32_t> &out) const;

  static constexpr size_t kMaxCachedWord = 64;

private:
  void merge(std::string_view word, std::vector<int32_t> &out) const;

  std::array<int32_t, 256> byteIds;
  MergeTable rules;
  std::unordered_map<std::string, int32_t> vocab; // only with ignoreMerges
  bool ignoreMerges;
  size_t cacheEntries;
  mutable std::mutex cacheMutex;
  mutable WordCache cache;
};

} // namespace moela

#endif // MOELA_RUNTIME_BPE_H
