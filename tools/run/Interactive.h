//===- Interactive.h - moela-run --interactive ---------------------*- C++
//-*-===//
//
// Multi-turn chat on one sequence, as llama-cli and MLC hold it: each turn
// prefills only its new tokens; /help, /reset (/clear), /stats, /system TEXT,
// /exit; Ctrl-C stops an answer, a Ctrl-C at the prompt ends the session.
// Answers go to stdout, everything else to stderr.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_RUN_INTERACTIVE_H
#define MOELA_TOOLS_RUN_INTERACTIVE_H

#include "moela/Runtime/Generation.h"

#include <string>

namespace moela {
class Backend;
class Communicator;
class Engine;
class Tokenizer;
} // namespace moela

namespace moela::runtool {

struct Timings;

struct ChatSettings {
  std::string system; // the system prompt at the start of a conversation
  bool quiet = false; // no banner, prompt or notes
};

/// Rank 0 reads the turns (tokenizer set); the other ranks (tokenizer null)
/// receive each one as ids and run it alike.
void runInteractive(Engine &engine, const Backend &backend,
                    const Tokenizer *tokenizer, ChatSettings settings,
                    const GenerationOptions &gen, Communicator &comm,
                    const Timings &timings);

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_INTERACTIVE_H
