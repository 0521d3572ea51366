//===- moela_bench.cpp - Prefill and decode speed of a plan, per backend --===//
//
// moela-bench PLAN... (--weights DIR | --random-weights) [--backend host,cuda]
//   [--prefill 512] [--batch 1,8,64] [--context 0] [--steps 16]
//
// For every plan (e.g. the same model compiled two ways), backend and batch
// size, side by side in one run: prefill of
// --prefill tokens (tokens/s) and decode steps at --context cached tokens
// (ms/step, tokens/s). With --roofline, each line also gives the bytes and
// FLOPs the step must move at least and the time they take at the device's
// limits (H200: 4.3 TB/s, 790 TFLOP/s bf16, 1580 TFLOP/s fp8), and the ratio
// of the measured time to that floor.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Backends.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Weights.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

using namespace moela;

namespace {

/// Bytes and FLOPs a step must move and do at least (weights read once,
/// KV cache read once per sequence, activations ignored).
struct Floor {
  double bytes = 0, flops = 0;
};

/// Weight bytes of one layer's parts that every token touches, and of one
/// routed expert.
struct ModelSizes {
  double denseBytesPerLayer = 0, expertBytes = 0, attentionBytesPerLayer = 0;
  double embedBytes = 0, headBytes = 0;
  double activeParamsPerToken = 0;
};

ModelSizes modelSizes(const ModelConfig &c) {
  const double wb = c.fp8.enabled ? 1.0 : 2.0; // decoder-layer linear weights
  const double d = c.hiddenSize, h = c.numAttentionHeads;
  double q = c.hasQLora() ? (c.qLoraRank * d + h * c.qkHeadDim() * c.qLoraRank)
                          : h * c.qkHeadDim() * d;
  double attn = q + (c.kvLoraRank + c.qkRopeHeadDim) * d +
                h * (c.qkNopeHeadDim + c.vHeadDim) * c.kvLoraRank +
                d * h * c.vHeadDim;
  ModelSizes s;
  s.attentionBytesPerLayer = attn * wb;
  s.denseBytesPerLayer = 3 * d * c.intermediateSize * wb;
  s.expertBytes = 3 * d * c.moeIntermediateSize * wb;
  s.embedBytes = s.headBytes = c.vocabSize * d * 2;
  double moeActive =
      3 * d * c.moeIntermediateSize * (c.numExpertsPerTok + c.nSharedExperts);
  double dense = 3 * d * c.intermediateSize;
  double layers = c.numHiddenLayers, moeLayers = layers - c.firstKDenseReplace;
  s.activeParamsPerToken = layers * attn + c.firstKDenseReplace * dense +
                           moeLayers * moeActive + c.vocabSize * d;
  return s;
}

Floor decodeFloor(const ModelConfig &c, int batch, int context) {
  ModelSizes s = modelSizes(c);
  double moeLayers = c.numHiddenLayers - c.firstKDenseReplace;
  // Distinct experts a batch touches: at most E, expected E(1 - (1-K/E)^B).
  double e = c.nRoutedExperts, k = c.numExpertsPerTok;
  double touched = e * (1 - std::pow(1 - k / e, batch));
  Floor f;
  f.bytes = c.numHiddenLayers * s.attentionBytesPerLayer +
            c.firstKDenseReplace * s.denseBytesPerLayer +
            moeLayers * (touched + c.nSharedExperts) * s.expertBytes +
            s.headBytes +
            double(batch) * context * c.numHiddenLayers *
                c.kvCacheElemsPerToken() * 2;
  f.flops = 2 * s.activeParamsPerToken * batch +
            4.0 * batch * context * c.numHiddenLayers * c.numAttentionHeads *
                (c.kvLoraRank + c.qkRopeHeadDim);
  return f;
}

Floor prefillFloor(const ModelConfig &c, int tokens) {
  ModelSizes s = modelSizes(c);
  Floor f;
  f.bytes = c.numHiddenLayers * s.attentionBytesPerLayer +
            c.firstKDenseReplace * s.denseBytesPerLayer +
            (c.numHiddenLayers - c.firstKDenseReplace) *
                (c.nRoutedExperts + c.nSharedExperts) * s.expertBytes;
  // Causal attention in the expanded form: about T^2/2 query-key pairs per
  // head, each Dn + Dr (scores) + Dv (P V) multiply-adds of 2 FLOPs.
  f.flops = 2 * s.activeParamsPerToken * tokens +
            1.0 * tokens * tokens * c.numHiddenLayers * c.numAttentionHeads *
                (c.qkHeadDim() + c.vHeadDim);
  return f;
}

std::vector<int> parseList(const std::string &text) {
  std::vector<int> values;
  for (size_t start = 0; start <= text.size();) {
    size_t end = std::min(text.find(',', start), text.size());
    if (end > start)
      values.push_back(std::stoi(text.substr(start, end - start)));
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
  std::string weightsPath, backends = "host", batches = "1,8";
  bool randomWeights = false, roofline = false;
  int prefill = 128, steps = 16, context = 0;
  double bandwidth = 4.3e12, bf16Flops = 790e12, fp8Flops = 1580e12;
  CLI::App app{"moela-bench: prefill and decode speed of a plan"};
  app.add_option("plans", planPaths, "Plans of one model to compare")
      ->required();
  app.add_option("--weights", weightsPath, "Checkpoint");
  app.add_flag("--random-weights", randomWeights, "Random weights");
  app.add_option("--backend", backends, "Comma-separated backends: host,cuda");
  app.add_option("--prefill", prefill,
                 "Prompt tokens of the prefill measurement");
  app.add_option("--batch", batches, "Comma-separated decode batch sizes");
  app.add_option("--context", context,
                 "Cached tokens per sequence during decode");
  app.add_option("--steps", steps, "Decode steps measured (after one warm-up)");
  app.add_flag("--roofline", roofline, "Compare with the device limits");
  app.add_option("--bandwidth", bandwidth, "Device memory bandwidth, bytes/s");
  app.add_option("--bf16-flops", bf16Flops, "Dense bf16 FLOP/s");
  app.add_option("--fp8-flops", fp8Flops, "Dense fp8 FLOP/s");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    return app.exit(e);
  }
  try {
    std::printf("%-14s %-6s %-8s %6s %8s %12s %12s%s\n", "plan", "backend",
                "phase", "batch", "tokens", "ms", "tokens/s",
                roofline ? "      floor ms  x floor" : "");
    for (const std::string &planPath : planPaths) {
      Plan plan = Plan::load(planPath);
      std::string label = std::filesystem::path(planPath).stem().string();
      const ModelConfig &config = plan.config();
      std::unique_ptr<WeightSource> weights =
          randomWeights ? makeRandomWeights(1) : openCheckpoint(weightsPath);
      std::vector<int> batchSizes = parseList(batches);
      int maxBatch = *std::max_element(batchSizes.begin(), batchSizes.end());
      int maxSeq = std::max(prefill, context) + steps + 2;
      std::mt19937 rng(3);
      std::uniform_int_distribution<int32_t> token(
          2, static_cast<int32_t>(std::min<int64_t>(config.vocabSize, 100000) -
                                  1));
      double flopRate = config.fp8.enabled ? fp8Flops : bf16Flops;

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
          std::printf("%-14s %-6s skipped: %s\n", label.c_str(), name.c_str(),
                      note.c_str());
          continue;
        }
        Engine engine(plan, *backend, *weights, maxBatch, maxSeq);
        auto report = [&](const char *phase, int batch, int tokens, double t,
                          Floor floor) {
          std::printf("%-14s %-6s %-8s %6d %8d %12.3f %12.1f", label.c_str(),
                      name.c_str(), phase, batch, tokens, t * 1e3, tokens / t);
          if (roofline) {
            double ms =
                1e3 * std::max(floor.bytes / bandwidth, floor.flops / flopRate);
            std::printf("  %12.3f %8.2f", ms, t * 1e3 / ms);
          }
          std::printf("\n");
        };

        // Prefill: one sequence of `prefill` tokens (after a warm-up run).
        std::vector<int32_t> prompt(prefill);
        for (int32_t &t : prompt)
          t = token(rng);
        prompt[0] = static_cast<int32_t>(config.bosTokenId);
        engine.feed({prompt});
        engine.reset(0);
        auto t0 = std::chrono::steady_clock::now();
        engine.feed({prompt});
        report("prefill", 1, prefill, seconds(t0),
               prefillFloor(config, prefill));

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
          engine.feed(next); // warm-up (graph capture)
          auto t1 = std::chrono::steady_clock::now();
          for (int i = 0; i < steps; ++i)
            engine.feed(next);
          double perStep = seconds(t1) / steps;
          report("decode", batch, batch, perStep,
                 decodeFloor(config, batch, context));
        }
      }
    }
  } catch (const std::exception &e) {
    std::fprintf(stderr, "moela-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
