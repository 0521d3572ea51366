//===- moela-bisect.cpp - Which pass of the pipeline moved the logits? ----===//
//
// moela-bisect CONFIG|DIR (--weights DIR | --random-weights [--seed N])
//   --prompt-ids F.json [--tolerance 1e-3] [--steps 4]
//
// Compiles the default pipeline as it stands before the first optional pass
// (the reference: the model lowered to kernels, nothing fused) and after
// each optional pass (moela::optionalPassNames(), in pipeline order; the
// passes after it left out, moela-plan-memory always run), writes each as a
// plan in memory and runs it on the host backend with the same prompts and
// the same teacher-forced continuation (the reference's greedy tokens).
// Prints, per pass, max |Δlogit| against the reference and against the stage
// before it and how many argmaxes agree, and names the first pass that breaks
// the tolerance. Exit status: 0 all stages agree, 1 a pass breaks the
// tolerance, 2 bad input.
//
//===----------------------------------------------------------------------===//
#include "cli/Version.h"
#include "moela/Compiler/Driver.h"
#include "moela/InitAll.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Generation.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/Json.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Sampler.h"
#include "moela/Runtime/Weights.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

using namespace llvm;

namespace {

constexpr int kBadInput = 2; // 1 means "a pass broke the tolerance"

cl::OptionCategory inputCategory("Model and inputs");
cl::OptionCategory checkCategory("Comparison");

cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<config.json | checkpoint dir>"),
                               cl::cat(inputCategory));
cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("Checkpoint (default: the input when it is a folder with "
             "safetensors)"),
    cl::value_desc("dir"), cl::cat(inputCategory));
cl::opt<bool> randomWeights(
    "random-weights",
    cl::desc(
        "Deterministic random weights (by --seed) instead of a checkpoint"),
    cl::cat(inputCategory));
cl::opt<uint64_t> seed("seed", cl::desc("Seed of --random-weights (default 0)"),
                       cl::init(0), cl::cat(inputCategory));
cl::opt<std::string>
    promptIdsPath("prompt-ids", cl::Required,
                  cl::desc("JSON array of B equal-length arrays of token ids"),
                  cl::value_desc("file"), cl::cat(inputCategory));
cl::opt<std::string>
    target("target",
           cl::desc("Compile target of every stage (default host; the plans "
                    "always run on the host backend)"),
           cl::value_desc("host|sm_90a"), cl::init("host"),
           cl::cat(inputCategory));

cl::opt<double> tolerance(
    "tolerance",
    cl::desc("Largest |Δlogit| against the reference that still agrees "
             "(default 1e-3)"),
    cl::init(1e-3), cl::cat(checkCategory));
cl::opt<int> decodeSteps(
    "steps",
    cl::desc("Decode steps after the prompt, fed the reference's greedy "
             "tokens (default 4)"),
    cl::init(4), cl::cat(checkCategory));

cl::OptionCategory messageCategory("Messages");
cl::opt<bool> quiet("q",
                    cl::desc("Only the verdict line on stdout, not the table "
                             "(the exit status says the same); also --quiet"),
                    cl::cat(messageCategory));
cl::alias quietLong("quiet", cl::desc("Alias for -q"), cl::aliasopt(quiet),
                    cl::cat(messageCategory));
cl::opt<bool> verbose("v",
                      cl::desc("Also, per stage on stderr, the seconds to "
                               "compile and run it and the plan it produced; "
                               "also --verbose"),
                      cl::cat(messageCategory));
cl::alias verboseLong("verbose", cl::desc("Alias for -v"),
                      cl::aliasopt(verbose), cl::cat(messageCategory));

/// Stops the tool with a one-line message and exit status 2.
[[noreturn]] void badInput(const std::string &message) {
  errs() << "moela-bisect: " << message << "\n";
  std::exit(kBadInput);
}

std::vector<std::vector<int32_t>> readPromptIds(const std::string &path) {
  if (!std::ifstream(path))
    badInput(path + ": cannot open --prompt-ids");
  nlohmann::json doc;
  try {
    doc = moela::readJsonFile(path);
  } catch (const moela::Error &e) {
    badInput(e.what());
  }
  if (!doc.is_array() || doc.empty())
    badInput(path + ": --prompt-ids must be a JSON array of arrays of ids");
  std::vector<std::vector<int32_t>> prompts;
  for (const nlohmann::json &row : doc) {
    if (!row.is_array() || row.empty())
      badInput(path + ": every prompt must be a non-empty array of ids");
    std::vector<int32_t> ids;
    for (const nlohmann::json &id : row) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() > std::numeric_limits<int32_t>::max())
        badInput(path + ": " + id.dump() + " is not a token id");
      ids.push_back(id.get<int32_t>());
    }
    if (!prompts.empty() && ids.size() != prompts[0].size())
      badInput(path + ": the prompts must have equal lengths");
    prompts.push_back(std::move(ids));
  }
  return prompts;
}

/// The checkpoint the stages run with.
std::unique_ptr<moela::WeightSource> openWeights() {
  namespace fs = std::filesystem;
  if (randomWeights && !weightsPath.empty())
    badInput("give one of --weights DIR and --random-weights, not both");
  if (randomWeights)
    return moela::makeRandomWeights(seed);
  std::string path = weightsPath;
  if (path.empty() && fs::is_directory(inputPath.getValue()))
    path = inputPath;
  if (path.empty())
    badInput("no weights: give --weights DIR or --random-weights (the "
             "input is a config file, not a checkpoint folder)");
  return moela::openCheckpoint(path);
}

/// Logits [B][steps + 1][V] of one stage.
using Logits = std::vector<std::vector<std::vector<float>>>;

/// Largest |a - b| over all logits; NaN or infinity in either is infinite.
double maxAbsDiff(const Logits &a, const Logits &b) {
  double worst = 0;
  for (size_t s = 0; s < a.size(); ++s)
    for (size_t k = 0; k < a[s].size(); ++k)
      for (size_t v = 0; v < a[s][k].size(); ++v) {
        const double d = std::abs(double(a[s][k][v]) - double(b[s][k][v]));
        if (!std::isfinite(d))
          return std::numeric_limits<double>::infinity();
        worst = std::max(worst, d);
      }
  return worst;
}

struct Stage {
  std::string name; // the pass that ends the stage
  std::vector<std::string> disabled;
};

/// The reference (every optional pass left out), then one stage per
/// optional pass with it and the passes before it in.
std::vector<Stage> pipelineStages() {
  std::vector<std::string> optional;
  for (StringRef name : moela::optionalPassNames())
    optional.push_back(name.str());
  std::vector<Stage> stages;
  for (size_t k = 0; k <= optional.size(); ++k)
    stages.push_back(
        {k == 0 ? "(reference: lowered, no optional pass)" : optional[k - 1],
         std::vector<std::string>(optional.begin() + k, optional.end())});
  return stages;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

/// -v: "prefill 120 steps (1.5 MB), decode 120 steps (0.2 MB), 0 kernels".
std::string describePlan(const moela::Plan &plan) {
  std::string text;
  const moela::plan::Plan &root = plan.root();
  if (root.programs())
    for (const moela::plan::Program *program : *root.programs()) {
      char part[128];
      std::snprintf(part, sizeof(part), "%s %u steps (%.1f MB), ",
                    program->name() ? program->name()->c_str() : "?",
                    program->steps() ? program->steps()->size() : 0u,
                    double(program->arena_bytes()) / 1e6);
      text += part;
    }
  return text + std::to_string(root.kernels() ? root.kernels()->size() : 0) +
         " kernels";
}

int bisect() {
  std::vector<std::vector<int32_t>> prompts = readPromptIds(promptIdsPath);
  if (decodeSteps < 0)
    badInput("--steps must be 0 or more");
  if (!(tolerance >= 0))
    badInput("--tolerance must be 0 or more");
  std::unique_ptr<moela::WeightSource> weights = openWeights();

  mlir::DialectRegistry registry;
  moela::registerAllDialects(registry);
  mlir::MLIRContext context(registry);

  const int batch = static_cast<int>(prompts.size());
  const int maxSeqLen = static_cast<int>(prompts[0].size()) + decodeSteps + 1;
  std::vector<std::vector<int32_t>> forced; // the reference's greedy tokens
  Logits reference, previous;
  std::string firstBreak;
  double firstBreakDiff = 0;

  if (!quiet)
    std::printf("%-40s %14s %14s %8s\n", "stage (after pass)", "max|Δ| vs ref",
                "vs previous", "argmax");
  for (const Stage &stage : pipelineStages()) {
    auto compileStart = std::chrono::steady_clock::now();
    moela::CompileOptions options;
    options.input = inputPath;
    options.target = target;
    options.maxBatch = std::max(batch, 8);
    options.disable = stage.disabled;
    std::vector<uint8_t> bytes;
    if (moela::compilePlanBytes(options, context, bytes) != 0)
      return kBadInput; // the compiler said why
    const size_t planBytes = bytes.size();
    moela::Plan plan =
        moela::Plan::fromBytes(std::move(bytes), "plan after " + stage.name);
    const double compileSeconds = secondsSince(compileStart);
    auto runStart = std::chrono::steady_clock::now();
    for (const auto &prompt : prompts)
      for (int32_t id : prompt)
        if (id >= plan.config().vocabSize)
          badInput(promptIdsPath + ": token id " + std::to_string(id) +
                   " is outside the model's vocabulary of " +
                   std::to_string(plan.config().vocabSize));
    std::unique_ptr<moela::Backend> backend = moela::makeHostBackend();
    moela::Engine engine(plan, *backend, *weights, batch, maxSeqLen);

    Logits logits;
    if (reference.empty()) {
      moela::GenerationOptions greedy;
      greedy.maxNewTokens = decodeSteps + 1;
      greedy.ignoreEos = true;
      greedy.keepLogits = true;
      moela::GenerationResult result = generate(engine, prompts, greedy);
      for (const auto &ids : result.ids)
        forced.emplace_back(ids.begin(), ids.end() - 1);
      logits = std::move(result.logits);
      reference = logits;
    } else {
      logits = teacherForce(engine, prompts, forced).logits;
    }

    if (verbose && !quiet)
      errs() << formatv("moela-bisect: {0}: compiled in {1:F2} s, ran in "
                        "{2:F2} s; plan {3:F1} kB: {4}\n",
                        stage.name, compileSeconds, secondsSince(runStart),
                        planBytes / 1e3, describePlan(plan));
    if (logits.size() != reference.size() ||
        logits[0].size() != reference[0].size())
      badInput("the plan after " + stage.name + " gave " +
               std::to_string(logits[0].size()) + " logit rows per prompt, " +
               "the reference " + std::to_string(reference[0].size()));
    // Argmax agreement with the reference's greedy choices.
    int agree = 0, total = 0;
    for (size_t s = 0; s < logits.size(); ++s)
      for (size_t k = 0; k < logits[s].size(); ++k, ++total)
        agree +=
            moela::argmax(logits[s][k].data(), int64_t(logits[s][k].size())) ==
            moela::argmax(reference[s][k].data(),
                          int64_t(reference[s][k].size()));
    const double diff = maxAbsDiff(logits, reference);
    const bool broken = diff > tolerance || agree != total;
    std::string vsPrevious = "-";
    if (!previous.empty()) {
      char text[32];
      std::snprintf(text, sizeof(text), "%.3g", maxAbsDiff(logits, previous));
      vsPrevious = text;
    }
    const std::string agreement =
        std::to_string(agree) + "/" + std::to_string(total);
    if (!quiet) {
      std::printf("%-40s %14.3g %14s %8s%s\n", stage.name.c_str(), diff,
                  vsPrevious.c_str(), agreement.c_str(),
                  broken ? "  BROKEN" : "");
      std::fflush(stdout);
    }
    if (broken && firstBreak.empty()) {
      firstBreak = stage.name;
      firstBreakDiff = diff;
    }
    previous = std::move(logits);
  }

  if (!firstBreak.empty()) {
    std::printf("first pass over the tolerance: %s (max |Δlogit| %.3g, "
                "tolerance %.3g)\n",
                firstBreak.c_str(), firstBreakDiff, tolerance.getValue());
    return 1;
  }
  std::printf("every pass agrees with the reference within %.3g, with the "
              "same argmax\n",
              tolerance.getValue());
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  moela::registerAllPasses();
  cl::HideUnrelatedOptions({&inputCategory, &checkCategory, &messageCategory});
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << moela::cli::versionText("moela-bisect",
                                  {"MLIR/LLVM: " LLVM_VERSION_STRING});
  });
  if (!cl::ParseCommandLineOptions(
          argc, argv,
          "moela-bisect: run the host backend on the plan after every "
          "optional pass of the default pipeline and name the first pass "
          "that moves the logits beyond --tolerance\n",
          &errs()))
    return kBadInput;
  try {
    return bisect();
  } catch (const std::exception &e) {
    errs() << "moela-bisect: " << e.what() << "\n";
    return kBadInput;
  }
}
