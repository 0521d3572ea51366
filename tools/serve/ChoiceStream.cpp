//===- ChoiceStream.cpp - One choice's tokens, from the scheduler to HTTP -===//
#include "serve/ChoiceStream.h"

#include "serve/Metrics.h"

#include <cstdio>

namespace moela::serve {

ChoiceStream::ChoiceStream(const Tokenizer &tokenizer,
                           std::vector<std::string> stopStrings,
                           std::shared_ptr<Waker> waker, Metrics &metrics,
                           std::string logName)
    : decoder(tokenizer, /*skipSpecial=*/true),
      tokenizerVocab(tokenizer.vocabSize()), stops(std::move(stopStrings)),
      metrics(metrics), logName(std::move(logName)),
      submitted(std::chrono::steady_clock::now()), waker(std::move(waker)) {}

void ChoiceStream::attach(const std::shared_ptr<ChoiceStream> &stream,
                          ServeRequest &request) {
  stream->submitted = std::chrono::steady_clock::now();
  request.onToken = [stream](const GeneratedToken &t) {
    return stream->onToken(t);
  };
  request.onFinish = [stream](const RequestOutcome &o) { stream->onFinish(o); };
}

bool ChoiceStream::onToken(const GeneratedToken &token) {
  const auto now = std::chrono::steady_clock::now();
  auto seconds = [](auto d) {
    return std::chrono::duration<double>(d).count();
  };
  if (!anyToken) {
    metrics.observeFirstToken(seconds(now - submitted));
    firstToken = now;
  } else
    metrics.observeInterToken(seconds(now - lastToken));
  anyToken = true;
  lastToken = now;
  // The model's vocabulary may have padding rows past the tokenizer's: such
  // an id has no text.
  std::string text = token.id < tokenizerVocab
                         ? stops.push(decoder.push(token.id))
                         : std::string();
  {
    std::lock_guard<std::mutex> lock(waker->mutex);
    pending.text += text;
    pending.tokens.push_back(token);
  }
  waker->changed.notify_all();
  return stops.stopped();
}

void ChoiceStream::onFinish(const RequestOutcome &outcome) {
  std::string rest;
  if (!stops.stopped()) {
    rest = stops.push(decoder.flush());
    rest += stops.flush();
  }
  metrics.observeFinished(outcome);
  if (!logName.empty()) {
    using ms = std::chrono::duration<double, std::milli>;
    const double decodeSeconds =
        anyToken ? std::chrono::duration<double>(lastToken - firstToken).count()
                 : 0;
    std::fprintf(
        stderr,
        "moela-serve: %s: %d prompt tokens (%d cached) + %d generated, "
        "first after %.0f ms, %.1f tokens/s, %s%s%s\n",
        logName.c_str(), outcome.promptTokens, outcome.cachedTokens,
        outcome.completionTokens,
        anyToken ? ms(firstToken - submitted).count() : 0.0,
        decodeSeconds > 0 ? (outcome.completionTokens - 1) / decodeSeconds
                          : 0.0,
        finishReason(outcome.end), outcome.error.empty() ? "" : ": ",
        outcome.error.c_str());
  }
  {
    std::lock_guard<std::mutex> lock(waker->mutex);
    pending.text += rest;
    pending.end = outcome;
  }
  waker->changed.notify_all();
}

bool ChoiceStream::ready() const {
  return !pending.text.empty() || !pending.tokens.empty() || pending.end;
}

bool ChoiceStream::take(Delta &out) {
  if (!ready())
    return false;
  out = std::move(pending);
  pending = Delta();
  return true;
}

} // namespace moela::serve
