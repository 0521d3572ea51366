//===- LineReader.h - The chat's input lines ----------------------*- C++
//-*-===//
//
// On a terminal: line editing and history with libedit (arrow keys move the
// cursor instead of arriving as ^[[D). Otherwise (a pipe, a file) plain
// getline, so scripted sessions read exactly their lines.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_RUN_LINEREADER_H
#define MOELA_TOOLS_RUN_LINEREADER_H

#include <optional>
#include <string>

namespace moela::runtool {

class LineReader {
public:
  /// `prompt` is shown on stderr before each line read from a terminal,
  /// never when `quiet`.
  LineReader(std::string prompt, bool quiet);
  /// The next line without its newline; nullopt at end of input or when a
  /// signal interrupted the read. A signal that comes after the caller's last
  /// check but before the read blocks is seen only after the next line.
  std::optional<std::string> read();
  bool onTerminal() const { return terminal; }

private:
  std::string prompt;
  bool quiet, terminal;
};

} // namespace moela::runtool

#endif // MOELA_TOOLS_RUN_LINEREADER_H
