//===- Interactive.cpp - moela-run --interactive --------------------------===//
#include "run/Interactive.h"

#include "run/LineReader.h"
#include "run/ShareIds.h"
#include "run/Stats.h"

#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Tokenizer.h"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>

namespace moela::runtool {

namespace {

volatile std::sig_atomic_t interrupted = 0;

extern "C" void onInterrupt(int) { interrupted = 1; }

/// Thrown from the token callback to stop an answer at Ctrl-C.
struct AnswerStopped {};

/// Ctrl-C stops the answer instead of the process while the chat runs. Not
/// SA_RESTART: a Ctrl-C at the prompt ends the blocked read.
class InterruptGuard {
public:
  InterruptGuard() {
    struct sigaction action = {};
    action.sa_handler = onInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous);
  }
  ~InterruptGuard() { sigaction(SIGINT, &previous, nullptr); }

private:
  struct sigaction previous = {};
};

// Turns as rank 0 sends them to the others. kRestart comes before the ids of
// a turn that replaces the whole conversation in the cache.
const std::vector<int32_t> kExit = {-1}, kReset = {-2}, kSkip = {-3},
                           kRestart = {-4};

const char *kHelp = "commands:\n"
                    "  /help          this list\n"
                    "  /reset         start the conversation over (/clear)\n"
                    "  /system TEXT   set the system prompt and start over\n"
                    "  /stats         token counts and speeds so far\n"
                    "  /exit          quit (also Ctrl-D, or Ctrl-C at the "
                    "prompt)\n"
                    "Ctrl-C during an answer stops it.\n";

void say(const ChatSettings &settings, const std::string &line) {
  if (!settings.quiet)
    std::cerr << line << std::flush;
}

} // namespace

void runInteractive(Engine &engine, const Backend &backend,
                    const Tokenizer *tokenizer, ChatSettings settings,
                    const GenerationOptions &gen, Communicator &comm,
                    const Timings &timings) {
  const bool lead = comm.rank() == 0;
  // Only a single process can stop an answer midway: the ranks of a
  // multi-rank run would disagree on where it stopped.
  std::optional<InterruptGuard> guard;
  if (comm.size() == 1)
    guard.emplace();
  std::optional<LineReader> reader;
  if (lead) {
    reader.emplace("> ", settings.quiet);
    say(settings, "moela chat: /help lists the commands, /exit quits\n");
  }
  bool first = true;
  // Rank 0's conversation: the messages so far and the text in the cache.
  std::vector<ChatMessage> history;
  std::string fed;
  while (true) {
    std::vector<std::vector<int32_t>> turn(1);
    std::vector<ChatMessage> next; // history + this turn's user message
    std::string prompt;            // the chat template's text of `next`
    if (lead) {
      // A Ctrl-C since the last answer ended counts as one at the prompt.
      std::optional<std::string> line;
      if (!interrupted)
        line = reader->read();
      if (!line || interrupted || *line == "/exit") {
        if (!line && !settings.quiet)
          std::cerr << "\n";
        turn[0] = kExit;
      } else if (*line == "/reset" || *line == "/clear") {
        turn[0] = kReset;
        say(settings, "(conversation reset)\n");
      } else if (line->rfind("/system", 0) == 0 &&
                 (line->size() == 7 || (*line)[7] == ' ')) {
        settings.system = line->size() > 8 ? line->substr(8) : "";
        turn[0] = kReset;
        say(settings, "(system prompt set; conversation reset)\n");
      } else if (*line == "/help") {
        std::cerr << kHelp;
        turn[0] = kSkip;
      } else if (*line == "/stats") {
        printStats(engine, backend, timings);
        turn[0] = kSkip;
      } else if (!line->empty() && (*line)[0] == '/') {
        std::cerr << "moela-run: unknown command " << *line
                  << " (/help lists them)\n";
        turn[0] = kSkip;
      } else if (line->empty()) {
        turn[0] = kSkip;
      } else {
        // The chat template renders the whole conversation; only the text
        // after what the cache holds is fed (for DeepSeek-V3: EOS closing the
        // answer, then the user turn). A template that rewrites the past
        // (R1 drops an answer's reasoning) restarts the conversation with
        // the whole text.
        if (first) {
          history.clear();
          if (!settings.system.empty())
            history.push_back({"system", settings.system});
        }
        next = history;
        next.push_back({"user", *line});
        bool restart = false;
        try {
          prompt = tokenizer->applyChatTemplate(next, true);
          restart = !first && prompt.compare(0, fed.size(), fed) != 0;
          turn[0] = tokenizer->encode(
              first || restart ? prompt : prompt.substr(fed.size()), false);
        } catch (const Error &e) {
          // E.g. the template's raise_exception: this turn is refused.
          std::cerr << "moela-run: " << e.what() << "\n";
          turn[0] = kSkip;
        }
        // A turn that does not fit is refused, the conversation kept.
        const int used = restart ? 0 : engine.length(0),
                  room = engine.maxSeqLen() - used;
        if (turn[0] == kSkip) {
        } else if (static_cast<int>(turn[0].size()) >= room) {
          std::cerr << "moela-run: the context is full (" << used << " of "
                    << engine.maxSeqLen() << " tokens used, this turn needs "
                    << turn[0].size()
                    << "): /reset to start over, or a larger --max-seq-len\n";
          turn[0] = kSkip;
        } else if (restart) {
          turn.insert(turn.begin(), kRestart);
        }
      }
    }
    shareIdArrays(comm, turn);
    if (turn[0] == kRestart) {
      engine.reset(0);
      turn.erase(turn.begin());
    }
    if (turn[0] == kSkip)
      continue;
    if (turn[0] == kExit)
      break;
    if (turn[0] == kReset) {
      engine.reset(0);
      first = true;
      continue;
    }
    std::optional<StreamDecoder> decoder;
    if (lead)
      decoder.emplace(*tokenizer, /*skipSpecial=*/true);
    std::string answer; // rank 0: the answer's text, for the history
    // The turn and its answer join the conversation, also when Ctrl-C
    // stopped the answer.
    auto keepTurn = [&] {
      first = false;
      if (!lead)
        return;
      std::string rest = decoder->flush();
      answer += rest;
      std::cout << rest << "\n" << std::flush;
      history = next;
      history.push_back({"assistant", answer});
      fed = prompt + answer;
    };
    interrupted = 0;
    try {
      generate(engine, turn, gen, [&](int, int32_t id) {
        if (!lead)
          return;
        if (id < tokenizer->vocabSize()) {
          std::string text = decoder->push(id);
          answer += text;
          std::cout << text << std::flush;
        }
        if (interrupted)
          throw AnswerStopped{};
      });
      keepTurn();
      if (lead) {
        if (engine.length(0) >= engine.maxSeqLen() - 1)
          std::cerr << "moela-run: the answer stopped at the end of the "
                       "context ("
                    << engine.maxSeqLen()
                    << " tokens): /reset to start over, or a larger "
                       "--max-seq-len\n";
      }
    } catch (const AnswerStopped &) {
      // The tokens fed so far stay in the conversation.
      keepTurn();
      say(settings, "(answer stopped)\n");
    } catch (const Error &e) {
      // Every rank meets the same error; the cache may hold half a step.
      if (lead) {
        std::cout << "\n" << std::flush;
        std::cerr << "moela-run: " << e.what() << " (conversation reset)\n";
      }
      engine.reset(0);
      first = true;
    }
    interrupted = 0; // a Ctrl-C that came as the answer ended stopped it
  }
}

} // namespace moela::runtool
