//===- moela-run.cpp - Generate text from a compiled plan -----------------===//
//
// moela-run model.plan --weights DIR --prompt "..."   (or --random-weights)
// Modes: one prompt (streamed), --interactive chat, --input-file (batched),
// --prompt-ids / --teacher-force with --logits-out / --ids-out for scoring,
// --perplexity FILE (sliding windows, run/ScorePerplexity), --dump-plan
// [--json]. Every error is one line on stderr and exit code 1.
//
// Under mpirun (a plan compiled for N ranks, docs/parallel.md) every rank runs
// the plan on its shard; rank 0 tokenizes, samples, prints and writes the
// output files, and the others follow: the prompts and every chosen token
// are broadcast from rank 0. An error on any rank ends every rank
// (Communicator::abort), never a hang.
//
//===----------------------------------------------------------------------===//
#include "cli/Cli11.h"
#include "cli/Version.h"
#include "kernels/Abi.h"
#include "moela/Runtime/Backends.h"
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Generation.h"
#include "moela/Runtime/Json.h"
#include "moela/Runtime/Output.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Safetensors.h"
#include "moela/Runtime/ThreadPool.h"
#include "moela/Runtime/Tokenizer.h"
#include "moela/Runtime/Weights.h"
#include "run/BatchIO.h"
#include "run/Completions.h"
#include "run/FlagChecks.h"
#include "run/IdArrays.h"
#include "run/Interactive.h"
#include "run/LoadProgress.h"
#include "run/Logprobs.h"
#include "run/ModelFlags.h"
#include "run/Perplexity.h"
#include "run/PlanFromCheckpoint.h"
#include "run/ScorePerplexity.h"
#include "run/ShareIds.h"
#include "run/Stats.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

using namespace moela;
using json = nlohmann::json;

namespace {

/// An error every rank meets alike (a wrong world size): each prints its line
/// and exits 1 normally, without aborting the others.
struct EveryRankError : Error {
  using Error::Error;
};

struct Options : runtool::ModelFlags {
  uint64_t seed = 0;
  std::string prompt, system, inputFile, promptIds, teacherForce, logitsOut,
      idsOut;
  bool chat = false, interactive = false, ignoreEos = false;
  int maxNewTokens = 64, topK = 0;
  float temperature = 0.0f, topP = 1.0f;
  std::string speculate = "auto"; // MTP speculative decoding: auto|on|off
  std::vector<std::string> stops;
  int logprobs = 0;
  std::string logprobsOut, outputFormat = "text";
  bool dumpPlan = false, dumpJson = false;
  // --perplexity FILE: ctx 0 = min(512, the context); stride 0 = ctx - 1.
  std::string perplexity, perplexityOut;
  int ctxSize = 0, pplStride = 0;
  bool quiet = false, verbose = false;
};

std::vector<int32_t> encodePrompt(const Tokenizer &tokenizer, const Options &o,
                                  const std::string &text) {
  if (!o.chat)
    return tokenizer.encode(text, /*addBos=*/true);
  std::vector<ChatMessage> messages;
  if (!o.system.empty())
    messages.push_back({"system", o.system});
  messages.push_back({"user", text});
  return tokenizer.encode(tokenizer.applyChatTemplate(messages, true), false);
}

void writeOutputs(const Options &o, const GenerationResult &result,
                  int64_t vocab) {
  if (!o.idsOut.empty()) {
    std::ofstream out(o.idsOut);
    out << json(result.ids).dump() << "\n";
    closeOutput(out, o.idsOut, "--ids-out");
  }
  if (!o.logitsOut.empty()) {
    // [B, steps, V]; every sequence has the same number of steps here.
    size_t batch = result.logits.size(), steps = result.logits[0].size();
    std::vector<float> flat;
    flat.reserve(batch * steps * vocab);
    for (const auto &seq : result.logits) {
      if (seq.size() != steps)
        fail("--logits-out needs the same number of steps for every sequence "
             "(use --ignore-eos)");
      for (const auto &row : seq)
        flat.insert(flat.end(), row.begin(), row.end());
    }
    writeSafetensors(o.logitsOut, {{"logits",
                                    DType::F32,
                                    {static_cast<int64_t>(batch),
                                     static_cast<int64_t>(steps), vocab},
                                    flat.data()}});
  }
}

/// Runs `run(begin, group)` on consecutive groups of at most engine.slots()
/// prompts, starting their sequences afresh, and concatenates the results.
template <typename Run>
GenerationResult inGroups(Engine &engine,
                          const std::vector<std::vector<int32_t>> &prompts,
                          Run run) {
  GenerationResult all;
  for (size_t begin = 0; begin < prompts.size(); begin += engine.slots()) {
    size_t end = std::min(prompts.size(), begin + engine.slots());
    for (int s = 0; s < engine.slots(); ++s)
      engine.reset(s);
    GenerationResult part =
        run(begin, std::vector<std::vector<int32_t>>(prompts.begin() + begin,
                                                     prompts.begin() + end));
    all.ids.insert(all.ids.end(), part.ids.begin(), part.ids.end());
    all.logits.insert(all.logits.end(),
                      std::make_move_iterator(part.logits.begin()),
                      std::make_move_iterator(part.logits.end()));
    all.draftsProposed += part.draftsProposed;
    all.draftsAccepted += part.draftsAccepted;
    all.steps += part.steps;
    all.finish.insert(all.finish.end(), part.finish.begin(), part.finish.end());
  }
  return all;
}

/// Says on stderr which sequences stopped because the context was full.
void reportContextLimit(const GenerationResult &result, int maxSeqLen) {
  for (size_t b = 0; b < result.finish.size(); ++b)
    if (result.finish[b] == FinishReason::Context)
      std::cerr << "moela-run: sequence " << b << " filled the context of "
                << maxSeqLen << " tokens (--max-seq-len) after "
                << result.ids[b].size()
                << " new tokens: finish reason \"length (context)\"\n";
}

/// Text prompts: one streamed (--prompt), or a batch printed as "[i] text"
/// or as JSONL; every sequence ends at its first --stop string, and
/// --logprobs-out gets a line per token. Rank 0 (the one with a tokenizer)
/// decodes and prints; every rank runs the same steps.
GenerationResult generateText(Engine &engine,
                              const std::vector<std::vector<int32_t>> &prompts,
                              const std::vector<runtool::BatchPrompt> &batch,
                              const GenerationOptions &gen, const Options &o,
                              const Tokenizer *tokenizer,
                              runtool::Timings &timings) {
  const auto generating = std::chrono::steady_clock::now();
  const bool lead = tokenizer != nullptr;
  const bool jsonl = o.outputFormat == "jsonl";
  const bool stream = o.inputFile.empty() && !jsonl;
  std::optional<runtool::Completions> texts;
  std::optional<runtool::LogprobsWriter> logprobs;
  if (lead) {
    texts.emplace(*tokenizer, o.stops, prompts.size(),
                  stream ? &std::cout : nullptr);
    if (!o.logprobsOut.empty())
      logprobs.emplace(o.logprobsOut, o.logprobs, *tokenizer);
  }
  GenerationResult result =
      inGroups(engine, prompts, [&](size_t begin, auto group) {
        GenerationOptions g = gen;
        g.sampling.seed += begin; // prompt i draws with --seed + i
        if (!o.stops.empty())
          g.stopHere = [&, begin](int b) {
            return lead && texts->stopped(begin + b);
          };
        // Speculative decoding has the logits anyway, and the Sample step
        // returns at most 20 top logprobs; otherwise the logprobs come from
        // the Sample step and the logits stay on the device.
        if (logprobs && (g.speculative || o.logprobs > 20))
          g.onLogits = [&, begin](int b, int32_t id, const auto &logits) {
            logprobs->write(int(begin + b), id, logits);
          };
        else if (logprobs) {
          g.topLogprobs = o.logprobs;
          g.onSampled = [&, begin](int b, const SampledToken &token) {
            logprobs->write(int(begin + b), token);
          };
        }
        return generate(engine, group, g, [&, begin](int b, int32_t id) {
          if (timings.firstTokenSeconds < 0)
            timings.firstTokenSeconds = runtool::secondsSince(generating);
          if (lead)
            texts->push(begin + b, id);
        });
      });
  if (!lead)
    return result;
  for (size_t b = 0; b < prompts.size(); ++b) {
    texts->finish(b);
    if (stream)
      std::cout << "\n";
    else if (jsonl)
      runtool::writeJsonlRecord(
          std::cout,
          batch.empty() ? runtool::BatchPrompt{1, o.prompt, {}, o.prompt}
                        : batch[b],
          texts->text(b), prompts[b].size(), result.ids[b].size(),
          result.finish[b]);
    else
      std::cout << "[" << b << "] " << texts->text(b) << "\n";
  }
  if (logprobs)
    logprobs->close();
  writeOutputs(o, result, engine.vocab());
  reportContextLimit(result, engine.maxSeqLen());
  return result;
}

int run(Options o, Communicator &comm) {
  if (o.threads > 0)
    setenv("MOELA_NUM_THREADS", std::to_string(o.threads).c_str(), 1);
  const bool lead = comm.rank() == 0;
  const auto start = std::chrono::steady_clock::now();
  runtool::Timings timings;
  // --verbose: the seconds of each phase as it ends.
  auto phase = [&, last = start](const char *name) mutable {
    if (o.verbose && !o.quiet && lead)
      std::fprintf(stderr, "moela-run: %s: %.3f s\n", name,
                   runtool::secondsSince(last));
    last = std::chrono::steady_clock::now();
  };
  // A checkpoint folder: its cached plan, and its weights unless told else.
  if (std::filesystem::is_directory(o.plan) && o.weights.empty() &&
      !o.randomWeights)
    o.weights = o.plan;
  std::optional<std::string> planFile = runtool::planFromCheckpoint(
      o.plan, o.compile, /*quiet=*/!lead || o.quiet);
  if (!planFile)
    return 1; // the compiler said why
  o.plan = *planFile;
  Plan plan = Plan::load(o.plan);
  phase("plan");
  const int world = plan.worldSize();
  if (world != comm.size() && !o.dumpPlan) {
    if (comm.size() == 1)
      fail(o.plan, " was compiled for ", world, " ranks (--tp ", world,
           "): start it with mpirun -n ", world, " moela-run ...");
    throw EveryRankError("the plan was compiled for " + std::to_string(world) +
                         " ranks (--tp " + std::to_string(world) +
                         "); mpirun started " + std::to_string(comm.size()));
  }
  if (o.dumpPlan) {
    if (!lead)
      return 0;
    if (o.dumpJson)
      dumpPlanJson(plan, std::cout);
    else
      dumpPlan(plan, std::cout);
    return 0;
  }
  const ModelConfig &config = plan.config();
  if (o.weights.empty() == !o.randomWeights)
    fail("give exactly one of --weights DIR and --random-weights");
  int modes = !o.prompt.empty() + o.interactive + !o.inputFile.empty() +
              !o.promptIds.empty() + !o.perplexity.empty();
  if (modes != 1)
    fail("give exactly one of --prompt, --interactive, --input-file, "
         "--prompt-ids and --perplexity");
  if (!o.teacherForce.empty() && o.promptIds.empty())
    fail("--teacher-force needs --prompt-ids");

  // Prompts first: bad input fails before weights are read. Rank 0 reads
  // and tokenizes them; the other ranks get its ids.
  std::unique_ptr<Tokenizer> tokenizer;
  std::vector<std::vector<int32_t>> prompts, forced;
  std::vector<runtool::BatchPrompt> batch; // --input-file, rank 0
  const bool text = o.promptIds.empty();   // the same on every rank
  if (text && lead)
    tokenizer = runtool::openTokenizer(o, config);
  std::vector<std::vector<int32_t>> pplText; // --perplexity: [1][tokens]
  if (!lead) {
  } else if (!o.perplexity.empty()) {
    // The whole file as one text, without BOS: each window adds its own.
    try {
      pplText.push_back(
          tokenizer->encode(runtool::readPerplexityText(o.perplexity), false));
    } catch (const Error &e) {
      fail(o.perplexity, ": ", e.what()); // invalid UTF-8, with its offset
    }
    if (pplText[0].size() < 2)
      fail(o.perplexity, ": ", pplText[0].size(),
           " tokens; perplexity needs at least 2");
  } else if (!o.promptIds.empty()) {
    prompts = runtool::readIdArrays(o.promptIds, "--prompt-ids");
    for (const auto &p : prompts)
      if (p.size() != prompts[0].size() || p.empty())
        fail(o.promptIds,
             ": the prompts must be non-empty and of equal length");
    if (!o.teacherForce.empty())
      forced = runtool::readIdArrays(o.teacherForce, "--teacher-force");
  } else if (!o.prompt.empty()) {
    prompts.push_back(encodePrompt(*tokenizer, o, o.prompt));
  } else if (!o.inputFile.empty()) {
    batch = runtool::readBatchInput(o.inputFile);
    for (const runtool::BatchPrompt &p : batch)
      prompts.push_back(
          p.messages.empty()
              ? encodePrompt(*tokenizer, o, p.text)
              : tokenizer->encode(
                    tokenizer->applyChatTemplate(p.messages, true), false));
  }
  runtool::shareIdArrays(comm, prompts);
  runtool::shareIdArrays(comm, forced);
  runtool::shareIdArrays(comm, pplText);
  for (const auto &p : prompts)
    for (int32_t id : p)
      if (id >= config.vocabSize)
        fail("token id ", id, " is outside the model's vocabulary of ",
             config.vocabSize);

  int maxSeqLen = runtool::contextLength(o, config);
  runtool::PerplexityOptions ppl;
  size_t pplWindows = 0;
  if (!o.perplexity.empty()) {
    for (int32_t id : pplText.at(0))
      if (id >= config.vocabSize)
        fail("token id ", id, " is outside the model's vocabulary of ",
             config.vocabSize);
    if (o.ctxSize > maxSeqLen)
      fail("--ctx-size ", o.ctxSize, " exceeds the context of ", maxSeqLen,
           " tokens (--max-seq-len)");
    ppl.ctx = o.ctxSize > 0 ? o.ctxSize : std::min(512, maxSeqLen);
    ppl.stride = o.pplStride > 0 ? o.pplStride : ppl.ctx - 1;
    ppl.bos = static_cast<int32_t>(config.bosTokenId);
    ppl.out = o.perplexityOut;
    ppl.lead = lead;
    ppl.quiet = o.quiet;
    // Checks the text's length, --ctx-size and --ppl-stride before the
    // weights are read.
    pplWindows = runtool::perplexityWindows(int64_t(pplText[0].size()), ppl.ctx,
                                            ppl.stride)
                     .size();
    // No window is longer than ctx: the KV cache holds that much per slot.
    maxSeqLen = ppl.ctx;
  }
  for (const auto &p : prompts)
    if (static_cast<int>(p.size()) > maxSeqLen)
      fail("the prompt has ", p.size(), " tokens but the context holds ",
           maxSeqLen, " (--max-seq-len)");

  // The checkpoint before the backend: a bad --weights is one line, with no
  // note about the backend before it.
  std::unique_ptr<WeightSource> weights = o.randomWeights
                                              ? makeRandomWeights(o.weightsSeed)
                                              : openCheckpoint(o.weights);
  phase("prompts and checkpoint index");
  std::string note;
  std::unique_ptr<Backend> backend =
      createBackend(parseBackendChoice(o.backend), plan, &note, &comm);
  if (!note.empty() && lead && !o.quiet)
    std::cerr << "moela-run: " << note << "\n";
  // More prompts than the plan's batch run in groups of that many.
  // --perplexity: as many windows at a time.
  int slots = std::clamp<int>(
      static_cast<int>(o.perplexity.empty() ? prompts.size() : pplWindows), 1,
      plan.program(abi::kDecode).max_tokens());
  phase("backend");
  runtool::LoadProgress progress(
      *weights, o.randomWeights ? 0 : runtool::checkpointBytes(o.weights),
      o.quiet || !lead);
  KvCacheOptions kv;
  kv.pages = o.kvPages; // 0: a full context per sequence
  Engine engine(plan, *backend, progress, slots, maxSeqLen, kv);
  progress.finish();
  phase("weights");
  timings.loadSeconds = runtool::secondsSince(start);

  GenerationOptions gen;
  gen.maxNewTokens = o.maxNewTokens;
  gen.sampling = {o.temperature, o.topK, o.topP, o.seed};
  gen.eosId = static_cast<int32_t>(config.eosTokenId);
  gen.ignoreEos = o.ignoreEos;
  gen.keepLogits = !o.logitsOut.empty();
  gen.comm = &comm;
  // Speculative decoding with the plan's MTP drafts: greedy only, and each
  // step feeds two tokens per sequence through @decode.
  enum class Speculate { Auto, On, Off };
  const Speculate speculate = [&] {
    if (o.speculate == "auto")
      return Speculate::Auto;
    if (o.speculate == "on")
      return Speculate::On;
    if (o.speculate == "off")
      return Speculate::Off;
    fail("--speculate=", o.speculate, " is not one of auto, on, off");
  }();
  const bool canSpeculate =
      engine.hasDrafts() && o.temperature == 0.0f &&
      2 * slots <= plan.program(abi::kDecode).max_tokens();
  if (speculate == Speculate::On && !canSpeculate)
    fail("--speculate=on needs a plan compiled with --mtp, --temperature 0 "
         "and a decode batch (--max-batch) of at least 2 x ",
         slots, " sequences");
  gen.speculative = speculate != Speculate::Off && canSpeculate;

  GenerationResult tally; // for the draft statistics
  // Only rank 0 prints and writes files; every rank runs the same steps.
  if (!o.perplexity.empty()) {
    runtool::scorePerplexity(engine, pplText[0], ppl);
    return 0; // its own rate line, no generation statistics
  } else if (o.interactive) {
    runtool::runInteractive(engine, *backend, tokenizer.get(),
                            {o.system, o.quiet}, gen, comm, timings);
  } else if (!forced.empty() || !o.teacherForce.empty()) {
    if (forced.size() != prompts.size())
      fail(o.teacherForce, ": ", forced.size(), " sequences for ",
           prompts.size(), " prompts");
    GenerationResult result =
        inGroups(engine, prompts, [&](size_t begin, auto group) {
          std::vector<std::vector<int32_t>> f(
              forced.begin() + begin, forced.begin() + begin + group.size());
          return teacherForce(engine, group, f);
        });
    if (lead)
      writeOutputs(o, result, config.vocabSize);
  } else if (text) {
    tally =
        generateText(engine, prompts, batch, gen, o, tokenizer.get(), timings);
  } else {
    GenerationResult result =
        inGroups(engine, prompts, [&](size_t begin, auto group) {
          GenerationOptions g = gen;
          g.sampling.seed += begin; // prompt i draws with --seed + i
          return generate(engine, group, g);
        });
    if (lead) {
      if (o.idsOut.empty())
        for (const auto &ids : result.ids)
          std::cout << json(ids).dump() << "\n";
      writeOutputs(o, result, config.vocabSize);
    }
    tally = result;
    if (lead)
      reportContextLimit(tally, maxSeqLen);
  }
  if (lead && !o.quiet)
    runtool::printStats(engine, *backend, timings, &tally);
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  CLI::App app{"moela-run: generate text from a compiled moela plan"};
  app.option_defaults()->always_capture_default(); // --help shows defaults
  runtool::addModelFlags(app, o);
  app.add_option("--seed", o.seed, "Seed of sampling (--temperature > 0)")
      ->group("Generation");
  app.add_option("--prompt", o.prompt, "Text to continue")->group("Input");
  app.add_flag("--chat", o.chat,
               "Wrap prompts in the chat template (tokenizer_config.json's, "
               "else DeepSeek-V3's)")
      ->group("Input");
  app.add_option("--system", o.system,
                 "System prompt for --chat and --interactive")
      ->group("Input");
  app.add_flag("--interactive", o.interactive,
               "Multi-turn chat on stdin (/help lists the commands)")
      ->group("Input");
  app.add_option("--input-file", o.inputFile,
                 "Prompts run as a batch ('-': stdin): one per line, or "
                 "JSONL {\"prompt\": ...} / {\"messages\": [...]}")
      ->group("Input");
  app.add_option("--output-format", o.outputFormat,
                 "text (default) or jsonl: one JSON object per prompt")
      ->check(CLI::IsMember({"text", "jsonl"}))
      ->group("Output");
  app.add_option("--stop", o.stops,
                 "End a sequence at this text, not printed (repeatable)")
      ->allow_extra_args(false)
      ->group("Generation");
  app.add_option("--logprobs", o.logprobs,
                 "With --logprobs-out: the N most likely alternatives too")
      ->group("Output");
  app.add_option("--logprobs-out", o.logprobsOut,
                 "Write one JSON line per generated token with its logprob")
      ->group("Output");
  app.add_option("--prompt-ids", o.promptIds,
                 "JSON array of B equal-length arrays of token ids")
      ->group("Input");
  app.add_option("--teacher-force", o.teacherForce,
                 "JSON array of B arrays of N ids, fed one per decode step")
      ->group("Input");
  app.add_option(
         "--logits-out", o.logitsOut,
         "Write the F32 tensor 'logits' [B, steps, vocab] as safetensors")
      ->group("Output");
  app.add_option("--ids-out", o.idsOut,
                 "Write the generated ids as JSON (B arrays)")
      ->group("Output");
  app.add_option("--max-new-tokens", o.maxNewTokens, "Tokens to generate")
      ->check(CLI::NonNegativeNumber)
      ->group("Generation");
  app.add_option("--temperature", o.temperature, "0 = greedy (default)")
      ->group("Generation");
  app.add_option("--top-k", o.topK, "Sample among the k most likely tokens")
      ->group("Generation");
  app.add_option("--top-p", o.topP, "Sample within probability mass p")
      ->group("Generation");
  app.add_flag("--ignore-eos", o.ignoreEos, "Keep generating after EOS")
      ->group("Generation");
  app.add_option("--speculate", o.speculate,
                 "Speculative decoding with the plan's MTP drafts (a plan "
                 "compiled --mtp, greedy): auto (default: when possible), on, "
                 "off")
      ->group("Generation");
  app.add_option("--perplexity", o.perplexity,
                 "Score the text of FILE ('-': stdin) in windows of "
                 "--ctx-size tokens (BOS first) and print its perplexity")
      ->group("Perplexity");
  app.add_option("--ctx-size", o.ctxSize,
                 "With --perplexity: tokens per window, BOS included "
                 "(default: min(512, --max-seq-len))")
      ->group("Perplexity");
  app.add_option("--ppl-stride", o.pplStride,
                 "With --perplexity: text tokens between window starts "
                 "(default: --ctx-size - 1, non-overlapping)")
      ->group("Perplexity");
  app.add_option("--perplexity-out", o.perplexityOut,
                 "With --perplexity: write the result as JSON")
      ->group("Perplexity");
  app.add_flag("-q,--quiet", o.quiet,
               "No notes, banners or final statistics on stderr")
      ->group("Output");
  app.add_flag("-v,--verbose", o.verbose,
               "Also the time of each phase (plan, weights, backend)")
      ->group("Output");
  runtool::addRuntimeFlags(app, o);
  app.add_flag("--dump-plan", o.dumpPlan, "Print the plan and exit")
      ->group("Runtime");
  app.add_flag("--json", o.dumpJson, "With --dump-plan: as JSON")
      ->group("Runtime");
  if (std::optional<int> exit =
          cli::parseCommandLine(app, argc, argv, "moela-run", [] {
            return cli::versionText("moela-run", {cli::cudaDriverLine()});
          }))
    return *exit;
  // Under an MPI launcher every process is one rank of the run.
  std::unique_ptr<Communicator> comm;
  try {
    comm = makeLaunchedCommunicator();
  } catch (const std::exception &e) {
    std::cerr << "moela-run: " << e.what() << "\n";
    return 1;
  }
  try {
    runtool::settleFlags(app, o.weights, o.temperature, o.topK, o.topP,
                         comm->rank() == 0);
    int status = run(o, *comm);
    flushStdout(); // text written to a full disk is an error, not exit 0
    return status;
  } catch (const EveryRankError &e) {
    // One write, so that the ranks' lines do not interleave.
    const std::string line = "moela-run: rank " + std::to_string(comm->rank()) +
                             ": " + e.what() + "\n";
    std::fputs(line.c_str(), stderr);
    return 1;
  } catch (const std::exception &e) {
    // One rank's error ends them all (the others may wait in a collective).
    if (comm->size() > 1)
      comm->abort(e.what());
    std::cerr << "moela-run: " << e.what() << "\n";
    return 1;
  }
}
