//===- KvCacheTest.cpp - The paged KV cache: pool, prefix cache, engine ---===//
//
// KvPages (runtime/engine/KvPages.h): allocation, reference counts, LRU
// eviction of cached pages, and lookups that compare tokens, so colliding
// hashes are never confused. The engine on the host backend: pages handed out
// in a shuffled order give bit for bit the logits of the contiguous order,
// a step the pool cannot supply throws KvCacheFull before anything runs, and
// a sequence that reuses a cached prefix gets the logits of one that
// prefills it.
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include "engine/KvPages.h"
#include "kernels/Abi.h"
#include "moela/Runtime/Engine.h"

#include <numeric>

using namespace moela;
using namespace moela::test;

namespace {

constexpr int kPage = moela::abi::kKvPageTokens;

std::vector<int32_t> tokens(int n, int32_t first) {
  std::vector<int32_t> v(size_t(n), 0);
  for (int i = 0; i < n; ++i)
    v[size_t(i)] = (first + 7 * i) % 500 + 1;
  return v;
}

// ---- KvPages ----------------------------------------------------------------

TEST(KvPages, AllocateReleaseAndRefcounts) {
  KvPages pool(3);
  EXPECT_EQ(pool.available(), 3);
  EXPECT_EQ(pool.allocate(), 0); // ascending without a shuffle seed
  EXPECT_EQ(pool.allocate(), 1);
  EXPECT_EQ(pool.allocate(), 2);
  EXPECT_EQ(pool.allocate(), -1);
  EXPECT_EQ(pool.available(), 0);
  pool.release(1);
  EXPECT_EQ(pool.available(), 1);
  EXPECT_EQ(pool.allocate(), 1);
  pool.release(0);
  EXPECT_THROW(pool.retain(0), Error) << "free, not cached: cannot attach";
  EXPECT_THROW(pool.release(0), Error); // released twice
  EXPECT_THROW(KvPages(0), Error);
}

TEST(KvPages, ShuffledOrderIsAPermutation) {
  KvPages pool(16, 7);
  std::vector<int> got;
  for (int i = 0; i < 16; ++i)
    got.push_back(pool.allocate());
  std::vector<int> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> want(16);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(sorted, want);
  EXPECT_NE(got, want) << "seed 7 left the order ascending";
}

TEST(KvPages, CachedPagesAreSharedAndEvictedLeastRecentlyUsedFirst) {
  KvPages pool(3);
  const std::vector<int32_t> a = tokens(kPage, 1), b = tokens(kPage, 2),
                             c = tokens(kPage, 3);
  const int pa = pool.allocate(), pb = pool.allocate();
  EXPECT_TRUE(pool.publish(pa, -1, a.data()));
  EXPECT_TRUE(pool.publish(pb, pa, b.data())); // a then b
  EXPECT_FALSE(pool.publish(pool.allocate(), -1, a.data()))
      << "an equal page is already cached";
  EXPECT_EQ(pool.lookup(-1, a.data()), pa);
  EXPECT_EQ(pool.lookup(pa, b.data()), pb);
  EXPECT_EQ(pool.lookup(-1, b.data()), -1) << "b is cached after a only";
  // A second holder, then both let go: the page stays cached and counts as
  // available (evictable).
  pool.retain(pa);
  EXPECT_EQ(pool.refs(pa), 2);
  pool.release(pa);
  pool.release(pa);
  EXPECT_EQ(pool.refs(pa), 0);
  EXPECT_EQ(pool.evictable(), 1);
  EXPECT_EQ(pool.available(), 1);
  EXPECT_EQ(pool.lookup(-1, a.data()), pa);
  pool.release(pb); // released after pa: evicted after it
  EXPECT_EQ(pool.available(), 2);
  // The third page is held: allocating evicts pa (least recently released)
  // and with it pb, published under pa's identity.
  EXPECT_EQ(pool.allocate(), pa);
  EXPECT_EQ(pool.lookup(-1, a.data()), -1);
  EXPECT_EQ(pool.lookup(pa, b.data()), -1);
  EXPECT_FALSE(pool.cached(pb));
  EXPECT_EQ(pool.allocate(), pb) << "pb became free with its parent";
  EXPECT_EQ(pool.allocate(), -1);
  // A held cached page is never evicted.
  KvPages small(1);
  const int p = small.allocate();
  EXPECT_TRUE(small.publish(p, -1, c.data()));
  EXPECT_EQ(small.allocate(), -1);
}

uint64_t collide(uint64_t, const int32_t *) { return 42; }

TEST(KvPages, CollidingHashesAreTellApartByTokensAndParent) {
  KvPages pool(4, 0, collide); // every page hashes alike
  const std::vector<int32_t> a = tokens(kPage, 1), b = tokens(kPage, 2);
  const int pa = pool.allocate(), pb = pool.allocate(), pab = pool.allocate();
  ASSERT_TRUE(pool.publish(pa, -1, a.data()));
  ASSERT_TRUE(pool.publish(pb, -1, b.data()));
  ASSERT_TRUE(pool.publish(pab, pa, b.data()));
  EXPECT_EQ(pool.lookup(-1, a.data()), pa);
  EXPECT_EQ(pool.lookup(-1, b.data()), pb);
  EXPECT_EQ(pool.lookup(pa, b.data()), pab);
  EXPECT_EQ(pool.lookup(pb, a.data()), -1);
  std::vector<int32_t> almost = a;
  almost.back() += 1;
  EXPECT_EQ(pool.lookup(-1, almost.data()), -1);
}

// ---- The engine
// ---------------------------------------------------------------

const std::string kTiny = std::string(MOELA_SOURCE_DIR) + "/models/tiny";

/// Prompts of 150 and 90 tokens (three and two pages), fed in one prefill, then
/// `steps` greedy decode steps; every logit vector, in order.
std::vector<std::vector<float>> runTiny(const std::string &plan,
                                        KvCacheOptions kv, int steps = 40) {
  auto weights = makeRandomWeights(3);
  HostRun run(plan, *weights, 2, 256, kv);
  std::vector<std::vector<float>> all;
  std::vector<std::vector<float>> out =
      run.engine.feed({tokens(150, 1), tokens(90, 5)});
  for (int s = 0; s < steps; ++s) {
    std::vector<std::vector<int32_t>> next(2);
    for (size_t b = 0; b < 2; ++b) {
      all.push_back(out[b]);
      next[b] = {int32_t(std::max_element(out[b].begin(), out[b].end()) -
                         out[b].begin())};
    }
    out = run.engine.feed(next);
  }
  return all;
}

TEST(EnginePages, ShuffledPagesGiveBitIdenticalLogits) {
  // The default pipeline (expanded prefill, then absorbed decode reading
  // three to four pages per sequence) and one with a small prefill chunk
  // (extend steps read the pages of earlier chunks).
  for (int64_t chunk : {int64_t(2048), int64_t(50)}) {
    const std::string plan =
        compilePlan(kTiny + "/config.json", "host", {}, chunk);
    const auto contiguous = runTiny(plan, {});
    KvCacheOptions shuffled;
    shuffled.shuffleSeed = 11;
    EXPECT_EQ(runTiny(plan, shuffled), contiguous) << "prefill chunk " << chunk;
    shuffled.pages = 40; // a larger pool: other page ids again
    EXPECT_EQ(runTiny(plan, shuffled), contiguous) << "prefill chunk " << chunk;
  }
}

TEST(EnginePages, PagesFollowTheSequences) {
  auto weights = makeRandomWeights(3);
  HostRun run(compilePlan(kTiny + "/config.json", "host"), *weights, 2, 200);
  Engine &e = run.engine;
  EXPECT_EQ(e.pageTokens(), 64);
  EXPECT_EQ(e.pagesTotal(), 2 * 4); // ceil(200 / 64) per slot
  EXPECT_EQ(e.pagesNeeded(0, 64), 1);
  EXPECT_EQ(e.pagesNeeded(0, 65), 2);
  e.feed({tokens(65, 1), {}});
  EXPECT_EQ(e.pages(0).size(), 2u);
  EXPECT_EQ(e.pagesFree(), 6);
  EXPECT_EQ(e.pagesNeeded(0, 63), 0);
  EXPECT_EQ(e.pagesNeeded(0, 64), 1);
  e.rewind(0, 2); // 63 tokens: one page
  EXPECT_EQ(e.pages(0).size(), 1u);
  EXPECT_EQ(e.pagesFree(), 7);
  e.reset(0);
  EXPECT_EQ(e.pagesFree(), 8);
  EXPECT_EQ(e.length(0), 0);
}

TEST(EnginePages, FullPoolThrowsBeforeAnythingRuns) {
  auto weights = makeRandomWeights(3);
  KvCacheOptions kv;
  kv.pages = 3;
  HostRun run(compilePlan(kTiny + "/config.json", "host"), *weights, 2, 256,
              kv);
  Engine &e = run.engine;
  e.feed({tokens(100, 1), {}}); // 2 pages
  try {
    e.feed({{}, tokens(70, 2)}); // 2 more pages: only 1 left
    FAIL() << "the pool of 3 pages supplied 4";
  } catch (const KvCacheFull &full) {
    EXPECT_STREQ(full.what(), "the KV cache has 1 free pages of 3, this step "
                              "needs 2 (64 tokens each; raise --kv-pages or "
                              "run fewer sequences)");
  }
  EXPECT_EQ(e.length(1), 0);
  EXPECT_EQ(e.pagesFree(), 1);
  EXPECT_EQ(e.stats().prefillTokens, 100) << "a program ran";
  EXPECT_NO_THROW(e.feed({{}, tokens(64, 2)}));
  EXPECT_EQ(e.pagesFree(), 0);
}

/// A plan whose every program is absorbed: rows of the cache do not depend
/// on which program wrote them, so reused pages give bit-identical logits.
std::string absorbedPlan() {
  return compilePlan(kTiny + "/config.json", "host",
                     {"moela-mla-expand-prefill"});
}

TEST(EnginePages, PrefixCacheReusesFullPages) {
  auto weights = makeRandomWeights(3);
  const std::string plan = absorbedPlan();
  std::vector<int32_t> shared = tokens(2 * kPage, 9);
  std::vector<int32_t> a = shared, b = shared;
  for (int32_t t : tokens(20, 100))
    a.push_back(t);
  for (int32_t t : tokens(7, 200))
    b.push_back(t);

  // Without the cache: each prompt prefilled in full.
  HostRun plain(plan, *weights, 2);
  const std::vector<float> wantA = plain.engine.feed({a, {}})[0];
  const std::vector<float> wantB = plain.engine.feed({{}, b})[1];
  EXPECT_THROW(plain.engine.reusePrefix(0, b), Error) << "slot 0 holds a";
  plain.engine.reset(0);
  EXPECT_EQ(plain.engine.reusePrefix(0, b), 0) << "no prefix caching";

  KvCacheOptions kv;
  kv.prefixCaching = true;
  kv.shuffleSeed = 5;
  HostRun cached(plan, *weights, 2, 256, kv);
  Engine &e = cached.engine;
  EXPECT_EQ(e.reusePrefix(0, a), 0) << "nothing cached yet";
  EXPECT_EQ(e.feed({a, {}})[0], wantA);
  EXPECT_EQ(e.reusePrefix(1, b), 2 * kPage);
  EXPECT_EQ(e.length(1), 2 * kPage);
  EXPECT_EQ(e.pages(1),
            std::vector<int32_t>(e.pages(0).begin(), e.pages(0).begin() + 2));
  const int freeBefore = e.pagesFree();
  const std::vector<float> gotB =
      e.feed({{}, std::vector<int32_t>(b.begin() + 2 * kPage, b.end())})[1];
  EXPECT_EQ(gotB, wantB);
  EXPECT_EQ(e.pagesFree(), freeBefore - 1) << "only b's own last page";
  EXPECT_EQ(e.stats().prefixTokensReused, 2 * kPage);
  EXPECT_EQ(e.stats().prefillTokens, int64_t(a.size() + b.size()) - 2 * kPage);

  // A prompt that is exactly the shared pages keeps its last token to feed:
  // one page reused.
  e.reset(1);
  EXPECT_EQ(e.reusePrefix(1, shared), kPage);
  e.reset(1);

  // Both sequences let go: the pages stay cached, count as free, and a new
  // sequence still finds them.
  e.reset(0);
  EXPECT_EQ(e.pagesFree(), e.pagesTotal());
  EXPECT_EQ(e.reusePrefix(0, b), 2 * kPage);
  EXPECT_EQ(e.feed({std::vector<int32_t>(b.begin() + 2 * kPage, b.end())})[0],
            wantB);
}

TEST(EnginePages, RewindIntoASharedPageRecomputesItsRows) {
  auto weights = makeRandomWeights(3);
  const std::string plan = absorbedPlan();
  const std::vector<int32_t> prompt = tokens(2 * kPage + 5, 3);
  KvCacheOptions kv;
  kv.prefixCaching = true;
  HostRun cached(plan, *weights, 2, 256, kv);
  Engine &e = cached.engine;
  e.feed({prompt, {}});
  EXPECT_EQ(e.reusePrefix(1, prompt), 2 * kPage);
  // Sequence 1 drops into its second page, which sequence 0 holds too: the
  // page stays with sequence 0, and sequence 1 computes rows 64..99 again.
  e.rewind(1, 2 * kPage - 100);
  EXPECT_EQ(e.length(1), 100);
  EXPECT_EQ(e.pages(1).size(), 1u);
  const std::vector<int32_t> more = tokens(3, 77);
  const std::vector<float> got = e.feed({{}, more})[1];

  HostRun plain(plan, *weights, 1);
  std::vector<int32_t> whole(prompt.begin(), prompt.begin() + 100);
  whole.insert(whole.end(), more.begin(), more.end());
  EXPECT_EQ(plain.engine.feed({whole})[0], got);
  // Sequence 0's rows were never written by sequence 1: its next step is
  // that of a sequence alone.
  HostRun alone(plan, *weights, 1);
  const std::vector<int32_t> next = tokens(1, 8);
  alone.engine.feed({prompt});
  EXPECT_EQ(e.feed({next, {}})[0], alone.engine.feed({next})[0]);
}

} // namespace
