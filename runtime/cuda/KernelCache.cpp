//===- KernelCache.cpp - NVRTC results on disk, checked before use --------===//
//
// Entry layout (one file, <sha256 of material>.kernel):
//   kMagic | sha256(material) | sha256(log | cubin) | u64 log bytes |
//   u64 cubin bytes | log | cubin        (integers little-endian)
//
//===----------------------------------------------------------------------===//
#include "KernelCache.h"

#include "moela/Runtime/Error.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <regex>

#include <unistd.h>

namespace fs = std::filesystem;

namespace moela {
namespace {

constexpr char kMagic[] = "moela kernel cache 1\n";
constexpr size_t kMagicBytes = sizeof kMagic - 1;
using Digest = std::array<uint8_t, 32>;
constexpr size_t kHeaderBytes = kMagicBytes + 2 * sizeof(Digest) + 16;

Digest sha256(const std::string &a, const std::string &b = "") {
  Digest digest{};
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned size = 0;
  const bool ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) &&
                  EVP_DigestUpdate(ctx, a.data(), a.size()) &&
                  EVP_DigestUpdate(ctx, b.data(), b.size()) &&
                  EVP_DigestFinal_ex(ctx, digest.data(), &size);
  EVP_MD_CTX_free(ctx);
  if (!ok || size != digest.size())
    fail("kernel cache: SHA-256 failed (OpenSSL)");
  return digest;
}

std::string hex(const Digest &d) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += digits[b >> 4];
    s += digits[b & 15];
  }
  return s;
}

void putU64(std::string &out, uint64_t v) {
  for (int i = 0; i < 8; ++i)
    out += char((v >> (8 * i)) & 0xFF);
}

uint64_t getU64(const std::string &in, size_t at) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v |= uint64_t(uint8_t(in[at + size_t(i)])) << (8 * i);
  return v;
}

/// Files this cache made: entries, and the two files per key of the cache
/// before it (<32 hex>.cubin / .log). Nothing else in the folder is touched.
bool isCacheFile(const fs::path &p) {
  static const std::regex name(
      R"([0-9a-f]{64}\.kernel|[0-9a-f]{32}\.(cubin|log))");
  return std::regex_match(p.filename().string(), name);
}

} // namespace

uint64_t kernelCacheMaxBytes() {
  const char *env = std::getenv("MOELA_CACHE_MAX_MB");
  if (!env || !*env)
    return kDefaultKernelCacheBytes;
  char *end = nullptr;
  errno = 0;
  const unsigned long long mb = std::strtoull(env, &end, 10);
  if (*end != '\0' || errno == ERANGE || env[0] == '-' || mb > (1ull << 40))
    fail("MOELA_CACHE_MAX_MB: '", env,
         "' is not a size in MiB (a whole number up to 2^40)");
  return uint64_t(mb) << 20;
}

fs::path KernelCache::pathFor(const std::string &material) const {
  return dir_ / (hex(sha256(material)) + ".kernel");
}

std::optional<KernelCacheEntry>
KernelCache::load(const std::string &material) const {
  const fs::path path = pathFor(material);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return std::nullopt;
  const std::string bytes((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  if (in.bad() || bytes.size() < kHeaderBytes ||
      bytes.compare(0, kMagicBytes, kMagic) != 0)
    return std::nullopt;
  // The material itself, not only its file name: a renamed or colliding
  // entry is a miss.
  const Digest key = sha256(material);
  if (std::memcmp(bytes.data() + kMagicBytes, key.data(), key.size()) != 0)
    return std::nullopt;
  const uint64_t logBytes = getU64(bytes, kHeaderBytes - 16);
  const uint64_t cubinBytes = getU64(bytes, kHeaderBytes - 8);
  const uint64_t payload = bytes.size() - kHeaderBytes;
  if (logBytes > payload || cubinBytes != payload - logBytes || cubinBytes == 0)
    return std::nullopt;
  KernelCacheEntry entry;
  entry.log = bytes.substr(kHeaderBytes, logBytes);
  const std::string cubin = bytes.substr(kHeaderBytes + logBytes);
  const Digest sum = sha256(entry.log, cubin);
  if (std::memcmp(bytes.data() + kMagicBytes + key.size(), sum.data(),
                  sum.size()) != 0)
    return std::nullopt;
  entry.cubin.assign(cubin.begin(), cubin.end());
  // Recently used entries are the last to be pruned.
  std::error_code ec;
  fs::last_write_time(path, fs::file_time_type::clock::now(), ec);
  return entry;
}

void KernelCache::store(const std::string &material,
                        const KernelCacheEntry &entry) const {
  if (maxBytes_ == 0)
    return;
  const std::string cubin(entry.cubin.begin(), entry.cubin.end());
  std::string bytes(kMagic, kMagicBytes);
  const Digest key = sha256(material), sum = sha256(entry.log, cubin);
  bytes.append(key.begin(), key.end());
  bytes.append(sum.begin(), sum.end());
  putU64(bytes, entry.log.size());
  putU64(bytes, cubin.size());
  bytes += entry.log;
  bytes += cubin;

  std::error_code ec;
  fs::create_directories(dir_, ec);
  // A name no other process or thread writes: readers never see half a file.
  static std::atomic<unsigned> counter{0};
  const fs::path path = pathFor(material);
  fs::path tmp = path;
  tmp += ".tmp" + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    out.close();
    if (!out) {
      fs::remove(tmp, ec);
      return;
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return;
  }
  prune(path);
}

void KernelCache::prune(const fs::path &keep) const {
  struct File {
    fs::path path;
    fs::file_time_type time;
    uint64_t bytes;
  };
  std::vector<File> files;
  uint64_t total = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code e1, e2;
    if (!it->is_regular_file(e1) || !isCacheFile(it->path()))
      continue;
    const uint64_t bytes = it->file_size(e1);
    const fs::file_time_type time = it->last_write_time(e2);
    if (e1 || e2)
      continue;
    files.push_back({it->path(), time, bytes});
    total += bytes;
  }
  // Oldest first, the entry just written last; another process may be
  // pruning too, so a missing file is not an error.
  std::sort(files.begin(), files.end(), [&](const File &a, const File &b) {
    return std::make_pair(a.path == keep, a.time) <
           std::make_pair(b.path == keep, b.time);
  });
  for (const File &f : files) {
    if (total <= maxBytes_)
      break;
    fs::remove(f.path, ec);
    total -= f.bytes;
  }
}

} // namespace moela
