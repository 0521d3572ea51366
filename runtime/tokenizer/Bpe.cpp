//===- Bpe.cpp - Byte-pair merging of one pre-token -----------------------===//
#include "Bpe.h"

#include <algorithm>

namespace moela {

Bpe::Bpe(const std::array<int32_t, 256> &byteIds,
         const std::vector<Merge> &merges,
         std::unordered_map<std::string, int32_t> vocab, bool ignoreMerges,
         size_t cacheEntries)
    : byteIds(byteIds), rules(merges.size()), ignoreMerges(ignoreMerges),
      cacheEntries(cacheEntries), cache(cacheEntries) {
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const Merge &m = merges[rank];
    // The first rule for a pair wins, as in Hugging Face.
    rules.insert(m.left, m.right, {static_cast<int32_t>(rank), m.merged});
  }
  if (ignoreMerges)
    this->vocab = std::move(vocab);
}

void Bpe::encode(std::string_view word, std::vector<int32_t> &out) const {
  if (ignoreMerges) {
    auto it = vocab.find(std::string(word));
    if (it != vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  if (word.size() == 1) {
    out.push_back(byteIds[static_cast<unsigned char>(word[0])]);
    return;
  }
  const bool cacheable = cacheEntries > 0 && word.size() <= kMaxCachedWord;
  uint64_t hash = 0;
  if (cacheable) {
    hash = WordCache::hashOf(word);
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.lookup(word, hash, out))
      return;
  }
  size_t first = out.size();
  merge(word, out);
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cacheMutex);
    cache.insert(word, hash, out.data() + first, out.size() - first);
  }
}

namespace {

struct Symbol {
  int32_t id;   // -1 once merged into its left neighbour
  int32_t prev; // index of the previous live symbol, or -1
  int32_t next; // index of the next live symbol, or -1
};

/// A possible merge of the symbol at `pos` with its right neighbour, valid
/// while those two still hold `left` and `right`.
struct Candidate {
  int32_t rank, pos, left, right, merged;
  bool operator>(const Candidate &o) const {
    return rank != o.rank ? rank > o.rank : pos > o.pos;
  }
};

} // namespace

void Bpe::merge(std::string_view word, std::vector<int32_t> &out) const {
  // Reused per thread: most words are short and this runs per word.
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> heap;
  const auto n = static_cast<int32_t>(word.size());
  symbols.resize(n);
  heap.clear();
  for (int32_t i = 0; i < n; ++i)
    symbols[i] = {byteIds[static_cast<unsigned char>(word[i])], i - 1,
                  i + 1 < n ? i + 1 : -1};

  auto consider = [&](int32_t pos) {
    int32_t next = symbols[pos].next;
    if (next < 0)
      return;
    const MergeTable::Rule *rule =
        rules.find(symbols[pos].id, symbols[next].id);
    if (!rule)
      return;
    heap.push_back(
        {rule->rank, pos, symbols[pos].id, symbols[next].id, rule->merged});
    std::push_heap(heap.begin(), heap.end(), std::greater<Candidate>());
  };
  for (int32_t i = 0; i + 1 < n; ++i)
    consider(i);

  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), std::greater<Candidate>());
    Candidate c = heap.back();
    heap.pop_back();
    Symbol &a = symbols[c.pos];
    if (a.id != c.left || a.next < 0)
      continue; // stale: the left symbol changed or was absorbed
    Symbol &b = symbols[a.next];
    if (b.id != c.right)
      continue; // stale: the right neighbour changed
    a.id = c.merged;
    b.id = -1;
    a.next = b.next;
    if (a.next >= 0)
      symbols[a.next].prev = c.pos;
    if (a.prev >= 0)
      consider(a.prev);
    consider(c.pos);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next)
    out.push_back(symbols[i].id);
}

} // namespace moela
