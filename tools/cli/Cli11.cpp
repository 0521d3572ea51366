//===- Cli11.cpp - moela's conventions on a CLI11 command line ------------===//
#include "Cli11.h"

#include "DidYouMean.h"

#include <iostream>

namespace moela::cli {
namespace {

/// Every spelling of the app's options: --long and -s.
std::vector<std::string> optionSpellings(const CLI::App &app) {
  std::vector<std::string> names;
  for (const CLI::Option *option : app.get_options()) {
    for (const std::string &name : option->get_lnames())
      names.push_back("--" + name);
    for (const std::string &name : option->get_snames())
      names.push_back("-" + name);
  }
  return names;
}

/// "unknown option --promt (did you mean --prompt?)" for the first extra
/// argument that looks like an option; "" when none does (stray values keep
/// CLI11's message).
std::string unknownOptionMessage(const CLI::App &app) {
  for (const std::string &extra : app.remaining()) {
    if (extra.size() < 2 || extra[0] != '-' ||
        (extra[1] >= '0' && extra[1] <= '9') || extra[1] == '.')
      continue; // a value such as -1 or -.5, not an option
    const std::string name = extra.substr(0, extra.find('='));
    std::string message = "unknown option " + name;
    const std::string nearest = nearestName(name, optionSpellings(app));
    if (!nearest.empty())
      message += " (did you mean " + nearest + "?)";
    return message;
  }
  return "";
}

} // namespace

std::optional<int> parseCommandLine(CLI::App &app, int argc, char **argv,
                                    const std::string &tool,
                                    std::function<std::string()> version) {
  app.set_version_flag(
      "--version", [version] { return version(); },
      "Print moela's version, git commit and plan schema "
      "version, and exit");
  try {
    app.parse(argc, argv);
    return std::nullopt;
  } catch (const CLI::CallForHelp &) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp &) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion &e) {
    std::cout << e.what(); // versionText ends in a newline
    return 0;
  } catch (const CLI::ExtrasError &e) {
    const std::string message = unknownOptionMessage(app);
    std::cerr << tool << ": " << (message.empty() ? e.what() : message) << "\n";
    return 1;
  } catch (const CLI::ParseError &e) {
    std::cerr << tool << ": " << e.what() << "\n";
    return 1;
  }
}

} // namespace moela::cli
