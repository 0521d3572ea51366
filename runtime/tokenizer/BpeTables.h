//===- BpeTables.h - Flat hash tables for the BPE hot path ----------------===//
//
// Private to the runtime. Encoding does a merge-rule lookup per adjacent
// symbol pair and a cache lookup per word; std::unordered_map's node chasing
// and modulo hashing dominated profiles, so both live in open-addressing
// tables with linear probing and power-of-two sizes.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_BPETABLES_H
#define MOELA_RUNTIME_BPETABLES_H

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace moela {

inline uint64_t mixBits(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  return x;
}

/// (left id, right id) -> (rank, merged id). Built once, read-only after.
class MergeTable {
public:
  struct Rule {
    int32_t rank = -1; // -1: empty slot
    int32_t merged = -1;
  };

  explicit MergeTable(size_t entries) {
    size_t n = 16;
    while (n < entries * 2)
      n *= 2;
    slots.assign(n, Slot());
    mask = n - 1;
  }

  /// Inserts unless the pair is present (the lowest rank is added first).
  void insert(int32_t left, int32_t right, Rule rule) {
    uint64_t key = pairKey(left, right);
    for (size_t i = mixBits(key) & mask;; i = (i + 1) & mask) {
      if (slots[i].rule.rank < 0) {
        slots[i] = {key, rule};
        return;
      }
      if (slots[i].key == key)
        return;
    }
  }

  /// The rule merging `left` and `right`, or nullptr.
  const Rule *find(int32_t left, int32_t right) const {
    uint64_t key = pairKey(left, right);
    for (size_t i = mixBits(key) & mask;; i = (i + 1) & mask) {
      if (slots[i].rule.rank < 0)
        return nullptr;
      if (slots[i].key == key)
        return &slots[i].rule;
    }
  }

private:
  static uint64_t pairKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  // Key and value side by side: one cache line per probe.
  struct Slot {
    uint64_t key = 0;
    Rule rule;
  };
  std::vector<Slot> slots;
  size_t mask;
};

/// word bytes -> token ids, with a fixed capacity: once full it stops
/// growing (as Hugging Face's cache does) instead of evicting.
class WordCache {
public:
  explicit WordCache(size_t capacity) : capacity(capacity) {}

  /// Appends the cached ids of `word` to `out`; false if absent.
  bool lookup(std::string_view word, uint64_t hash,
              std::vector<int32_t> &out) const {
    if (slots.empty())
      return false;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot &s = slots[i];
      if (s.idCount == 0)
        return false;
      if (s.hash == hash && s.keyLength == word.size() &&
          std::memcmp(keys.data() + s.keyOffset, word.data(), word.size()) ==
              0) {
        out.insert(out.end(), ids.begin() + s.idOffset,
                   ids.begin() + s.idOffset + s.idCount);
        return true;
      }
    }
  }

  /// Caches `tokens` (non-empty) for `word`, unless full.
  void insert(std::string_view word, uint64_t hash, const int32_t *tokens,
              size_t count) {
    if (size >= capacity || count == 0 || count > UINT16_MAX ||
        word.size() > UINT16_MAX || keys.size() + word.size() > UINT32_MAX ||
        ids.size() + count > UINT32_MAX)
      return;
    if (slots.empty()) {
      size_t n = 16;
      while (n < capacity * 2)
        n *= 2;
      slots.assign(n, Slot());
      mask = n - 1;
    }
    size_t i = hash & mask;
    for (; slots[i].idCount != 0; i = (i + 1) & mask)
      if (slots[i].hash == hash && slots[i].keyLength == word.size() &&
          std::memcmp(keys.data() + slots[i].keyOffset, word.data(),
                      word.size()) == 0)
        return; // another thread got there first
    slots[i] = {hash, static_cast<uint32_t>(keys.size()),
                static_cast<uint32_t>(ids.size()),
                static_cast<uint16_t>(word.size()),
                static_cast<uint16_t>(count)};
    keys.append(word);
    ids.insert(ids.end(), tokens, tokens + count);
    ++size;
  }

  static uint64_t hashOf(std::string_view word) {
    uint64_t h = 0xCBF29CE484222325ull; // FNV-1a, then mixed
    for (char c : word)
      h = (h ^ static_cast<unsigned char>(c)) * 0x100000001B3ull;
    return mixBits(h);
  }

private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t keyOffset = 0;
    uint32_t idOffset = 0;
    uint16_t keyLength = 0;
    uint16_t idCount = 0; // 0: empty slot
  };
  size_t capacity;
  size_t size = 0;
  size_t mask = 0;
  std::vector<Slot> slots;
  std::string keys;         // all cached words back to back
  std::vector<int32_t> ids; // all cached token ids back to back
};

} // namespace moela

#endif // MOELA_RUNTIME_BPETABLES_H
