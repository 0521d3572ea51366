//===- moela-serve.cpp - An OpenAI-compatible server for a plan -----------===//
//
// moela-serve model.plan --weights DIR [--host 127.0.0.1] [--port 8000]
//
// Loads the plan like moela-run (the same model and runtime flags), starts
// the continuous-batching scheduler on its own thread and answers the
// OpenAI API with cpp-httplib (docs/serving.md). SIGTERM or SIGINT drains:
// new requests get 503, the requests in flight finish, and it exits 0.
//
//===----------------------------------------------------------------------===//
#include "cli/Cli11.h"
#include "cli/Version.h"
#include "kernels/Abi.h"
#include "moela/Runtime/Backends.h"
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Engine.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Plan.h"
#include "moela/Runtime/Scheduler.h"
#include "moela/Runtime/Tokenizer.h"
#include "moela/Runtime/Weights.h"
#include "run/FlagChecks.h"
#include "run/LoadProgress.h"
#include "run/ModelFlags.h"
#include "serve/HttpApi.h"

#include <CLI/CLI.hpp>
#include <httplib.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <thread>

#include <sys/socket.h>
#include <unistd.h>

using namespace moela;

namespace {

struct Options : runtool::ModelFlags {
  std::string host = "127.0.0.1", servedModelName;
  int port = 8000, maxRunning = 0, maxStepTokens = 0;
  int httpThreads = 128;
  bool noPrefixCaching = false, quiet = false, verbose = false;
  float temperature = 1.0f, topP = 1.0f;
  int topK = 0;
};

/// The name clients pass as "model": --served-model-name, else the
/// checkpoint folder's or the plan file's name.
std::string modelName(const Options &o, const std::string &given) {
  if (!o.servedModelName.empty())
    return o.servedModelName;
  std::filesystem::path path(given);
  if (std::filesystem::is_directory(path))
    return std::filesystem::absolute(path).lexically_normal().filename() == ""
               ? std::filesystem::absolute(path).parent_path().filename()
               : std::filesystem::absolute(path).lexically_normal().filename();
  return path.stem().string();
}

/// SIGTERM and SIGINT, blocked in every thread from the start (MPI starts
/// threads of its own) and taken by one waiting thread.
sigset_t stopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

int runServer(Options o, const CLI::App &app, Communicator &comm) {
  // Rank 0 answers HTTP and schedules; the other ranks of a multi-rank plan
  // replay its engine calls (followScheduler).
  const bool lead = comm.rank() == 0;
  if (!lead)
    o.quiet = true;
  if (o.threads > 0)
    setenv("MOELA_NUM_THREADS", std::to_string(o.threads).c_str(), 1);

  const std::string given = o.plan;
  if (std::filesystem::is_directory(o.plan) && o.weights.empty() &&
      !o.randomWeights)
    o.weights = o.plan;
  std::optional<std::string> planFile =
      runtool::planFromCheckpoint(o.plan, o.compile, o.quiet, "moela-serve");
  if (!planFile)
    return 1; // the compiler said why
  Plan plan = Plan::load(*planFile);
  if (plan.worldSize() != comm.size())
    fail(*planFile, " was compiled for ", plan.worldSize(), " ranks (--tp ",
         plan.worldSize(), ") but ",
         comm.size() == 1
             ? "was started alone: start it with mpirun -n " +
                   std::to_string(plan.worldSize()) + " moela-serve ..."
             : "mpirun started " + std::to_string(comm.size()));
  const ModelConfig &config = plan.config();
  if (o.weights.empty() == !o.randomWeights)
    fail("give exactly one of --weights DIR and --random-weights");
  std::string defaults = runtool::applyGenerationConfig(
      app, o.weights, o.temperature, o.topK, o.topP);
  if (!defaults.empty() && !o.quiet)
    std::cerr << "moela-serve: sampling defaults: " << defaults << "\n";

  std::unique_ptr<Tokenizer> tokenizer;
  if (lead)
    tokenizer = runtool::openTokenizer(o, config);
  const int context = runtool::contextLength(o, config);
  const int decodeBatch = plan.program(abi::kDecode).max_tokens();
  const int slots = o.maxRunning > 0 ? o.maxRunning : decodeBatch;
  if (slots > decodeBatch)
    fail("--max-running ", slots, " exceeds the plan's decode batch of ",
         decodeBatch, " (recompile with a larger --max-batch)");

  std::unique_ptr<WeightSource> weights = o.randomWeights
                                              ? makeRandomWeights(o.weightsSeed)
                                              : openCheckpoint(o.weights);
  std::string note;
  std::unique_ptr<Backend> backend =
      createBackend(parseBackendChoice(o.backend), plan, &note, &comm);
  if (!note.empty() && !o.quiet)
    std::cerr << "moela-serve: " << note << "\n";
  runtool::LoadProgress progress(
      *weights, o.randomWeights ? 0 : runtool::checkpointBytes(o.weights),
      o.quiet, "moela-serve");
  Engine engine(plan, *backend, progress, slots, context,
                {o.kvPages, !o.noPrefixCaching});
  progress.finish();
  if (!lead) {
    followScheduler(engine, comm);
    return 0;
  }

  serve::ServedModel model;
  model.name = modelName(o, given);
  model.tokenizer = tokenizer.get();
  model.contextLength = context;
  model.defaults = {o.temperature, o.topK, o.topP, 0};
  model.renderChat = [&](const nlohmann::ordered_json &messages,
                         const nlohmann::ordered_json &variables,
                         bool addGenerationPrompt) {
    return tokenizer->renderChatTemplate(messages.dump(), addGenerationPrompt,
                                         variables.dump());
  };

  Scheduler scheduler(
      engine, static_cast<int32_t>(config.eosTokenId),
      plan.program(abi::kPrefill).max_tokens(),
      {o.maxStepTokens, !o.noPrefixCaching, comm.size() > 1 ? &comm : nullptr});
  serve::Metrics metrics;
  serve::HttpApi api(scheduler, model, metrics, o.verbose && !o.quiet);
  httplib::Server server;
  const int httpThreads = o.httpThreads;
  server.new_task_queue = [httpThreads] {
    return new httplib::ThreadPool(size_t(httpThreads));
  };
  server.set_keep_alive_timeout(2);
  api.install(server);

  // cpp-httplib listens with a backlog of 5: a burst of clients would wait
  // for SYN retries (seconds). Listening again on the same socket raises it.
  int listening = -1;
  server.set_socket_options([&listening](int sock) {
    httplib::default_socket_options(sock);
    listening = sock;
  });
  int port = o.port;
  if (port == 0)
    port = server.bind_to_any_port(o.host);
  else if (!server.bind_to_port(o.host, port))
    port = -1;
  if (port < 0)
    fail("cannot listen on ", o.host, ":", o.port,
         " (in use, or not an address of this machine)");
  if (listening >= 0)
    ::listen(listening, SOMAXCONN);

  std::atomic<bool> drained{false}, ending{false};
  std::thread loop([&] {
    scheduler.run();
    drained = true;
  });
  std::thread signals([&] {
    int signal = 0;
    const sigset_t set = stopSignals();
    sigwait(&set, &signal);
    if (ending)
      return; // woken by main to end
    if (!o.quiet)
      std::cerr << "moela-serve: " << (signal == SIGTERM ? "SIGTERM" : "SIGINT")
                << ": draining the requests in flight\n";
    // New requests get 503 from now on; the requests in flight finish and
    // their answers are written out before the server stops (stop() would
    // cut a stream short).
    scheduler.shutdown();
    while (!drained)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    api.waitForResponses(std::chrono::seconds(30));
    server.stop();
  });
  // The address, for people and for scripts that started it with --port 0.
  std::cout << "moela-serve: serving '" << model.name << "' on http://"
            << o.host << ":" << port << " (pid " << getpid() << ", "
            << backend->name() << " backend"
            << (comm.size() > 1
                    ? " on " + std::to_string(comm.size()) + " ranks"
                    : std::string())
            << ", " << slots << " sequences, context " << context << ", "
            << engine.pagesTotal() << " KV pages of " << engine.pageTokens()
            << " tokens)" << std::endl;
  server.listen_after_bind();
  scheduler.shutdown();
  loop.join();
  ending = true;
  pthread_kill(signals.native_handle(), SIGTERM);
  signals.join();
  if (!o.quiet)
    std::cerr << "moela-serve: drained, bye\n";
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  Options o;
  CLI::App app{"moela-serve: an OpenAI-compatible server for a moela plan"};
  app.option_defaults()->always_capture_default();
  runtool::addModelFlags(app, o);
  app.add_option("--host", o.host, "Address to listen on")->group("Server");
  app.add_option("--port", o.port, "Port (0: any free port, printed)")
      ->check(CLI::Range(0, 65535))
      ->group("Server");
  app.add_option("--served-model-name", o.servedModelName,
                 "The model name clients pass (default: the checkpoint "
                 "folder's or plan's name)")
      ->group("Server");
  app.add_option("--http-threads", o.httpThreads,
                 "Connections served at once (streams hold one each)")
      ->check(CLI::PositiveNumber)
      ->group("Server");
  app.add_option("--max-running", o.maxRunning,
                 "Sequences decoded together (default: the plan's "
                 "--max-batch)")
      ->check(CLI::NonNegativeNumber)
      ->group("Scheduling");
  app.add_option("--max-step-tokens", o.maxStepTokens,
                 "Prompt tokens prefilled per step; longer prompts go in "
                 "chunks between decode steps (default: the plan's "
                 "--max-prefill-tokens)")
      ->check(CLI::NonNegativeNumber)
      ->group("Scheduling");
  app.add_flag("--no-prefix-caching", o.noPrefixCaching,
               "Do not share the KV pages of common prompt prefixes")
      ->group("Scheduling");
  app.add_option("--temperature", o.temperature,
                 "Default for requests without one (OpenAI's: 1)")
      ->group("Sampling defaults");
  app.add_option("--top-k", o.topK, "Default top_k (0: off)")
      ->group("Sampling defaults");
  app.add_option("--top-p", o.topP, "Default top_p")
      ->group("Sampling defaults");
  app.add_flag("-q,--quiet", o.quiet,
               "Nothing on stderr but errors (the address line stays on "
               "stdout); beats -v")
      ->group("Output");
  app.add_flag("-v,--verbose", o.verbose,
               "A line on stderr per finished request: tokens, time to first "
               "token, tokens/s, finish reason")
      ->group("Output");
  runtool::addRuntimeFlags(app, o);
  if (std::optional<int> exit =
          cli::parseCommandLine(app, argc, argv, "moela-serve", [] {
            return cli::versionText("moela-serve", {cli::cudaDriverLine()});
          }))
    return *exit;
  const sigset_t set = stopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Under an MPI launcher every process is one rank of the server.
  std::unique_ptr<Communicator> comm;
  try {
    comm = makeLaunchedCommunicator();
  } catch (const std::exception &e) {
    std::cerr << "moela-serve: " << e.what() << "\n";
    return 1;
  }
  try {
    return runServer(o, app, *comm);
  } catch (const std::exception &e) {
    // One rank's error ends them all (the others may wait in a collective).
    if (comm->size() > 1)
      comm->abort(e.what());
    std::cerr << "moela-serve: " << e.what() << "\n";
    return 1;
  }
}
