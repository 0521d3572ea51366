//===- ChoiceStream.h - One choice's tokens, from the scheduler to HTTP ---===//
//
// The scheduler's thread pushes each generated token in (onToken, onFinish);
// the thread answering the HTTP request takes the text out as it becomes
// safe: decoded to whole UTF-8 characters and held back while it may still
// begin a stop string (which is never sent).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TOOLS_SERVE_CHOICESTREAM_H
#define MOELA_TOOLS_SERVE_CHOICESTREAM_H

#include "moela/Runtime/Scheduler.h"
#include "moela/Runtime/StopStrings.h"
#include "moela/Runtime/Tokenizer.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace moela::serve {

class Metrics;

/// Wakes the thread that waits on any choice of one HTTP request.
struct Waker {
  std::mutex mutex;
  std::condition_variable changed;
};

/// What a choice has produced since it was last asked.
struct Delta {
  std::string text;
  std::vector<GeneratedToken> tokens; // every token since, with logprobs
  std::optional<RequestOutcome> end;  // set once, with the last delta
};

class ChoiceStream {
public:
  /// With a `logName`, a line on stderr when the choice ends (-v).
  ChoiceStream(const Tokenizer &tokenizer, std::vector<std::string> stops,
               std::shared_ptr<Waker> waker, Metrics &metrics,
               std::string logName = {});

  /// Binds the request's callbacks to `stream`, which they keep alive until
  /// the scheduler is done with the request (a client may leave first).
  static void attach(const std::shared_ptr<ChoiceStream> &stream,
                     ServeRequest &request);

  // Under the waker's lock:
  /// Whether there is something to take.
  bool ready() const;
  /// Takes what is new. Returns false if nothing.
  bool take(Delta &out);

private:
  bool onToken(const GeneratedToken &token);
  void onFinish(const RequestOutcome &outcome);

  // Scheduler thread only.
  StreamDecoder decoder;
  int64_t tokenizerVocab;
  StopStrings stops;
  Metrics &metrics;
  std::string logName;
  std::chrono::steady_clock::time_point submitted, firstToken, lastToken;
  bool anyToken = false;

  std::shared_ptr<Waker> waker; // its mutex guards `pending` and `done`
  Delta pending;
};

} // namespace moela::serve

#endif // MOELA_TOOLS_SERVE_CHOICESTREAM_H
