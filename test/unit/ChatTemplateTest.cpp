//===- ChatTemplateTest.cpp - Chat templates against jinja2 ---------------===//
//
// Every case of test/data/chat-templates/goldens.json (the three DeepSeek
// templates, and two in the style of other common ones with tools, over
// system/user/assistant turns, tool calls, reasoning, unicode,
// add_generation_prompt and V3.1's thinking, rendered by jinja2 as
// transformers does) must come out of Tokenizer::renderChatTemplate byte for
// byte, and the cases jinja2 refuses must throw. LiveJinja2Oracle reruns the
// generator when python3 has jinja2, so a change of either side shows.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

using moela::Tokenizer;
using json = nlohmann::ordered_json;

namespace {

const std::string kSource = MOELA_SOURCE_DIR;
const std::string kGoldens = kSource + "/test/data/chat-templates/goldens.json";
const std::string kGenerator =
    kSource + "/test/reference/chat-template-goldens.py";

json readJson(const std::string &path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return json::parse(buffer.str());
}

Tokenizer &tokenizer() {
  static Tokenizer tok(kSource + "/models/tokenizer/deepseek-v3");
  return tok;
}

/// Renders every case of `goldens` and compares; returns how many it checked.
int checkCases(const json &goldens) {
  Tokenizer &tok = tokenizer();
  std::string current;
  int checked = 0;
  for (const json &c : goldens["cases"]) {
    const std::string name = c["template"];
    if (name != current) {
      tok.loadChatTemplateFile(kSource + "/" +
                               goldens["templates"][name].get<std::string>());
      current = name;
    }
    const std::string what =
        name + " / " + c["conversation"].get<std::string>() +
        " / add_generation_prompt=" + c["add_generation_prompt"].dump() +
        " / " + c["variables"].dump();
    const std::string messages = c["messages"].dump();
    const std::string variables = c["variables"].dump();
    const bool addGenerationPrompt = c["add_generation_prompt"];
    if (c.contains("error")) {
      // raise_exception's message is the error; other failures need only
      // be errors.
      const std::string jinja2 = c["error"];
      const std::string raised = "TemplateError: ";
      try {
        tok.renderChatTemplate(messages, addGenerationPrompt, variables);
        ADD_FAILURE() << what << ": no error, jinja2 says " << jinja2;
      } catch (const moela::Error &e) {
        if (jinja2.rfind(raised, 0) == 0) {
          EXPECT_EQ(e.what(), jinja2.substr(raised.size())) << what;
        }
      }
    } else {
      try {
        EXPECT_EQ(
            tok.renderChatTemplate(messages, addGenerationPrompt, variables),
            c["output"].get<std::string>())
            << what;
      } catch (const moela::Error &e) {
        ADD_FAILURE() << what << ": " << e.what();
      }
    }
    ++checked;
  }
  return checked;
}

TEST(ChatTemplateTest, GoldensOfJinja2) {
  json goldens = readJson(kGoldens);
  // Special tokens as the tokenizer passes them to the template.
  EXPECT_EQ(goldens["special_tokens"]["bos_token"], "<｜begin▁of▁sentence｜>");
  int checked = checkCases(goldens);
  EXPECT_GE(checked, 300);
  tokenizer().loadChatTemplateFile(kSource +
                                   "/models/templates/deepseek-v3.jinja");
}

TEST(ChatTemplateTest, LiveJinja2Oracle) {
  if (std::system("python3 -c 'import jinja2' >/dev/null 2>&1") != 0)
    GTEST_SKIP() << "python3 with jinja2 is not available";
  char path[] = "/tmp/moela-chat-goldens-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::string command = "python3 " + kGenerator + " > " + path;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
  json live = readJson(path);
  std::remove(path);
  json committed = readJson(kGoldens);
  live.erase("jinja2");
  committed.erase("jinja2");
  EXPECT_EQ(live, committed)
      << "test/data/chat-templates/goldens.json is stale: rerun "
         "test/reference/chat-template-goldens.py";
  checkCases(live);
}

TEST(ChatTemplateTest, BuiltinTemplateIsDeepSeekV3) {
  // A tokenizer folder without chat_template falls back to the V3 template.
  char dir[] = "/tmp/moela-tokenizer-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string tokDir = dir;
  std::string link = tokDir + "/tokenizer.json";
  ASSERT_EQ(
      symlink(
          (kSource + "/models/tokenizer/deepseek-v3/tokenizer.json").c_str(),
          link.c_str()),
      0);
  Tokenizer plain(tokDir);
  EXPECT_EQ(plain.chatTemplateName(), "built-in DeepSeek-V3 chat template");
  std::vector<moela::ChatMessage> messages = {{"system", "S"}, {"user", "Hi"}};
  Tokenizer fromConfig(kSource + "/models/tokenizer/deepseek-v3");
  EXPECT_EQ(plain.applyChatTemplate(messages, true),
            fromConfig.applyChatTemplate(messages, true));
  EXPECT_EQ(plain.applyChatTemplate(messages, true),
            "<｜begin▁of▁sentence｜>S<｜User｜>Hi<｜Assistant｜>");

  // tokenizer_config.json variants: a list with "default", one without, a
  // template moela cannot parse (loading still works; rendering says why).
  auto withConfig = [&](const json &config) {
    std::ofstream(tokDir + "/tokenizer_config.json") << config.dump();
    return Tokenizer(tokDir);
  };
  Tokenizer listed = withConfig(
      {{"chat_template",
        json::array(
            {{{"name", "tool_use"}, {"template", "tools"}},
             {{"name", "default"},
              {"template", "{{ bos_token }}[{{ messages|length }}]"}}})},
       {"bos_token", "<｜begin▁of▁sentence｜>"}});
  EXPECT_EQ(listed.applyChatTemplate(messages, false),
            "<｜begin▁of▁sentence｜>[2]");
  Tokenizer noDefault = withConfig(
      {{"chat_template",
        json::array({{{"name", "tool_use"}, {"template", "tools"}}})}});
  try {
    noDefault.applyChatTemplate(messages, false);
    ADD_FAILURE() << "expected an error";
  } catch (const moela::Error &e) {
    EXPECT_NE(std::string(e.what()).find("none named \"default\""),
              std::string::npos)
        << e.what();
  }
  Tokenizer broken =
      withConfig({{"chat_template", "line one\n{% include 'x' %}"}});
  EXPECT_EQ(broken.encode("Hi").size(), 1u);
  try {
    broken.applyChatTemplate(messages, false);
    ADD_FAILURE() << "expected an error";
  } catch (const moela::Error &e) {
    EXPECT_EQ(std::string(e.what()),
              tokDir + "/tokenizer_config.json: chat_template:2: {% include "
                       "%} is not supported here (moela's Jinja subset: if, "
                       "for, set, macro, break, continue, generation)");
  }
  std::filesystem::remove_all(tokDir);
}

TEST(ChatTemplateTest, RenderChatTemplateTakesOpenAiMessages) {
  Tokenizer &tok = tokenizer();
  tok.loadChatTemplateFile(kSource + "/models/templates/deepseek-v3.1.jinja");
  const std::string messages =
      R"([{"role": "user", "content": "Hi"}, {"role": "assistant",
          "content": null, "tool_calls": [{"type": "function", "function":
          {"name": "f", "arguments": "{\"x\": 1}"}}]}])";
  EXPECT_EQ(tok.renderChatTemplate(messages, false),
            "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜></think><｜tool▁"
            "calls▁begin｜><｜tool▁call▁begin｜>f<｜tool▁sep｜>{\"x\": "
            "1}<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>");
  const std::string user = R"([{"role": "user", "content": "Hi"}])";
  EXPECT_EQ(tok.renderChatTemplate(user, true, R"({"thinking": true})"),
            "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜><think>");
  // Variables override the special tokens, as kwargs do in transformers.
  EXPECT_EQ(tok.renderChatTemplate(user, true, R"({"bos_token": ""})"),
            "<｜User｜>Hi<｜Assistant｜></think>");
  EXPECT_THROW(tok.renderChatTemplate("[{", true), moela::Error);
  EXPECT_THROW(tok.renderChatTemplate(R"({"role": "user"})", true),
               moela::Error);
  EXPECT_THROW(tok.renderChatTemplate(user, true, "[1]"), moela::Error);
  try {
    tok.renderChatTemplate(R"([{"role": "user", "content": null}])", true);
    ADD_FAILURE() << "expected an error";
  } catch (const moela::Error &e) {
    EXPECT_EQ(std::string(e.what()),
              kSource + "/models/templates/deepseek-v3.1.jinja:28: "
                        "unsupported operand types for +: string and none");
  }
  tok.loadChatTemplateFile(kSource + "/models/templates/deepseek-v3.jinja");
}

TEST(ChatTemplateTest, TemplateFileErrors) {
  Tokenizer &tok = tokenizer();
  tok.loadChatTemplateFile(kSource + "/models/templates/deepseek-v3.jinja");
  try {
    tok.loadChatTemplateFile("/nonexistent/chat.jinja");
    ADD_FAILURE() << "expected an error";
  } catch (const moela::Error &e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot read chat template /nonexistent/chat.jinja");
  }
  EXPECT_THROW(tok.setChatTemplate("{% for %}", "t.jinja"), moela::Error);
  // A failed replacement keeps the template that was there.
  EXPECT_EQ(tok.chatTemplateName(),
            kSource + "/models/templates/deepseek-v3.jinja");
  tok.setChatTemplate("{{ raise_exception('no system role here') }}",
                      "raises.jinja");
  try {
    tok.applyChatTemplate({}, true);
    ADD_FAILURE() << "expected an error";
  } catch (const moela::Error &e) {
    EXPECT_EQ(std::string(e.what()), "no system role here");
  }
  tok.loadChatTemplateFile(kSource + "/models/templates/deepseek-v3.jinja");
}

} // namespace
