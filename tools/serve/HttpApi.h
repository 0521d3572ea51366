//===- HttpApi.h - The OpenAI-compatible routes of moela-serve ------------===//
#ifndef MOELA_TOOLS_SERVE_HTTPAPI_H
#define MOELA_TOOLS_SERVE_HTTPAPI_H

#include "serve/Metrics.h"
#include "serve/OpenAiRequest.h"

#include "moela/Runtime/Scheduler.h"

#include <atomic>
#include <chrono>
#include <memory>

namespace httplib {
class Server;
struct Request;
struct Response;
} // namespace httplib

namespace moela::serve {

/// POST /v1/completions, /v1/chat/completions, /tokenize, /detokenize;
/// GET /v1/models, /health, /metrics. Every failure is an OpenAI error
/// object with its status; nothing a client sends ends the server.
class HttpApi {
public:
  /// `verbose`: a line on stderr per finished choice.
  HttpApi(Scheduler &scheduler, const ServedModel &model, Metrics &metrics,
          bool verbose = false);
  void install(httplib::Server &server);
  /// Waits until no completion is being answered (a drain's last step
  /// before the server stops), at most `limit`.
  void waitForResponses(std::chrono::seconds limit) const;

private:
  void completions(const httplib::Request &req, httplib::Response &res,
                   bool chat);
  void models(httplib::Response &res) const;
  void health(httplib::Response &res) const;
  void tokenize(const httplib::Request &req, httplib::Response &res) const;
  void detokenize(const httplib::Request &req, httplib::Response &res) const;
  void error(httplib::Response &res, int status, const std::string &message,
             const std::string &param = {}, const std::string &code = {});

  Scheduler &scheduler;
  const ServedModel &model;
  Metrics &metrics;
  bool verbose;
  int64_t started;
  /// Completions being answered: each Job counts itself while it lives.
  std::shared_ptr<std::atomic<int>> answering =
      std::make_shared<std::atomic<int>>(0);
};

} // namespace moela::serve

#endif // MOELA_TOOLS_SERVE_HTTPAPI_H
