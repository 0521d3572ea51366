//===- KvPages.h - The page pool of the latent KV cache, prefix cache -----===//
//
// The engine's bookkeeping of the paged KV cache (docs/architecture.md, "The
// paged KV cache"); the backend holds the rows. A page is free, held by
// sequences (reference counted), or cached: full, published under the hash
// of (its parent page's hash, its 64 tokens) and evictable once no sequence
// holds it. allocate() takes a free page, else evicts the least recently
// released cached page. A lookup compares the parent page and the tokens, not
// only the hash, so two prefixes whose hashes collide are never confused.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_ENGINE_KVPAGES_H
#define MOELA_RUNTIME_ENGINE_KVPAGES_H

#include <cstddef>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

namespace moela {

class KvPages {
public:
  /// The hash of a full page: of its parent's hash (kRootHash for a
  /// sequence's first page) and its kKvPageTokens tokens.
  using PageHash = uint64_t (*)(uint64_t parent, const int32_t *tokens);
  static constexpr uint64_t kRootHash = 0xcbf29ce484222325ull;
  static uint64_t defaultHash(uint64_t parent, const int32_t *tokens);

  /// `pages` pages, handed out in ascending order, or shuffled by
  /// `shuffleSeed` (tests: non-contiguous tables); `hash` for tests of
  /// collisions.
  explicit KvPages(int pages, uint64_t shuffleSeed = 0,
                   PageHash hash = defaultHash);

  int total() const { return static_cast<int>(pages_.size()); }
  /// Pages allocate() can supply: free plus cached-but-unreferenced.
  int available() const {
    return static_cast<int>(free_.size() + evictable_.size());
  }
  /// Cached pages no sequence holds (a subset of available()).
  int evictable() const { return static_cast<int>(evictable_.size()); }

  /// A page held once by the caller; -1 when none is available.
  int allocate();
  /// Another holder of `page` (a sequence attaching a cached page).
  void retain(int page);
  /// Drops one hold; an unheld page becomes free, or evictable if cached.
  void release(int page);
  int refs(int page) const { return pages_.at(size_t(page)).refs; }
  bool cached(int page) const { return pages_.at(size_t(page)).cached; }

  /// Publishes the full page `page` (held) with `tokens` [kKvPageTokens]
  /// after `parent` (-1: a sequence's first page; else a cached page).
  /// Returns false, publishing nothing, when the parent is not cached or an
  /// equal page is already cached.
  bool publish(int page, int parent, const int32_t *tokens);
  /// The cached page with `tokens` after `parent` (-1: first page), or -1.
  int lookup(int parent, const int32_t *tokens) const;
  /// Removes `page` from the cache (it is about to be rewritten by its only
  /// holder) together with its cached descendants.
  void unpublish(int page);

private:
  struct Page {
    int refs = 0;
    bool cached = false;
    int parent = -1;
    uint64_t hash = 0;
    std::vector<int32_t> tokens;  // [kKvPageTokens] while cached
    std::vector<int> children;    // cached pages published after this one
    std::list<int>::iterator lru; // in evictable_ while cached and unheld
  };

  uint64_t hashAfter(int parent, const int32_t *tokens) const;
  /// Drops `page` (cached, unheld or held) from the index and its children;
  /// unheld ones become free.
  void uncache(int page);

  PageHash hash_;
  std::vector<Page> pages_;
  std::vector<int> free_;    // popped from the back
  std::list<int> evictable_; // least recently released first
  std::unordered_multimap<uint64_t, int> index_; // hash -> cached page
};

} // namespace moela

#endif // MOELA_RUNTIME_ENGINE_KVPAGES_H
