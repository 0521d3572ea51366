//===- FlagChecks.cpp - Sampling defaults and flags without effect --------===//
#include "run/FlagChecks.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace moela::runtool {

std::string applyGenerationConfig(const CLI::App &app,
                                  const std::string &weights,
                                  float &temperature, int &topK, float &topP) {
  namespace fs = std::filesystem;
  if (weights.empty())
    return {};
  fs::path dir = fs::is_directory(weights) ? fs::path(weights)
                                           : fs::path(weights).parent_path();
  fs::path file = dir / "generation_config.json";
  if (!fs::exists(file))
    return {};
  nlohmann::json doc = readJsonFile(file.string());
  if (!doc.is_object())
    fail(file.string(), ": not a JSON object");
  auto number = [&](const char *key) {
    if (!doc[key].is_number())
      fail(file.string(), ": ", key, " = ", doc[key].dump(),
           " is not a number");
    return doc[key].get<double>();
  };
  std::ostringstream set;
  auto note = [&](const char *key, double value) {
    set << (set.tellp() > 0 ? ", " : "") << key << " " << value;
  };
  if (!app.count("--temperature")) {
    if (doc.contains("do_sample") && doc["do_sample"] == false) {
      temperature = 0;
      note("temperature", 0);
    } else if (doc.contains("temperature")) {
      temperature = float(number("temperature"));
      note("temperature", temperature);
    }
  }
  if (!app.count("--top-p") && doc.contains("top_p")) {
    topP = float(number("top_p"));
    note("top_p", topP);
  }
  if (!app.count("--top-k") && doc.contains("top_k")) {
    topK = int(number("top_k"));
    note("top_k", topK);
  }
  std::string text = set.str();
  return text.empty() ? text : text + " (from " + file.string() + ")";
}

void settleFlags(const CLI::App &app, const std::string &weights,
                 float &temperature, int &topK, float &topP, bool lead) {
  auto given = [&](const char *flag) { return app.count(flag) > 0; };
  auto warn = [&](const std::string &line) {
    if (lead)
      std::cerr << "moela-run: warning: " << line << "\n";
  };

  if (given("--prompt") &&
      app.get_option("--prompt")->as<std::string>().empty())
    fail("--prompt is empty: give the text to continue");
  if (given("--max-seq-len") && app.get_option("--max-seq-len")->as<int>() < 1)
    fail("--max-seq-len must be at least 1, got ",
         app.get_option("--max-seq-len")->as<int>());
  if (given("--json") && !given("--dump-plan"))
    fail("--json only applies to --dump-plan");
  if (given("--teacher-force") && given("--prompt-ids") &&
      !given("--logits-out") && !given("--ids-out"))
    fail("--teacher-force only writes --logits-out and --ids-out: give one");
  if (given("--logprobs") && !given("--logprobs-out"))
    fail("--logprobs N needs --logprobs-out FILE");
  if (given("--logprobs") && app.get_option("--logprobs")->as<int>() < 0)
    fail("--logprobs must be >= 0, got ",
         app.get_option("--logprobs")->as<int>());
  // --perplexity is a mode of its own, and its flags need it.
  if (given("--perplexity")) {
    for (const char *flag : {"--prompt", "--prompt-ids", "--input-file",
                             "--interactive", "--chat", "--teacher-force"})
      if (given(flag))
        fail("--perplexity does not combine with ", flag,
             " (it scores the text of its FILE)");
    for (const char *flag : {"--logits-out", "--ids-out", "--logprobs-out"})
      if (given(flag))
        fail(flag, " does not apply to --perplexity (its result goes to "
                   "stdout and --perplexity-out)");
  } else {
    for (const char *flag : {"--ctx-size", "--ppl-stride", "--perplexity-out"})
      if (given(flag))
        fail(flag, " needs --perplexity FILE");
  }
  if (given("--ctx-size") && app.get_option("--ctx-size")->as<int>() < 2)
    fail("--ctx-size must be at least 2 (BOS and one text token), got ",
         app.get_option("--ctx-size")->as<int>());
  if (given("--ppl-stride") && app.get_option("--ppl-stride")->as<int>() < 1)
    fail("--ppl-stride must be at least 1, got ",
         app.get_option("--ppl-stride")->as<int>());
  // The text features need text prompts and the batch/stream paths.
  for (const char *flag : {"--stop", "--logprobs-out", "--output-format"}) {
    if (!given(flag))
      continue;
    if (given("--prompt-ids"))
      fail(flag, " needs text prompts (--prompt or --input-file), not "
                 "--prompt-ids");
    if (given("--interactive"))
      fail(flag, " does not apply to --interactive");
  }

  std::string defaults =
      applyGenerationConfig(app, weights, temperature, topK, topP);
  if (!defaults.empty() && lead)
    std::cerr << "moela-run: sampling defaults: " << defaults << "\n";

  if (temperature == 0.0f && !given("--perplexity")) {
    for (const char *flag : {"--top-k", "--top-p", "--seed"})
      if (given(flag))
        warn(std::string(flag) +
             " has no effect at temperature 0 (greedy); give --temperature");
  }
  if (given("--system") && !given("--chat") && !given("--interactive") &&
      !given("--prompt-ids"))
    warn("--system has no effect without --chat or --interactive");
  if (given("--chat-template") && !given("--chat") && !given("--interactive") &&
      !given("--input-file") && !given("--prompt-ids"))
    warn("--chat-template has no effect without --chat, --interactive or "
         "--input-file");
  if (given("--prompt-ids"))
    for (const char *flag :
         {"--chat", "--system", "--tokenizer", "--chat-template"})
      if (given(flag))
        warn(std::string(flag) +
             " has no effect with --prompt-ids (the prompts are ids)");
  if (given("--teacher-force"))
    for (const char *flag :
         {"--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed"})
      if (given(flag))
        warn(std::string(flag) + " has no effect with --teacher-force (the "
                                 "tokens are given)");
  if (given("--perplexity"))
    for (const char *flag :
         {"--max-new-tokens", "--temperature", "--top-k", "--top-p", "--seed",
          "--ignore-eos", "--stop", "--speculate", "--output-format"})
      if (given(flag))
        warn(std::string(flag) +
             " has no effect with --perplexity (it scores the text given)");
  if (given("--weights-seed") && !given("--random-weights"))
    warn("--weights-seed has no effect without --random-weights");
}

} // namespace moela::runtool
