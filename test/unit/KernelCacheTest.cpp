//===- KernelCacheTest.cpp - The cubin cache trusts nothing it reads ------===//
//
// A cache entry is used only when it was made from exactly the key material
// asked for and its payload is intact: a colliding (renamed), corrupted or
// truncated entry is a miss, and compileCuda compiles again and gets the
// right cubin. The cache stays within its size bound, oldest entries first.
//
//===----------------------------------------------------------------------===//
#include "cuda/KernelCache.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Nvrtc.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

namespace moela::test {
namespace {

namespace fs = std::filesystem;

class KernelCacheTest : public ::testing::Test {
protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("moela-kernel-cache-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string read(const fs::path &p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
  }
  static void write(const fs::path &p, const std::string &bytes) {
    std::ofstream(p, std::ios::binary | std::ios::trunc) << bytes;
  }
  /// The cache files in the folder (entries only).
  std::vector<fs::path> entries() const {
    std::vector<fs::path> files;
    for (const auto &e : fs::directory_iterator(dir_))
      if (e.path().extension() == ".kernel")
        files.push_back(e.path());
    return files;
  }
  static KernelCacheEntry entry(char fill, size_t bytes) {
    return {std::vector<uint8_t>(bytes, uint8_t(fill)),
            "log " + std::string(1, fill)};
  }

  fs::path dir_;
};

TEST_F(KernelCacheTest, StoresAndChecksEntries) {
  KernelCache cache(dir_, 1 << 20);
  EXPECT_FALSE(cache.load("a").has_value());
  cache.store("a", entry('a', 1000));
  auto hit = cache.load("a");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->cubin, entry('a', 1000).cubin);
  EXPECT_EQ(hit->log, "log a");
  EXPECT_EQ(cache.pathFor("a").filename().string().size(), 64u + 7u);

  // Entry a under b's name (a colliding key): b's material does not match.
  fs::copy_file(cache.pathFor("a"), cache.pathFor("b"));
  EXPECT_FALSE(cache.load("b").has_value());

  // One flipped byte of the cubin, or of the log.
  const std::string good = read(cache.pathFor("a"));
  for (size_t at : {good.size() - 1, good.size() - 1000 - 2}) {
    std::string bad = good;
    bad[at] ^= 1;
    write(cache.pathFor("a"), bad);
    EXPECT_FALSE(cache.load("a").has_value()) << "byte " << at;
  }
  // Truncated anywhere.
  for (size_t n : {size_t(0), size_t(10), size_t(100), good.size() - 1}) {
    write(cache.pathFor("a"), good.substr(0, n));
    EXPECT_FALSE(cache.load("a").has_value()) << n << " bytes";
  }
  write(cache.pathFor("a"), good);
  EXPECT_TRUE(cache.load("a").has_value());
}

TEST_F(KernelCacheTest, KeepsItsSizeBoundOldestFirst) {
  // Five entries of ~100 KB in a cache of 350 KB: the three newest remain.
  KernelCache cache(dir_, 350'000);
  const auto now = fs::file_time_type::clock::now();
  for (int i = 0; i < 5; ++i) {
    const std::string key(1, char('a' + i));
    cache.store(key, entry(key[0], 100'000));
    // mtimes a second apart, older for earlier entries
    fs::last_write_time(cache.pathFor(key), now - std::chrono::seconds(10 - i));
  }
  uint64_t total = 0;
  for (const fs::path &p : entries())
    total += fs::file_size(p);
  EXPECT_LE(total, 350'000u);
  EXPECT_EQ(entries().size(), 3u);
  EXPECT_FALSE(cache.load("a").has_value());
  EXPECT_FALSE(cache.load("b").has_value());
  // A hit makes c the most recent: the next store removes d instead.
  ASSERT_TRUE(cache.load("c").has_value());
  cache.store("f", entry('f', 100'000));
  EXPECT_TRUE(cache.load("c").has_value());
  EXPECT_FALSE(cache.load("d").has_value());
  EXPECT_TRUE(cache.load("e").has_value());
  EXPECT_TRUE(cache.load("f").has_value());
  // Files the cache did not make are never removed.
  write(dir_ / "notes.txt", std::string(500'000, 'x'));
  cache.store("g", entry('g', 100'000));
  EXPECT_TRUE(fs::exists(dir_ / "notes.txt"));
}

TEST_F(KernelCacheTest, MaxBytesFromTheEnvironment) {
  ::unsetenv("MOELA_CACHE_MAX_MB");
  EXPECT_EQ(kernelCacheMaxBytes(), kDefaultKernelCacheBytes);
  ::setenv("MOELA_CACHE_MAX_MB", "3", 1);
  EXPECT_EQ(kernelCacheMaxBytes(), 3u << 20);
  for (const char *bad : {"3x", "-1", "1e3", "99999999999999999999999"}) {
    ::setenv("MOELA_CACHE_MAX_MB", bad, 1);
    try {
      kernelCacheMaxBytes();
      ADD_FAILURE() << bad;
    } catch (const Error &e) {
      EXPECT_EQ(std::string(e.what()),
                std::string("MOELA_CACHE_MAX_MB: '") + bad +
                    "' is not a size in MiB (a whole number up to 2^40)");
    }
  }
  ::setenv("MOELA_CACHE_MAX_MB", "0", 1); // keeps nothing
  NvrtcOptions options;
  options.cacheDir = dir_.string();
  NvrtcResult r =
      compileCuda("k0", "extern \"C\" __global__ void k0() {}", options);
  EXPECT_FALSE(r.cubin.empty());
  EXPECT_FALSE(fs::exists(dir_) && !entries().empty());
  ::unsetenv("MOELA_CACHE_MAX_MB");
}

TEST_F(KernelCacheTest, CompileCudaRecompilesABadHit) {
  // Two kernels whose cubins differ, each cached in a folder of its own.
  const std::string srcA =
      "extern \"C\" __global__ void ka(int *p) { *p = 1; }";
  const std::string srcB =
      "extern \"C\" __global__ void kb(int *p) { *p = 2; }";
  NvrtcOptions a, b;
  a.cacheDir = (dir_ / "a").string();
  b.cacheDir = (dir_ / "b").string();
  const NvrtcResult first = compileCuda("ka", srcA, a);
  EXPECT_FALSE(first.fromCache);
  EXPECT_TRUE(compileCuda("ka", srcA, a).fromCache);
  const NvrtcResult fresh = compileCuda("kb", srcB, b);
  ASSERT_NE(first.cubin, fresh.cubin);

  // b's entry replaced by a's (what a key collision would look like).
  auto only = [](const fs::path &d) { return *fs::directory_iterator(d); };
  const fs::path entryB = only(dir_ / "b").path();
  fs::copy_file(only(dir_ / "a").path(), entryB,
                fs::copy_options::overwrite_existing);
  NvrtcResult again = compileCuda("kb", srcB, b);
  EXPECT_FALSE(again.fromCache);
  EXPECT_EQ(again.cubin, fresh.cubin);
  EXPECT_TRUE(compileCuda("kb", srcB, b).fromCache); // rewritten

  // A corrupted cubin byte: compiled again, not loaded.
  std::string bytes = read(entryB);
  bytes[bytes.size() / 2] ^= 0x40;
  write(entryB, bytes);
  again = compileCuda("kb", srcB, b);
  EXPECT_FALSE(again.fromCache);
  EXPECT_EQ(again.cubin, fresh.cubin);
}

} // namespace
} // namespace moela::test
