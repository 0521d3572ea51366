//===- moela_bench.cpp - Prefill and decode speed of a plan, per backend --===//
//
// moela-bench PLAN... (--weights DIR | --random-weights) [--backend host,cuda]
//   [--prefill 512] [--batch 1,8,64] [--context 0] [--steps 16] [-r 3]
//   [--output md|json|csv] [--logits]
//
// For every plan (e.g. the same model compiled two ways), backend and batch
// size, side by side in one run: prefill of
// --prefill tokens (tokens/s) and decode steps at --context cached tokens
// (ms/step, tokens/s), each measured -r times after one warm-up and reported
// as mean ± sd (bench/BenchReport.h). With --roofline, each line also gives
// the cost model's time for the plan's own steps at that shape and the
// model's floor on --gpu (docs/cost-model.md), and the measured time's ratio
// to each. Decode steps return greedy
// tokens from the plan's Sample step; --logits copies the logits back instead
// (Engine::feed), as every step did before the Sample step. The report goes
// to stdout; notes (a backend skipped) to stderr unless -q, and with -v each
// repetition's time as it is measured (bench::repetitionLine).
//
//===----------------------------------------------------------------------===//
#include "BenchReport.h"
#include "cli/Cli11.h"
#include "cli/Version.h"
#include "moela/Runtime/Backends.h"
#include "moela/Runtime/CostReport.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Output.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Weights.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <random>

using namespace moela;

namespace {

std::vector<int> parseList(const std::string &text) {
  std::vector<int> values;
  for (size_t start = 0; start <= text.size();) {
    size_t end = std::min(text.find(',', start), text.size());
    if (end > start) {
      const std::string item = text.substr(start, end - start);
      size_t used = 0;
      int value = 0;
      try {
        value = std::stoi(item, &used);
      } catch (const std::exception &) {
      }
      if (used != item.size() || value < 1)
        fail("--batch ", text, ": '", item, "' is not a batch size");
      values.push_back(value);
    }
    start = end + 1;
  }
  return values;
}

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

} // namespace

int main(int argc, char **argv) {
  std::vector<std::string> planPaths;
  std::string weightsPath, backends = "host", batches = "1,8", output = "md";
  bool randomWeights = false, roofline = false, logits = false;
  bool quiet = false, verbose = false;
  int prefill = 128, steps = 16, context = 0, repeats = 3;
  std::string gpuName = "h200";
  CLI::App app{"moela-bench: prefill and decode speed of a plan"};
  app.add_option("plans", planPaths, "Plans of one model to compare")
      ->required();
  app.option_defaults()->always_capture_default(); // --help shows defaults
  app.add_option("--weights", weightsPath, "Checkpoint")->group("Model");
  app.add_flag("--random-weights", randomWeights, "Random weights")
      ->group("Model");
  app.add_option("--backend", backends, "Comma-separated backends: host,cuda")
      ->group("Model");
  app.add_option("--prefill", prefill,
                 "Prompt tokens of the prefill measurement")
      ->check(CLI::PositiveNumber)
      ->group("Measurement");
  app.add_option("--batch", batches, "Comma-separated decode batch sizes")
      ->group("Measurement");
  app.add_option("--context", context,
                 "Cached tokens per sequence during decode")
      ->check(CLI::NonNegativeNumber)
      ->group("Measurement");
  app.add_option("--steps", steps,
                 "Decode steps per repetition (after one warm-up)")
      ->check(CLI::PositiveNumber)
      ->group("Measurement");
  app.add_option("-r,--repeats", repeats,
                 "Repetitions of every measurement (mean ± sd)")
      ->check(CLI::PositiveNumber)
      ->group("Measurement");
  app.add_option("--output", output, "Report format: md, json or csv")
      ->check(CLI::IsMember({"md", "json", "csv"}))
      ->group("Report");
  app.add_flag("--logits", logits,
               "Decode steps copy the logits [R, V] to the host (Engine::feed) "
               "instead of returning greedy tokens (Engine::feedAndSample)");
  app.add_flag("--roofline", roofline,
               "Compare with the cost model: the plan's predicted time and "
               "the model's floor on --gpu (docs/cost-model.md)")
      ->group("Roofline");
  app.add_option("--gpu", gpuName,
                 "GPU of --roofline: h200, h100 or a JSON file")
      ->group("Roofline");
  app.add_flag("-q,--quiet", quiet,
               "Only the report: no notes on stderr (errors only)")
      ->group("Report");
  app.add_flag("-v,--verbose", verbose,
               "Also each repetition's time on stderr as it is measured")
      ->group("Report");
  if (std::optional<int> exit =
          cli::parseCommandLine(app, argc, argv, "moela-bench", [] {
            return cli::versionText("moela-bench", {cli::cudaDriverLine()});
          }))
    return *exit;
  verbose = verbose && !quiet;
  // -v: one line per repetition, as soon as it is measured.
  auto measured = [&](const bench::Measurement &m) {
    if (verbose)
      std::fprintf(
          stderr, "moela-bench: %s\n",
          bench::repetitionLine(m, m.seconds.size() - 1, repeats).c_str());
  };
  try {
    if (weightsPath.empty() == !randomWeights)
      fail("give exactly one of --weights DIR and --random-weights");
    GpuSpec gpu;
    if (std::string why = loadGpuSpec(gpuName, gpu); !why.empty())
      fail(why);
    std::vector<bench::Measurement> measurements;
    for (const std::string &planPath : planPaths) {
      Plan plan = Plan::load(planPath);
      std::string label = std::filesystem::path(planPath).stem().string();
      const ModelConfig &config = plan.config();
      std::unique_ptr<WeightSource> weights =
          randomWeights ? makeRandomWeights(1) : openCheckpoint(weightsPath);
      std::vector<int> batchSizes = parseList(batches);
      if (batchSizes.empty())
        fail("--batch ", batches, " lists no batch size");
      int maxBatch = *std::max_element(batchSizes.begin(), batchSizes.end());
      // Every repetition of decode appends `steps` tokens to the cache.
      int maxSeq = std::max(prefill, context) + repeats * steps + 2;
      std::mt19937 rng(3);
      std::uniform_int_distribution<int32_t> token(
          2, static_cast<int32_t>(std::min<int64_t>(config.vocabSize, 100000) -
                                  1));

      std::vector<std::string> names;
      for (size_t start = 0; start <= backends.size();) {
        size_t end = std::min(backends.find(',', start), backends.size());
        if (end > start)
          names.push_back(backends.substr(start, end - start));
        start = end + 1;
      }
      for (const std::string &name : names) {
        std::string note;
        std::unique_ptr<Backend> backend =
            createBackend(parseBackendChoice(name), plan, &note);
        if (!note.empty() || backend->name() != name) {
          if (!quiet)
            std::fprintf(stderr, "moela-bench: %s on %s skipped: %s\n",
                         label.c_str(), name.c_str(), note.c_str());
          continue;
        }
        Engine engine(plan, *backend, *weights, maxBatch, maxSeq);
        auto measurement = [&](const char *phase, int batch, int tokens,
                               const RunCost &cost) {
          bench::Measurement m{label, name, phase, batch, tokens, {}, {}, {}};
          if (roofline) {
            m.floorSeconds = cost.floorMs / 1e3;
            m.predictedSeconds = cost.predictedMs / 1e3;
          }
          return m;
        };

        // Prefill: one sequence of `prefill` tokens (after a warm-up run).
        std::vector<int32_t> prompt(prefill);
        for (int32_t &t : prompt)
          t = token(rng);
        prompt[0] = static_cast<int32_t>(config.bosTokenId);
        engine.feed({prompt});
        bench::Measurement pre = measurement(
            "prefill", 1, prefill, prefillCost(plan.root(), gpu, prefill));
        for (int r = 0; r < repeats; ++r) {
          engine.reset(0);
          auto t0 = std::chrono::steady_clock::now();
          engine.feed({prompt});
          pre.seconds.push_back(seconds(t0));
          measured(pre);
        }
        measurements.push_back(std::move(pre));

        // Decode: every batch size at `context` cached tokens.
        for (int batch : batchSizes) {
          std::vector<std::vector<int32_t>> prompts(maxBatch);
          for (int s = 0; s < batch; ++s) {
            engine.reset(s);
            prompts[s].assign(std::max(1, context), token(rng));
          }
          engine.feed(prompts);
          std::vector<std::vector<int32_t>> next(maxBatch);
          for (int s = 0; s < batch; ++s)
            next[s] = {token(rng)};
          // A decode step: greedy tokens from the plan's Sample step, or
          // (--logits) the logits [R, V] copied back.
          const std::vector<RowSampling> greedy(maxBatch);
          auto step = [&] {
            if (logits)
              engine.feed(next);
            else
              engine.feedAndSample(next, greedy);
          };
          step(); // warm-up (graph capture)
          // Each step's token sees its context and itself.
          bench::Measurement dec = measurement(
              "decode", batch, batch,
              decodeCost(plan.root(), gpu, batch, std::max(1, context) + 1));
          for (int r = 0; r < repeats; ++r) {
            auto t1 = std::chrono::steady_clock::now();
            for (int i = 0; i < steps; ++i)
              step();
            dec.seconds.push_back(seconds(t1) / steps);
            measured(dec);
          }
          measurements.push_back(std::move(dec));
        }
      }
    }
    bench::writeReport(std::cout, *bench::parseReportFormat(output),
                       measurements);
    moela::flushStdout(); // a report lost to a full disk is an error
  } catch (const std::exception &e) {
    std::fprintf(stderr, "moela-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
