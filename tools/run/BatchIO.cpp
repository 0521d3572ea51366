//===- BatchIO.cpp - --input-file prompts and --output-format jsonl -------===//
#include "run/BatchIO.h"

#include "moela/Runtime/Error.h"
#include "moela/Runtime/Json.h"

#include <fstream>
#include <iostream>

namespace moela::runtool {

using json = nlohmann::json;

namespace {

bool blank(const std::string &line) {
  return line.find_first_not_of(" \t") == std::string::npos;
}

BatchPrompt parseJsonLine(const std::string &where, const std::string &line) {
  json doc = parseJson(line, where);
  if (!doc.is_object())
    fail(where, ": not a JSON object");
  if (doc.contains("prompt") == doc.contains("messages"))
    fail(where, ": give exactly one of \"prompt\" and \"messages\"");
  BatchPrompt p;
  p.given = doc.contains("messages") ? doc["messages"] : doc["prompt"];
  if (doc.contains("prompt")) {
    if (!doc["prompt"].is_string())
      fail(where, ": \"prompt\" must be a string");
    p.text = doc["prompt"].get<std::string>();
    return p;
  }
  const json &messages = doc["messages"];
  if (!messages.is_array() || messages.empty())
    fail(where, ": \"messages\" must be a non-empty array");
  for (size_t i = 0; i < messages.size(); ++i) {
    const json &m = messages[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() ||
        !m.contains("content") || !m["content"].is_string())
      fail(where, ": messages[", i,
           "] must be {\"role\": string, \"content\": string}");
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "user" && role != "assistant")
      fail(where, ": messages[", i, "].role = \"", role,
           "\" is not system, user or assistant");
    p.messages.push_back({role, m["content"].get<std::string>()});
  }
  return p;
}

} // namespace

std::vector<BatchPrompt> readBatchInput(const std::string &path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file)
      fail(path, ": cannot open --input-file");
  }
  std::istream &in = path == "-" ? std::cin : file;
  const std::string name = path == "-" ? "<stdin>" : path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    lines.push_back(std::move(line));
  }
  bool jsonl = false;
  for (const std::string &line : lines)
    if (!blank(line)) {
      jsonl = line[line.find_first_not_of(" \t")] == '{';
      if (!jsonl)
        break;
    }
  std::vector<BatchPrompt> prompts;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string where = name + ":" + std::to_string(i + 1);
    BatchPrompt p;
    if (jsonl) {
      if (blank(lines[i]))
        continue;
      p = parseJsonLine(where, lines[i]);
    } else {
      if (blank(lines[i]))
        fail(where, ": blank line (--input-file takes one prompt per line)");
      p.text = lines[i];
      p.given = lines[i];
    }
    p.line = static_cast<int64_t>(i + 1);
    prompts.push_back(std::move(p));
  }
  if (prompts.empty())
    fail(name, ": no prompts in --input-file (one per line, or JSONL)");
  return prompts;
}

void writeJsonlRecord(std::ostream &out, const BatchPrompt &prompt,
                      const std::string &completion, size_t promptTokens,
                      size_t completionTokens, FinishReason reason) {
  // JSONL says "length" whichever limit (new tokens or context) ended it.
  const char *finish =
      reason == FinishReason::Context ? "length" : finishReasonName(reason);
  json record = {{"id", prompt.line},
                 {"prompt", prompt.given},
                 {"completion", completion},
                 {"prompt_tokens", promptTokens},
                 {"completion_tokens", completionTokens},
                 {"finish_reason", finish}};
  out << record.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
}

} // namespace moela::runtool
