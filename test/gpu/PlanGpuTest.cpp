//===- PlanGpuTest.cpp - Whole plans on the GPU against host and goldens --===//
//
// moela-gpu-plan-test PLANS_DIR FIXTURE_DIR
//
// 1. DeepSeek's goldens (docs/model.md §6): for the v3_a fixture, bf16 and fp8
//    weights, single and batch3 prompts, the CUDA backend runs prefill and 32
//    teacher-forced decode steps of the sm_90a plan; per step the relative
//    L2 error against truth_fp32 and the top-1 agreement must be no worse
//    than DeepSeek's own bf16 demo (metrics.json: max and median rel-L2,
//    top-1 agreement).
// 2. CUDA against the host backend on the same plan, for the tiny configs
//    with fresh random weights (seed printed): prefill of three prompts, 12
//    decode steps, a continuation of several tokens each (the plan's
//    "extend"), 4 more decode steps; median rel-L2 of the steps'
//    logits <= 0.02, at most a third of the steps > 0.04 (expert-choice flips
//    of bf16 activations), top-1 agreement >= 85 %; for the W8A8 plan (FP8
//    activations) 0.06, 0.12 and 70 %. (A RoPE of half its width in the
//    CUDA backend gives medians of 0.03-0.035.) "tiny-kvfp8" is the tiny
//    model with an e4m3 KV cache (--kv-dtype=fp8), which the host emulates:
//    the W8A8 bounds (both sides round to e4m3).
// Prints one line per case and "N passed, M failed" last; SKIPs without a GPU.
// 3. MTP drafts (v3_a compiled --mtp): CUDA against the host on verification
//    steps of two tokens per sequence, and speculative against plain greedy
//    decoding on CUDA (mtpCase).
// The CUDA engines hand out KV pages in a shuffled order, so every kernel
// reads the cache through non-contiguous block tables (the host engines keep
// the ascending order).
// MOELA_PLAN_TEST_CASES="golden bf16w/single,tiny-v2,mtp" runs only the cases
// so named (the golden cases by weights/prompts, the host ones by model);
// MOELA_PLAN_TEST_SEED=N fixes the seed of the random weights.
//
//===----------------------------------------------------------------------===//
#include "../GoldenFile.h"
#include "moela/Runtime/Backends.h"
#include "moela/Runtime/CudaBackend.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Generation.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Safetensors.h"
#include "moela/Runtime/Sampler.h"
#include "moela/Runtime/StepFamily.h"
#include "moela/Runtime/Weights.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <set>

using namespace moela;
using moela::test::readIds;

namespace {

int passed = 0, failed = 0;

/// Whether MOELA_PLAN_TEST_CASES (comma-separated names) selects `name`.
bool selected(const std::string &name) {
  const char *list = std::getenv("MOELA_PLAN_TEST_CASES");
  if (!list || !*list)
    return true;
  std::string all = std::string(",") + list + ",";
  return all.find("," + name + ",") != std::string::npos;
}

void verdict(bool ok, const std::string &what) {
  std::printf("%s %s\n", ok ? "PASS" : "FAIL", what.c_str());
  (ok ? passed : failed)++;
}

/// The CUDA backend must read exactly the roles each step's family declares
/// for its parameters (StepFamilies.cpp), as StepRolesTest holds the plan
/// verifier, --dump-plan and the host backend to.
std::set<plan::StepParams> cudaFamilies;
std::set<std::string> cudaRoleErrors;
void auditCudaRoles(const StepOperands::Audit &a) {
  if (std::strcmp(a.consumer, "CUDA backend") != 0)
    return;
  cudaFamilies.insert(a.family);
  for (int i = 0; i < 3; ++i)
    if (a.read[i] != a.present[i])
      cudaRoleErrors.insert(std::string(stepFamilyName(a.family)) + " list " +
                            std::to_string(i) + ": read mask " +
                            std::to_string(a.read[i]) + ", declared " +
                            std::to_string(a.present[i]));
}

double relL2(const std::vector<float> &got, const float *want, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = double(got[i]) - want[i];
    if (!std::isfinite(got[i]))
      return INFINITY;
    num += d * d;
    den += double(want[i]) * want[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

/// A pool of the default size whose pages are handed out shuffled.
KvCacheOptions shuffledPages() {
  KvCacheOptions kv;
  kv.shuffleSeed = 0x9a6e5;
  return kv;
}

void goldenCase(const std::string &plansDir, const std::string &fixture,
                const nlohmann::json &metrics, const std::string &weights,
                const std::string &prompts) {
  std::string what = "golden " + weights + "/" + prompts;
  Checkpoint golden = Checkpoint::open(fixture + "/golden.safetensors");
  std::string prefix = weights + "." + prompts + ".truth_fp32";
  auto promptIds = readIds(golden, "prompts." + prompts);
  auto tokens = readIds(golden, prefix + ".tokens");
  TensorView truth = golden.tensor(prefix + ".logits"); // [B, 33, V]
  std::vector<std::vector<int32_t>> forced(tokens.size());
  for (size_t b = 0; b < tokens.size(); ++b)
    forced[b].assign(tokens[b].begin(), tokens[b].end() - 1);

  Plan plan = Plan::load(plansDir + "/v3_a-" + weights + ".plan");
  auto source =
      openCheckpoint(weights == "fp8w" ? fixture + "/model-fp8" : fixture);
  std::unique_ptr<Backend> cuda = makeCudaBackend();
  Engine engine(plan, *cuda, *source, static_cast<int>(promptIds.size()), 256,
                shuffledPages());
  GenerationResult result = teacherForce(engine, promptIds, forced);

  const int64_t vocab = plan.config().vocabSize;
  const size_t steps = tokens[0].size();
  std::vector<double> errors;
  int agree = 0, total = 0;
  std::vector<float> want(truth.numel());
  std::memcpy(want.data(), truth.data, truth.bytes);
  for (size_t b = 0; b < promptIds.size(); ++b)
    for (size_t k = 0; k < steps; ++k) {
      errors.push_back(relL2(result.logits[b][k],
                             want.data() + (b * steps + k) * vocab, vocab));
      agree += result.ids[b][k] == tokens[b][k];
      ++total;
    }
  std::vector<double> sorted = errors;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted[sorted.size() / 2], worst = sorted.back();
  double top1 = double(agree) / total;
  const nlohmann::json &demo =
      metrics["cases"][prompts][weights]["demo_bf16_vs_truth"];
  double demoMedian = demo["rel_l2_median"], demoMax = demo["rel_l2_max"];
  double demoTop1 = demo["top1_agree"];
  char line[512];
  std::snprintf(
      line, sizeof line,
      "%s: rel-L2 median %.4f (demo %.4f), max %.4f (demo %.4f), top-1 %.3f "
      "(demo %.3f)",
      what.c_str(), median, demoMedian, worst, demoMax, top1, demoTop1);
  verdict(median <= demoMedian && worst <= demoMax && top1 >= demoTop1, line);
}

void hostCase(const std::string &plansDir, const std::string &model,
              uint64_t seed) {
  Plan plan = Plan::load(plansDir + "/" + model + ".plan");
  std::unique_ptr<WeightSource> weights = makeRandomWeights(seed);
  std::unique_ptr<Backend> cuda = makeCudaBackend(), host = makeHostBackend();
  Engine onCuda(plan, *cuda, *weights, 3, 256, shuffledPages()),
      onHost(plan, *host, *weights, 3, 256);
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int32_t> token(
      2, static_cast<int32_t>(
             std::min<int64_t>(plan.config().vocabSize, 100000) - 1));
  std::vector<std::vector<int32_t>> prompts(3);
  for (int b = 0; b < 3; ++b) {
    prompts[b].push_back(static_cast<int32_t>(plan.config().bosTokenId));
    for (int i = 0; i < 9 + 17 * b; ++i)
      prompts[b].push_back(token(rng));
  }
  std::vector<double> errors; // rel-L2 per sequence and step
  int agree = 0, total = 0;
  auto compare = [&](const std::vector<std::vector<float>> &g,
                     const std::vector<std::vector<float>> &h) {
    std::vector<std::vector<int32_t>> next(3);
    for (int b = 0; b < 3; ++b) {
      errors.push_back(relL2(g[b], h[b].data(), h[b].size()));
      int32_t hostChoice = argmax(h[b].data(), h[b].size());
      agree += argmax(g[b].data(), g[b].size()) == hostChoice;
      ++total;
      next[b] = {hostChoice};
    }
    return next;
  };
  auto next = compare(onCuda.feed(prompts), onHost.feed(prompts));
  for (int step = 0; step < 12; ++step)
    next = compare(onCuda.feed(next), onHost.feed(next));
  // Text fed after generation continues the sequences: an "extend" chunk
  // (absorbed attention over the cached prefix), then decode again.
  for (int b = 0; b < 3; ++b)
    for (int i = 0; i < 2 + 3 * b; ++i)
      next[b].push_back(token(rng));
  next = compare(onCuda.feed(next), onHost.feed(next));
  for (int step = 0; step < 4; ++step)
    next = compare(onCuda.feed(next), onHost.feed(next));
  // bf16 activations move a near-tied expert choice now and then, and that
  // token's state then stays in its sequence's KV cache (DeepSeek's own bf16
  // demo shows such steps on the goldens; with every expert selected, or no
  // MoE layer, every step stays < 0.01): the typical step must be close, and
  // the far ones at most a third (one sequence of three).
  // FP8 activations (a "-w8a8" plan, docs/model.md §3.4) keep 3 mantissa bits:
  // about 3.6 % rms rounding on every GEMM input, against the f32 host.
  // An e4m3 KV cache (a "-kvfp8" plan) is the same: both sides round to e4m3,
  // from inputs that differ by bf16 rounding, and a value near a rounding
  // boundary lands one e4m3 step (6 %) apart.
  auto endsWith = [&](const char *suffix) {
    const size_t n = std::strlen(suffix);
    return model.size() > n && model.compare(model.size() - n, n, suffix) == 0;
  };
  const bool w8a8 = endsWith("-w8a8") || endsWith("-kvfp8");
  const double bound = w8a8 ? 0.06 : 0.02, far = 2 * bound,
               minTop1 = w8a8 ? 0.7 : 0.85;
  std::vector<double> sorted = errors;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const auto outliers = std::count_if(errors.begin(), errors.end(),
                                      [&](double e) { return !(e <= far); });
  const double top1 = double(agree) / total;
  char line[256];
  std::snprintf(
      line, sizeof line,
      "%s cuda vs host (seed %llu): rel-L2 median %.4f (<= %.3f), "
      "%zu of %zu steps > %.2f (<= 1/3, max %.3f), top-1 %.3f (>= %.2f)",
      model.c_str(), static_cast<unsigned long long>(seed), median, bound,
      size_t(outliers), errors.size(), far, sorted.back(), top1, minTop1);
  verdict(median <= bound && outliers * 3 <= long(errors.size()) &&
              top1 >= minTop1,
          line);

  // The plan's Sample step on the device: greedy rows choose the argmax of
  // the logits the same step returns, with their log-softmax (1e-4), and a
  // seeded draw is one of the row's top_k tokens.
  std::vector<RowSampling> rows(3);
  rows[0].topLogprobs = 3;
  rows[1].topLogprobs = 0;
  rows[2].temperature = 0.8f;
  rows[2].topK = 4;
  rows[2].seed = seed;
  std::vector<std::vector<float>> logits;
  std::vector<SampledToken> sampled = onCuda.feedAndSample(next, rows, &logits);
  bool ok = true;
  for (int b = 0; b < 3; ++b) {
    const std::vector<float> &l = logits[b];
    std::vector<int32_t> order(l.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t x, int32_t y) { return l[x] > l[y]; });
    double m = l[order[0]], sum = 0;
    for (float v : l)
      sum += std::exp(double(v) - m);
    const int32_t id = sampled[b].id;
    if (b < 2)
      ok = ok && id == order[0] &&
           std::fabs(sampled[b].logprob - (l[id] - m - std::log(sum))) < 1e-4;
    else
      ok = ok &&
           std::find(order.begin(), order.begin() + 4, id) != order.begin() + 4;
    ok =
        ok && sampled[b].top.size() == size_t(std::max(0, rows[b].topLogprobs));
  }
  verdict(ok, model + " cuda Sample step: greedy = argmax of its logits, "
                      "logprobs, a top-k draw");
}

/// MTP drafts on the CUDA backend (v3_a compiled --mtp: the fixture's MTP
/// layer runs in every program). CUDA and the host take the same token
/// stream: the three golden batch prompts, then verification steps of two
/// tokens per sequence (the host's greedy token and draft). The steps'
/// logits must be as close as in the host cases (median rel-L2 <= 0.02) and
/// the drafts agree with the host's in >= 80 % of rows (bf16 moves near-tied
/// choices of the random MTP module); greedy speculative decoding on CUDA
/// must give the tokens of plain greedy decoding on CUDA.
void mtpCase(const std::string &plansDir, const std::string &fixture) {
  Plan plan = Plan::load(plansDir + "/v3_a-bf16w-mtp.plan");
  Checkpoint golden = Checkpoint::open(fixture + "/golden.safetensors");
  auto prompts = readIds(golden, "prompts.batch3");
  const int batch = static_cast<int>(prompts.size());
  auto weights = openCheckpoint(fixture);
  std::unique_ptr<Backend> cuda = makeCudaBackend(), host = makeHostBackend();
  Engine onCuda(plan, *cuda, *weights, batch, 256, shuffledPages()),
      onHost(plan, *host, *weights, batch, 256);
  const int64_t vocab = plan.config().vocabSize;
  std::vector<double> errors;
  int draftsAgree = 0, drafts = 0;
  auto compare = [&](const std::vector<float> &g, const std::vector<float> &h,
                     int32_t gDraft, int32_t hDraft) {
    errors.push_back(relL2(g, h.data(), h.size()));
    draftsAgree += gDraft == hDraft;
    ++drafts;
  };
  std::vector<std::vector<float>> g = onCuda.feed(prompts),
                                  h = onHost.feed(prompts);
  std::vector<std::vector<int32_t>> next(batch);
  for (int b = 0; b < batch; ++b) {
    compare(g[b], h[b], onCuda.drafts()[b], onHost.drafts()[b]);
    next[b] = {argmax(h[b].data(), vocab), onHost.drafts()[b]};
  }
  for (int step = 0; step < 8; ++step) {
    auto gr = onCuda.verify(next), hr = onHost.verify(next);
    for (int b = 0; b < batch; ++b) {
      for (size_t i = 0; i < hr[b].size(); ++i)
        compare(gr[b][i].logits, hr[b][i].logits, gr[b][i].draft,
                hr[b][i].draft);
      next[b] = {argmax(hr[b][1].logits.data(), vocab), hr[b][1].draft};
    }
  }
  std::vector<double> sorted = errors;
  std::sort(sorted.begin(), sorted.end());
  const double median = sorted[sorted.size() / 2];
  const double agree = double(draftsAgree) / drafts;

  GenerationOptions options;
  options.maxNewTokens = 24;
  options.ignoreEos = true;
  std::unique_ptr<Backend> cudaPlain = makeCudaBackend(),
                           cudaFast = makeCudaBackend();
  Engine plainEngine(plan, *cudaPlain, *weights, batch, 256, shuffledPages());
  GenerationResult plain = generate(plainEngine, prompts, options);
  options.speculative = true;
  Engine fastEngine(plan, *cudaFast, *weights, batch, 256, shuffledPages());
  GenerationResult fast = generate(fastEngine, prompts, options);
  char line[256];
  std::snprintf(line, sizeof line,
                "mtp v3_a cuda vs host: rel-L2 median %.4f (<= 0.02) over %zu "
                "rows, drafts agree %.3f (>= 0.8); speculative == plain greedy "
                "on cuda: %s (%lld of %lld drafts accepted)",
                median, errors.size(), agree,
                fast.ids == plain.ids ? "yes" : "no",
                static_cast<long long>(fast.draftsAccepted),
                static_cast<long long>(fast.draftsProposed));
  verdict(median <= 0.02 && agree >= 0.8 && fast.ids == plain.ids, line);
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: moela-gpu-plan-test PLANS_DIR FIXTURE_DIR\n");
    return 1;
  }
  std::string plans = argv[1], fixture = argv[2];
  std::string why;
  if (!cudaAvailable(&why)) {
    std::printf("SKIP moela-gpu-plan-test: no CUDA device: %s\n", why.c_str());
    return 0;
  }
  setRoleAuditHook(&auditCudaRoles);
  std::ifstream metricsFile(fixture + "/metrics.json");
  nlohmann::json metrics = nlohmann::json::parse(metricsFile);
  // MOELA_PLAN_TEST_SEED fixes the random weights' seed (CI, reproducing).
  const char *fixedSeed = std::getenv("MOELA_PLAN_TEST_SEED");
  uint64_t seed = fixedSeed && *fixedSeed ? std::strtoull(fixedSeed, nullptr, 0)
                                          : std::random_device{}();
  for (std::string weights : {"bf16w", "fp8w"})
    for (std::string prompts : {"single", "batch3"}) {
      if (!selected("golden " + weights + "/" + prompts))
        continue;
      try {
        goldenCase(plans, fixture, metrics, weights, prompts);
      } catch (const std::exception &e) {
        verdict(false, "golden " + weights + "/" + prompts + ": " + e.what());
      }
    }
  for (std::string model : {"tiny", "tiny-v2", "tiny-v2-lite", "tiny-v3-fp8",
                            "tiny-v3-fp8-w8a8", "tiny-kvfp8"}) {
    if (!selected(model))
      continue;
    try {
      hostCase(plans, model, seed);
    } catch (const std::exception &e) {
      verdict(false, model + ": " + e.what());
    }
  }
  if (selected("mtp")) {
    try {
      mtpCase(plans, fixture);
    } catch (const std::exception &e) {
      verdict(false, std::string("mtp: ") + e.what());
    }
  }
  std::string errors;
  for (const std::string &e : cudaRoleErrors)
    errors += "; " + e;
  verdict(cudaRoleErrors.empty(),
          "the CUDA backend reads the declared roles of the " +
              std::to_string(cudaFamilies.size()) + " step families it ran" +
              errors);
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
