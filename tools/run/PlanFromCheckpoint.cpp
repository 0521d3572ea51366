//===- PlanFromCheckpoint.cpp - moela-run DIR: compile, cache, run --------===//
#include "run/PlanFromCheckpoint.h"

#include "cli/Version.h"
#include "moela/Runtime/Backends.h"
#include "moela/Runtime/Error.h"

#ifdef MOELA_RUN_COMPILES
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "moela/Compiler/Driver.h"
#include "moela/InitAll.h"
#endif

#include <CLI/CLI.hpp>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace moela::runtool {

bool CheckpointCompileFlags::any() const {
  const CompileOptions none;
  return !target.empty() || compile.maxBatch != none.maxBatch ||
         compile.maxPrefillTokens != none.maxPrefillTokens ||
         compile.tp != none.tp || compile.mtp || compile.ep;
}

void addCompileFlags(CLI::App &app, CheckpointCompileFlags &flags) {
  const char *group = "Compiling a checkpoint folder (see moela-compile)";
  app.add_option("--target", flags.target,
                 "sm_90a or host (default: sm_90a when a CUDA device is "
                 "usable, else host)")
      ->group(group);
  app.add_option("--max-batch", flags.compile.maxBatch,
                 "Sequences per step (64)")
      ->check(CLI::PositiveNumber)
      ->group(group);
  app.add_option("--max-prefill-tokens", flags.compile.maxPrefillTokens,
                 "Tokens per prefill step (2048)")
      ->check(CLI::PositiveNumber)
      ->group(group);
  app.add_flag("--mtp", flags.compile.mtp,
               "Run MTP module 0 for speculative decoding")
      ->group(group);
  app.add_option("--tp", flags.compile.tp, "Ranks to split the model over (1)")
      ->check(CLI::PositiveNumber)
      ->group(group);
  app.add_flag("--ep", flags.compile.ep, "With --tp N: expert parallelism")
      ->group(group);
}

namespace {

/// FNV-1a: stable across builds and machines, unlike std::hash.
uint64_t fnv1a(const std::string &text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text)
    h = (h ^ c) * 1099511628211ull;
  return h;
}

/// Beside the kernel cache (moela::defaultKernelCacheDir).
fs::path planCacheDir() {
  if (const char *dir = std::getenv("MOELA_CACHE_DIR"); dir && *dir)
    return fs::path(dir) / "plans";
  if (const char *xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "moela" / "plans";
  if (const char *home = std::getenv("HOME"); home && *home)
    return fs::path(home) / ".cache" / "moela" / "plans";
  fail("no folder for the plan cache: set MOELA_CACHE_DIR or HOME");
}

} // namespace

std::optional<std::string>
planFromCheckpoint(const std::string &path, const CheckpointCompileFlags &flags,
                   bool quiet, const char *tool) {
  if (!fs::is_directory(path)) {
    if (flags.any())
      fail("--target, --max-batch, --max-prefill-tokens, --mtp, --tp and --ep "
           "compile a checkpoint folder; ",
           path, " is a plan already (recompile it with moela-compile)");
    return path;
  }
  const fs::path config = fs::path(path) / "config.json";
  if (!fs::is_regular_file(config))
    fail(path, " has no config.json: give a plan file or a checkpoint folder");
  std::ifstream in(config, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in)
    fail(config.string(), ": cannot read");

  std::string why;
  const std::string target = !flags.target.empty()
                                 ? flags.target
                                 : (cudaAvailable(&why) ? "sm_90a" : "host");
  // Everything that changes the plan: the config, the flags, and the
  // compiler that made it (version and git commit).
  std::ostringstream key;
  key << text.str() << "\n--target=" << target
      << " --max-batch=" << flags.compile.maxBatch
      << " --max-prefill-tokens=" << flags.compile.maxPrefillTokens
      << " --tp=" << flags.compile.tp << (flags.compile.mtp ? " --mtp" : "")
      << (flags.compile.ep ? " --ep" : "") << "\n"
      << cli::versionText("moela");
  char name[32];
  std::snprintf(name, sizeof(name), "%016" PRIx64 ".plan", fnv1a(key.str()));
  const fs::path dir = planCacheDir();
  const fs::path cached = dir / name;
  if (fs::exists(cached))
    return cached.string();

#ifndef MOELA_RUN_COMPILES
  fail("this ", tool,
       " was built without the compiler (MOELA_RUNTIME_ONLY): compile ",
       config.string(), " with moela-compile and give the plan file");
#else
  if (!quiet)
    std::fprintf(stderr, "%s: compiling %s for %s (cached as %s)\n", tool,
                 config.string().c_str(), target.c_str(),
                 cached.string().c_str());
  CompileOptions options = flags.compile;
  options.input = config.string();
  options.target = target;
  mlir::DialectRegistry registry;
  registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.loadAllAvailableDialects();
  std::vector<uint8_t> plan;
  if (compilePlanBytes(options, context, plan) != 0)
    return std::nullopt;
  // Written aside and renamed: a reader (another rank, another run) sees a
  // whole plan or none.
  std::error_code ec;
  fs::create_directories(dir, ec);
  const fs::path partial =
      dir / (std::string(name) + ".tmp" + std::to_string(getpid()));
  std::ofstream out(partial, std::ios::binary);
  out.write(reinterpret_cast<const char *>(plan.data()),
            static_cast<std::streamsize>(plan.size()));
  out.close();
  if (!out)
    fail(partial.string(),
         ": cannot write the plan cache (set MOELA_CACHE_DIR)");
  fs::rename(partial, cached, ec);
  if (ec)
    fail(cached.string(), ": cannot write the plan cache: ", ec.message());
  return cached.string();
#endif
}

} // namespace moela::runtool
