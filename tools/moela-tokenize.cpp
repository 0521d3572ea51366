//===- moela-tokenize.cpp - Encode / decode with the DeepSeek-V3 tokenizer ===//
//
//   moela-tokenize [--bos] < text                 prints [ids]
//   moela-tokenize --text "Hello" [--bos]         prints [ids]
//   moela-tokenize --decode < [ids]               prints the text
//   moela-tokenize --jsonl [--bos]                "text" lines -> [ids] lines
//   moela-tokenize --jsonl --decode               [ids] lines -> "text" lines
//
// plus --tokenizer DIR, which defaults to $MOELA_TOKENIZER, else the
// DeepSeek-V3 tokenizer bundled with moela (as moela-run finds it). Errors
// print "moela-tokenize: <message>" on stderr and exit with status 1. Notes
// ("--bos" on a text that already starts with the BOS token) go to stderr
// unless -q; -v adds the tokenizer folder, the token count and the time.
// Nothing of this changes stdout.
//
//===----------------------------------------------------------------------===//
#include "cli/Cli11.h"
#include "cli/Version.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"
#include "moela/Runtime/Output.h"
#include "moela/Runtime/Tokenizer.h"

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

using nlohmann::json;

namespace {

/// `text` as JSON; `where` ("line 3: ") names it in errors.
json parseInput(const std::string &text, const std::string &where) {
  return moela::parseJson(text, where.substr(0, where.rfind(": ")));
}

std::vector<moela::TokenId> parseIds(const std::string &text,
                                     const std::string &where) {
  const json value = parseInput(text, where);
  if (!value.is_array())
    moela::fail(where, "expected a JSON array of token ids");
  std::vector<moela::TokenId> ids;
  ids.reserve(value.size());
  for (size_t i = 0; i < value.size(); ++i) {
    const json &v = value[i];
    if (!v.is_number_integer() || v.get<int64_t>() < INT32_MIN ||
        v.get<int64_t>() > INT32_MAX)
      moela::fail(where, "element ", i, " is not a token id: ", v.dump());
    ids.push_back(static_cast<moela::TokenId>(v.get<int64_t>()));
  }
  return ids;
}

std::string parseText(const std::string &line, const std::string &where) {
  const json value = parseInput(line, where);
  if (!value.is_string())
    moela::fail(where, "expected a JSON string");
  return value.get<std::string>();
}

std::string dumpIds(const std::vector<moela::TokenId> &ids) {
  return json(ids).dump();
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// The ids of `text`; with `bos`, a note (unless `quiet`) when the text
/// already starts with the BOS token, as llama.cpp warns of a doubled BOS.
std::vector<moela::TokenId> encode(const moela::Tokenizer &tokenizer,
                                   const std::string &text, bool bos,
                                   bool quiet, const std::string &where) {
  std::vector<moela::TokenId> ids = tokenizer.encode(text, bos);
  if (bos && !quiet && ids.size() > 1 && ids[1] == tokenizer.bosId())
    std::cerr << "moela-tokenize: " << where
              << "note: the text already starts with the BOS token, and "
                 "--bos adds another\n";
  return ids;
}

} // namespace

int main(int argc, char **argv) {
  CLI::App app{
      "Encode text to DeepSeek-V3 token ids or decode ids to text.\n"
      "Reads stdin (or --text), writes stdout. Without --jsonl the whole "
      "input is one\ntext (or, with --decode, one JSON array of ids). With "
      "--jsonl each line is a\nJSON string (with --decode a JSON array of "
      "ids) and gives one output line."};
  app.option_defaults()->always_capture_default();
  // --tokenizer, else $MOELA_TOKENIZER, else the bundled tokenizer.
  std::string dir;
  if (const char *env = std::getenv("MOELA_TOKENIZER"))
    dir = env;
  else if (std::filesystem::exists(
               std::filesystem::path(MOELA_DEFAULT_TOKENIZER) /
               "tokenizer.json"))
    dir = MOELA_DEFAULT_TOKENIZER;
  std::optional<std::string> text;
  bool jsonl = false, decode = false, bos = false, quiet = false,
       verbose = false;
  app.add_option("--tokenizer", dir,
                 "Directory with tokenizer.json (+ tokenizer_config.json); "
                 "default $MOELA_TOKENIZER, else the bundled DeepSeek-V3 "
                 "tokenizer")
      ->check(CLI::ExistingDirectory)
      ->group("Tokenizer");
  auto *textOption =
      app.add_option("--text", text,
                     "The input itself instead of stdin (with --decode, a "
                     "JSON array of ids)")
          ->group("Input and output");
  app.add_flag("--jsonl", jsonl, "One JSON value per input and output line")
      ->excludes(textOption)
      ->group("Input and output");
  auto *decodeFlag =
      app.add_flag("--decode", decode, "Decode token ids to text")
          ->group("Input and output");
  app.add_flag("--bos", bos, "Prepend the BOS token id when encoding")
      ->excludes(decodeFlag)
      ->group("Tokenizer");
  app.add_flag("-q,--quiet", quiet,
               "No notes on stderr (errors only); stdout is the same")
      ->group("Messages");
  app.add_flag("-v,--verbose", verbose,
               "Also the tokenizer folder, the token count and the time on "
               "stderr")
      ->group("Messages");
  if (std::optional<int> exit =
          moela::cli::parseCommandLine(app, argc, argv, "moela-tokenize", [] {
            return moela::cli::versionText("moela-tokenize");
          }))
    return *exit;

  try {
    if (dir.empty())
      moela::fail("no tokenizer: pass --tokenizer DIR or set MOELA_TOKENIZER "
                  "(the bundled one, " MOELA_DEFAULT_TOKENIZER ", is missing)");
    std::ios::sync_with_stdio(false);
    verbose = verbose && !quiet;
    auto start = std::chrono::steady_clock::now();
    moela::Tokenizer tokenizer(dir);
    if (verbose)
      std::cerr << "moela-tokenize: tokenizer " << dir << " (loaded in "
                << std::lround(millisecondsSince(start)) << " ms)\n";
    // -v: what was done, once the output is written.
    start = std::chrono::steady_clock::now();
    size_t tokens = 0, bytes = 0, lines = 0;
    auto finish = [&]() -> int {
      moela::flushStdout(); // a full disk is an error, not exit 0
      if (verbose) {
        char text[200];
        std::snprintf(text, sizeof(text), "%s %zu %s to %zu %s%s in %.3f ms",
                      decode ? "decoded" : "encoded", decode ? tokens : bytes,
                      decode ? "tokens" : "bytes", decode ? bytes : tokens,
                      decode ? "bytes" : "tokens",
                      jsonl ? (" (" + std::to_string(lines) + " lines)").c_str()
                            : "",
                      millisecondsSince(start));
        std::cerr << "moela-tokenize: " << text << "\n";
      }
      return 0;
    };

    if (!jsonl) {
      std::string input =
          text ? *text
               : std::string{std::istreambuf_iterator<char>(std::cin),
                             std::istreambuf_iterator<char>()};
      if (decode) {
        std::vector<moela::TokenId> ids =
            parseIds(input, text ? "--text: " : "stdin: ");
        std::string output = tokenizer.decode(ids);
        std::cout << output;
        tokens = ids.size(), bytes = output.size();
      } else {
        std::vector<moela::TokenId> ids =
            encode(tokenizer, input, bos, quiet, "");
        std::cout << dumpIds(ids) << "\n";
        tokens = ids.size(), bytes = input.size();
      }
      return finish();
    }

    std::string line;
    for (size_t number = 1; std::getline(std::cin, line); ++number) {
      std::string where = "line " + std::to_string(number) + ": ";
      try {
        if (decode) {
          std::vector<moela::TokenId> ids = parseIds(line, where);
          std::string output = tokenizer.decode(ids);
          std::cout << json(output).dump() << "\n";
          tokens += ids.size(), bytes += output.size();
        } else {
          std::string input = parseText(line, where);
          std::vector<moela::TokenId> ids =
              encode(tokenizer, input, bos, quiet, where);
          std::cout << dumpIds(ids) << "\n";
          tokens += ids.size(), bytes += input.size();
        }
        ++lines;
      } catch (const moela::Error &e) {
        // Name the line for tokenizer errors too (bad ids, invalid UTF-8).
        std::string message = e.what();
        if (message.compare(0, where.size(), where) != 0)
          message = where + message;
        throw moela::Error(message);
      }
    }
    return finish();
  } catch (const std::exception &e) {
    std::cerr << "moela-tokenize: " << e.what() << "\n";
    return 1;
  }
}
