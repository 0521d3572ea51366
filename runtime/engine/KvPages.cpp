//===- KvPages.cpp - The page pool of the latent KV cache, prefix cache ---===//
#include "KvPages.h"

#include "kernels/Abi.h"
#include "moela/Runtime/Error.h"

#include <algorithm>
#include <numeric>
#include <random>

namespace moela {

uint64_t KvPages::defaultHash(uint64_t parent, const int32_t *tokens) {
  // FNV-1a over the parent hash and the tokens' bytes, then a splitmix
  // finalizer: cheap, and a collision only costs a token comparison.
  uint64_t h = kRootHash;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i, v >>= 8) {
      h ^= v & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  mix(parent);
  for (int i = 0; i < abi::kKvPageTokens; ++i)
    mix(uint64_t(uint32_t(tokens[i])));
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

KvPages::KvPages(int pages, uint64_t shuffleSeed, PageHash hash)
    : hash_(hash), pages_(size_t(std::max(pages, 0))) {
  if (pages < 1)
    fail("the KV cache needs at least 1 page, got ", pages);
  std::vector<int> order(pages_.size());
  std::iota(order.begin(), order.end(), 0);
  if (shuffleSeed) {
    std::mt19937_64 rng(shuffleSeed);
    std::shuffle(order.begin(), order.end(), rng);
  }
  free_.assign(order.rbegin(), order.rend()); // order[0] is allocated first
}

int KvPages::allocate() {
  int page = -1;
  if (!free_.empty()) {
    page = free_.back();
    free_.pop_back();
  } else if (!evictable_.empty()) {
    page = evictable_.front(); // least recently released
    uncache(page);             // free, with its cached descendants: pushed last
    free_.pop_back();
  } else {
    return -1;
  }
  pages_[size_t(page)].refs = 1;
  return page;
}

void KvPages::retain(int page) {
  Page &p = pages_.at(size_t(page));
  if (p.refs == 0) {
    if (!p.cached)
      fail("KV page ", page, " is free: only cached pages can be attached");
    evictable_.erase(p.lru);
  }
  ++p.refs;
}

void KvPages::release(int page) {
  Page &p = pages_.at(size_t(page));
  if (p.refs < 1)
    fail("KV page ", page, " released more often than it was held");
  if (--p.refs > 0)
    return;
  if (p.cached)
    p.lru = evictable_.insert(evictable_.end(), page);
  else
    free_.push_back(page);
}

uint64_t KvPages::hashAfter(int parent, const int32_t *tokens) const {
  return hash_(parent < 0 ? kRootHash : pages_[size_t(parent)].hash, tokens);
}

bool KvPages::publish(int page, int parent, const int32_t *tokens) {
  Page &p = pages_.at(size_t(page));
  if (p.refs < 1 || p.cached)
    fail("KV page ", page, " cannot be published (", p.refs, " holders",
         p.cached ? ", already cached)" : ")");
  if (parent >= 0 && !pages_.at(size_t(parent)).cached)
    return false;
  if (lookup(parent, tokens) >= 0)
    return false;
  p.cached = true;
  p.parent = parent;
  p.hash = hashAfter(parent, tokens);
  p.tokens.assign(tokens, tokens + abi::kKvPageTokens);
  if (parent >= 0)
    pages_[size_t(parent)].children.push_back(page);
  index_.emplace(p.hash, page);
  return true;
}

int KvPages::lookup(int parent, const int32_t *tokens) const {
  if (parent >= 0 && !pages_.at(size_t(parent)).cached)
    return -1;
  auto [begin, end] = index_.equal_range(hashAfter(parent, tokens));
  for (auto it = begin; it != end; ++it) {
    const Page &p = pages_[size_t(it->second)];
    if (p.parent == parent &&
        std::equal(p.tokens.begin(), p.tokens.end(), tokens))
      return it->second;
  }
  return -1;
}

void KvPages::unpublish(int page) {
  if (pages_.at(size_t(page)).cached)
    uncache(page);
}

void KvPages::uncache(int page) {
  Page &p = pages_[size_t(page)];
  // Descendants were published after this page, under its identity: a page
  // reused for other tokens must not keep them findable.
  for (int child : std::vector<int>(p.children))
    uncache(child);
  p.children.clear();
  auto [begin, end] = index_.equal_range(p.hash);
  for (auto it = begin; it != end; ++it)
    if (it->second == page) {
      index_.erase(it);
      break;
    }
  if (p.parent >= 0) {
    std::vector<int> &siblings = pages_[size_t(p.parent)].children;
    siblings.erase(std::find(siblings.begin(), siblings.end(), page));
  }
  p.cached = false;
  p.parent = -1;
  p.tokens.clear();
  if (p.refs == 0) {
    evictable_.erase(p.lru);
    free_.push_back(page);
  }
}

} // namespace moela
