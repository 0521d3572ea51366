//===- tokenizer_bench.cpp - Encode/decode throughput of the tokenizer ----===//
//
// Generates English-like text deterministically (words of a built-in
// paragraph, made-up words, numbers and punctuation in random sentences) and
// prints MB/s for encode (with a cold and a warm word cache, and without the
// cache), decode and streaming decode. MB = 10^6 bytes of text.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Output.h"
#include "moela/Runtime/Tokenizer.h"

#include <CLI/CLI.hpp>

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr const char *kParagraph =
    "It was the best of times, it was the worst of times, it was the age of "
    "wisdom, it was the age of foolishness, it was the epoch of belief, it was "
    "the epoch of incredulity, it was the season of Light, it was the season "
    "of "
    "Darkness, it was the spring of hope, it was the winter of despair, we had "
    "everything before us, we had nothing before us, we were all going direct "
    "to Heaven, we were all going direct the other way. The model's weights "
    "aren't loaded until the runtime verifies the compiled plan; attention "
    "heads share a latent cache, and experts are routed per token by a sigmoid "
    "gate with group-limited selection. Engineers measured throughput (tokens "
    "per second) across batch sizes, sequence lengths and hardware "
    "generations, then wrote reports that nobody would read.";

constexpr const char *kSyllables[] = {"ka",   "ren", "to",  "mi",  "sal", "ver",
                                      "qui",  "no",  "tha", "bel", "dor", "ex",
                                      "pra",  "lu",  "zen", "co",  "ri",  "gan",
                                      "ston", "phy", "al",  "ment"};

/// splitmix64: small, deterministic across platforms.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

std::string makeText(size_t bytes) {
  std::vector<std::string> words;
  std::istringstream in(kParagraph);
  for (std::string w; in >> w;) {
    while (!w.empty() && std::ispunct(static_cast<unsigned char>(w.back())))
      w.pop_back();
    if (!w.empty())
      words.push_back(w);
  }
  Rng rng{42};
  std::string text;
  text.reserve(bytes + 256);
  while (text.size() < bytes) {
    size_t length = 6 + rng.below(16);
    for (size_t i = 0; i < length; ++i) {
      std::string word;
      size_t kind = rng.below(100);
      if (kind < 8) { // made-up word, mostly a cache miss
        for (size_t s = 1 + rng.below(4); s > 0; --s)
          word += kSyllables[rng.below(std::size(kSyllables))];
      } else if (kind < 12) {
        word = std::to_string(rng.below(kind < 10 ? 100 : 100000));
      } else {
        word = words[rng.below(words.size())];
      }
      if (i == 0 && word[0] >= 'a' && word[0] <= 'z')
        word[0] = static_cast<char>(word[0] - 'a' + 'A');
      text += word;
      if (i + 1 < length)
        text += rng.below(10) == 0 ? ", " : " ";
    }
    text += ".?!;"[rng.below(10) < 7 ? 0 : 1 + rng.below(3)];
    text += rng.below(8) == 0 ? "\n\n" : " ";
  }
  return text;
}

double threadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         1e-9 * static_cast<double>(ts.tv_nsec);
}

/// Wall and CPU seconds of f(): on a busy machine wall time includes waiting
/// for a core, CPU time does not.
struct Timing {
  double wall, cpu;
};
template <typename F> Timing timed(F &&f) {
  auto start = std::chrono::steady_clock::now();
  double cpuStart = threadCpuSeconds();
  f();
  double cpu = threadCpuSeconds() - cpuStart;
  return {
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count(),
      cpu};
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{"Tokenizer encode/decode throughput on generated English text"};
  std::string dir = MOELA_DEFAULT_TOKENIZER;
  double megabytes = 4;
  app.add_option("--tokenizer", dir, "Tokenizer directory")
      ->capture_default_str();
  app.add_option("--mb", megabytes, "Size of the generated text in MB")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    std::string text = makeText(static_cast<size_t>(megabytes * 1e6));
    const double mb = static_cast<double>(text.size()) / 1e6;
    std::printf("text: %.2f MB\n", mb);

    std::vector<moela::TokenId> ids, uncachedIds;
    const moela::Tokenizer *tok = nullptr;
    std::unique_ptr<moela::Tokenizer> cached, uncached;
    Timing load =
        timed([&] { cached = std::make_unique<moela::Tokenizer>(dir); });
    tok = cached.get();
    std::printf("load: %.3f s wall, %.3f s CPU\n", load.wall, load.cpu);
    uncached = std::make_unique<moela::Tokenizer>(dir, 0);

    auto report = [&](const char *what, Timing t) {
      std::printf("%-20s %8.2f MB/s wall  %8.2f MB/s CPU\n", what, mb / t.wall,
                  mb / t.cpu);
    };
    Timing cold = timed([&] { ids = tok->encode(text); });
    Timing warm = timed([&] { ids = tok->encode(text); });
    Timing none = timed([&] { uncachedIds = uncached->encode(text); });
    std::printf("tokens: %zu (%.2f bytes/token)\n", ids.size(),
                static_cast<double>(text.size()) / ids.size());
    report("encode, cold cache:", cold);
    report("encode, warm cache:", warm);
    report("encode, no cache:", none);

    std::string decoded, streamed;
    Timing dec = timed([&] { decoded = tok->decode(ids); });
    Timing str = timed([&] {
      moela::StreamDecoder stream(*tok);
      for (moela::TokenId id : ids)
        streamed += stream.push(id);
      streamed += stream.flush();
    });
    report("decode:", dec);
    report("stream decode:", str);
    if (decoded != text || streamed != text || uncachedIds != ids) {
      std::fprintf(stderr, "moela-bench-tokenizer: round trip mismatch\n");
      return 1;
    }
    moela::flushStdout(); // a report lost to a full disk is an error
    return 0;
  } catch (const std::exception &e) {
    std::fprintf(stderr, "moela-bench-tokenizer: %s\n", e.what());
    return 1;
  }
}
