//===- HttpApi.cpp - The OpenAI-compatible routes of moela-serve ----------===//
//
// A completion request becomes n scheduler requests (its choices), each with
// a ChoiceStream. A streamed answer is written by cpp-httplib's chunked
// content provider on the connection's thread as server-sent events; a
// failed write means the client left, and its requests are cancelled at
// once so the scheduler frees their pages before its next step.
//
//===----------------------------------------------------------------------===//
#include "serve/HttpApi.h"

#include "serve/ApiError.h"
#include "serve/ChoiceStream.h"
#include "serve/OpenAiResponse.h"

#include "moela/Runtime/Error.h"

#include <httplib.h>

#include <chrono>
#include <random>
#include <thread>

namespace moela::serve {

using json = nlohmann::json;

namespace {

/// The choices of one completion request, shared by the handler, the
/// stream writer and (through the requests' callbacks) the scheduler.
struct Job {
  explicit Job(std::shared_ptr<std::atomic<int>> answering)
      : answering(std::move(answering)) {
    ++*this->answering;
  }
  ~Job() { --*answering; }

  std::shared_ptr<std::atomic<int>> answering;
  CompletionParams params;
  ResponseHeader header;
  std::shared_ptr<Waker> waker = std::make_shared<Waker>();
  std::vector<std::shared_ptr<ChoiceStream>> streams;
  std::vector<std::shared_ptr<ServeRequest>> requests;

  void cancel() {
    for (auto &r : requests)
      r->cancelled = true;
  }
};

/// Waits (bounded) for news and takes it from every choice: [index, delta].
std::vector<std::pair<int, Delta>> takeNews(Job &job,
                                            std::chrono::milliseconds wait) {
  std::unique_lock<std::mutex> lock(job.waker->mutex);
  job.waker->changed.wait_for(lock, wait, [&] {
    for (const auto &s : job.streams)
      if (s->ready())
        return true;
    return false;
  });
  std::vector<std::pair<int, Delta>> news;
  for (size_t i = 0; i < job.streams.size(); ++i) {
    Delta d;
    if (job.streams[i]->take(d))
      news.emplace_back(static_cast<int>(i), std::move(d));
  }
  return news;
}

} // namespace

HttpApi::HttpApi(Scheduler &scheduler, const ServedModel &model,
                 Metrics &metrics, bool verbose)
    : scheduler(scheduler), model(model), metrics(metrics), verbose(verbose),
      started(std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count()) {}

void HttpApi::error(httplib::Response &res, int status,
                    const std::string &message, const std::string &param,
                    const std::string &code) {
  metrics.countHttpError(status);
  res.status = status;
  res.set_content(
      dump(errorJson(message, ApiError(status, "").type(), param, code)),
      "application/json");
}

void HttpApi::install(httplib::Server &server) {
  // Every handler's exception becomes an error object, never a crash.
  auto guarded = [this](auto handler) {
    return
        [this, handler](const httplib::Request &req, httplib::Response &res) {
          try {
            handler(req, res);
          } catch (const ApiError &e) {
            error(res, e.status, e.what(), e.param, e.code);
          } catch (const std::exception &e) {
            error(res, 500, e.what());
          }
        };
  };
  server.Post("/v1/completions", guarded([this](const auto &req, auto &res) {
                completions(req, res, /*chat=*/false);
              }));
  server.Post("/v1/chat/completions",
              guarded([this](const auto &req, auto &res) {
                completions(req, res, /*chat=*/true);
              }));
  server.Post("/tokenize", guarded([this](const auto &req, auto &res) {
                tokenize(req, res);
              }));
  server.Post("/detokenize", guarded([this](const auto &req, auto &res) {
                detokenize(req, res);
              }));
  server.Get("/v1/models",
             guarded([this](const auto &, auto &res) { models(res); }));
  server.Get("/health",
             guarded([this](const auto &, auto &res) { health(res); }));
  server.Get("/metrics", guarded([this](const auto &, auto &res) {
               res.set_content(metrics.render(scheduler.stats()),
                               "text/plain; version=0.0.4");
             }));
  // Unknown routes and methods: an error object too.
  server.set_error_handler(
      [this](const httplib::Request &req, httplib::Response &res) {
        if (!res.body.empty())
          return; // a handler's own error object
        const int status = res.status;
        error(res, status,
              status == 404 ? "no route " + req.method + " " + req.path
                            : "the request failed with HTTP status " +
                                  std::to_string(status));
      });
  server.set_exception_handler(
      [this](const httplib::Request &, httplib::Response &res,
             std::exception_ptr) { error(res, 500, "internal error"); });
}

void HttpApi::waitForResponses(std::chrono::seconds limit) const {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (*answering > 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void HttpApi::models(httplib::Response &res) const {
  json card = {{"id", model.name},
               {"object", "model"},
               {"created", started},
               {"owned_by", "moela"},
               {"max_model_len", model.contextLength}};
  res.set_content(
      dump({{"object", "list"}, {"data", json::array({std::move(card)})}}),
      "application/json");
}

void HttpApi::health(httplib::Response &res) const {
  const SchedulerStats s = scheduler.stats();
  if (s.draining) {
    res.status = 503;
    res.set_content(dump({{"status", "draining"}}), "application/json");
    return;
  }
  res.set_content(dump({{"status", "ok"},
                        {"running", s.running},
                        {"waiting", s.waiting},
                        {"kv_pages_free", s.pagesFree}}),
                  "application/json");
}

void HttpApi::tokenize(const httplib::Request &req,
                       httplib::Response &res) const {
  std::vector<int32_t> ids = parseTokenize(req.body, model);
  res.set_content(dump({{"tokens", ids},
                        {"count", ids.size()},
                        {"max_model_len", model.contextLength}}),
                  "application/json");
}

void HttpApi::detokenize(const httplib::Request &req,
                         httplib::Response &res) const {
  std::vector<int32_t> ids = parseDetokenize(req.body, model);
  res.set_content(dump({{"prompt", model.tokenizer->decode(ids)}}),
                  "application/json");
}

void HttpApi::completions(const httplib::Request &req, httplib::Response &res,
                          bool chat) {
  auto job = std::make_shared<Job>(answering);
  job->params = parseCompletion(req.body, chat, model);
  job->header = newResponseHeader(chat, model.name);
  const CompletionParams &p = job->params;
  std::random_device entropy;
  for (int i = 0; i < p.n; ++i) {
    auto request = std::make_shared<ServeRequest>();
    request->prompt = p.prompt;
    request->maxTokens = p.maxTokens;
    request->sampling = p.sampling;
    request->sampling.seed =
        p.seeded ? p.sampling.seed + uint64_t(i)
                 : (uint64_t(entropy()) << 32) ^ uint64_t(entropy());
    request->ignoreEos = p.ignoreEos;
    request->topLogprobs = p.logprobs;
    std::string logName;
    if (verbose)
      logName = job->header.id + (p.n > 1 ? "/" + std::to_string(i) : "");
    auto stream = std::make_shared<ChoiceStream>(
        *model.tokenizer, p.stop, job->waker, metrics, std::move(logName));
    ChoiceStream::attach(stream, *request);
    job->streams.push_back(stream);
    job->requests.push_back(request);
  }
  try {
    for (auto &request : job->requests)
      scheduler.submit(request);
  } catch (const Error &e) {
    job->cancel();
    throw ApiError(scheduler.stats().draining ? 503 : 400, e.what());
  }
  const bool logprobs = p.logprobs >= 0;

  if (!p.stream) {
    std::vector<ChoiceResult> results(p.n);
    std::vector<bool> ended(p.n, false);
    int open = p.n;
    while (open > 0)
      for (auto &[i, d] : takeNews(*job, std::chrono::milliseconds(200))) {
        results[i].text += d.text;
        results[i].tokens.insert(results[i].tokens.end(), d.tokens.begin(),
                                 d.tokens.end());
        if (d.end) {
          results[i].outcome = *d.end;
          ended[i] = true;
          --open;
        }
      }
    for (const ChoiceResult &r : results)
      if (r.outcome.end == RequestEnd::Failed)
        throw ApiError(500, "generation failed: " + r.outcome.error);
    res.set_content(
        dump(completionJson(job->header, *model.tokenizer, p, results)),
        "application/json");
    return;
  }

  // Server-sent events: a chunk per delta, then usage (if asked), [DONE].
  struct Progress {
    std::vector<bool> started, ended;
    std::vector<size_t> offsets;
    std::vector<RequestOutcome> outcomes;
    int open;
  };
  auto progress = std::make_shared<Progress>(Progress{
      std::vector<bool>(p.n, false), std::vector<bool>(p.n, false),
      std::vector<size_t>(p.n, 0), std::vector<RequestOutcome>(p.n), p.n});
  res.set_header("Cache-Control", "no-cache");
  // Writes what is new; false ends the connection (the client is gone).
  auto writeEvents = [this, job, progress, logprobs](httplib::DataSink &sink) {
    auto send = [&](const json &event) {
      const std::string line = "data: " + dump(event) + "\n\n";
      return sink.write(line.data(), line.size());
    };
    auto news = takeNews(*job, std::chrono::milliseconds(200));
    if (news.empty() && !sink.is_writable()) {
      job->cancel(); // the client is gone
      return false;
    }
    for (auto &[i, d] : news) {
      if (d.end && d.end->end == RequestEnd::Failed) {
        const json e = errorJson("generation failed: " + d.end->error,
                                 "server_error", "", "");
        if (!send(e)) {
          job->cancel();
          return false;
        }
      }
      // A token whose text is held back (a partial character or a
      // possible stop string) waits, unless its ids or logprobs are wanted.
      const bool worthSending =
          !d.text.empty() || d.end || !progress->started[i] ||
          ((logprobs || job->params.returnTokenIds) && !d.tokens.empty());
      if (worthSending &&
          !send(chunkJson(job->header, *model.tokenizer, job->params, i, d,
                          !progress->started[i], progress->offsets[i]))) {
        job->cancel();
        return false;
      }
      progress->started[i] = true;
      if (logprobs)
        for (const GeneratedToken &t : d.tokens)
          progress->offsets[i] += tokenText(*model.tokenizer, t.id).size();
      if (d.end) {
        progress->outcomes[i] = *d.end;
        progress->ended[i] = true;
        --progress->open;
      }
    }
    if (progress->open > 0)
      return true;
    if (job->params.includeUsage &&
        !send(usageChunkJson(job->header, progress->outcomes)))
      return false;
    const std::string done = "data: [DONE]\n\n";
    sink.write(done.data(), done.size());
    sink.done();
    return true;
  };
  res.set_chunked_content_provider(
      "text/event-stream",
      [job, writeEvents](size_t, httplib::DataSink &sink) {
        try {
          return writeEvents(sink);
        } catch (const std::exception &) {
          job->cancel();
          return false;
        }
      },
      [job](bool success) {
        if (!success)
          job->cancel();
      });
}

} // namespace moela::serve
