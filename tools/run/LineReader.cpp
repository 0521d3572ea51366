//===- LineReader.cpp - The chat's input lines ----------------------------===//
#include "run/LineReader.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <unistd.h>

#ifdef MOELA_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

namespace moela::runtool {

LineReader::LineReader(std::string prompt, bool quiet)
    : prompt(std::move(prompt)), quiet(quiet),
      terminal(isatty(STDIN_FILENO) != 0) {
#ifdef MOELA_HAVE_LIBEDIT
  if (terminal) {
    rl_outstream = stderr; // answers alone on stdout
    rl_catch_signals = 0;  // Ctrl-C is the chat's (it ends the session here)
  }
#endif
}

std::optional<std::string> LineReader::read() {
#ifdef MOELA_HAVE_LIBEDIT
  if (terminal) {
    char *line = readline(quiet ? "" : prompt.c_str());
    if (!line)
      return std::nullopt;
    std::string text(line);
    std::free(line);
    if (!text.empty())
      add_history(text.c_str());
    return text;
  }
#endif
  // A pipe gets no prompts: its stderr then holds only notes and errors.
  if (!quiet && terminal) {
    std::fputs(prompt.c_str(), stderr);
    std::fflush(stderr);
  }
  std::string line;
  if (!std::getline(std::cin, line))
    return std::nullopt;
  return line;
}

} // namespace moela::runtool
