//===- EngineMirror.cpp - Rank 0's engine calls, replayed by the others ---===//
#include "engine/EngineMirror.h"

#include "kernels/Abi.h"
#include "moela/Runtime/Communicator.h"
#include "moela/Runtime/Engine.h"

#include <cstdlib>

namespace moela {

namespace {

/// A message is [op, ...]: Reset [slot], ReusePrefix [slot, tokens...],
/// Feed [slots, length of each, tokens of each..., kRowWords per slot],
/// Stop [].
enum class Op : int32_t { Reset, ReusePrefix, Feed, Stop };

constexpr size_t kRowWords = abi::kSamplingWords; // one RowSampling

/// The tokens of a Feed message, and `next` set to the word after them.
std::vector<std::vector<int32_t>> feedOf(const std::vector<int32_t> &m,
                                         size_t &next) {
  std::vector<std::vector<int32_t>> feed(static_cast<size_t>(m.at(1)));
  next = 2 + feed.size();
  for (size_t b = 0; b < feed.size(); ++b) {
    const size_t length = static_cast<size_t>(m.at(2 + b));
    feed[b].assign(m.begin() + next, m.begin() + next + length);
    next += length;
  }
  return feed;
}

} // namespace

void EngineMirror::send(const std::vector<int32_t> &message) {
  int64_t length = static_cast<int64_t>(message.size());
  comm.broadcast(&length, sizeof(length), 0);
  comm.broadcast(const_cast<int32_t *>(message.data()),
                 message.size() * sizeof(int32_t), 0);
}

std::vector<int32_t> EngineMirror::receive() {
  int64_t length = 0;
  comm.broadcast(&length, sizeof(length), 0);
  std::vector<int32_t> message(static_cast<size_t>(length));
  comm.broadcast(message.data(), message.size() * sizeof(int32_t), 0);
  return message;
}

void EngineMirror::reset(int slot) { send({int32_t(Op::Reset), slot}); }

void EngineMirror::reusePrefix(int slot, const std::vector<int32_t> &tokens) {
  std::vector<int32_t> m = {int32_t(Op::ReusePrefix), slot};
  m.insert(m.end(), tokens.begin(), tokens.end());
  send(m);
}

void EngineMirror::feedAndSample(
    const std::vector<std::vector<int32_t>> &tokens,
    const std::vector<RowSampling> &rows) {
  std::vector<int32_t> m = {int32_t(Op::Feed), int32_t(tokens.size())};
  for (const auto &t : tokens)
    m.push_back(static_cast<int32_t>(t.size()));
  for (const auto &t : tokens)
    m.insert(m.end(), t.begin(), t.end());
  for (const RowSampling &r : rows) {
    m.resize(m.size() + kRowWords);
    samplingWords(r, &m[m.size() - kRowWords]);
  }
  send(m);
}

void EngineMirror::stop() { send({int32_t(Op::Stop)}); }

void EngineMirror::abort(const std::string &message) {
  comm.abort(message);
  std::abort(); // not reached: Communicator::abort does not return
}

void EngineMirror::follow(Engine &engine) {
  while (true) {
    const std::vector<int32_t> m = receive();
    try {
      switch (static_cast<Op>(m.at(0))) {
      case Op::Reset:
        engine.reset(m.at(1));
        break;
      case Op::ReusePrefix:
        engine.reusePrefix(m.at(1),
                           std::vector<int32_t>(m.begin() + 2, m.end()));
        break;
      case Op::Feed: {
        size_t next = 0;
        const std::vector<std::vector<int32_t>> feed = feedOf(m, next);
        std::vector<RowSampling> rows;
        for (; next + kRowWords <= m.size(); next += kRowWords)
          rows.push_back(rowSampling(&m.at(next)));
        engine.feedAndSample(feed, rows);
        break;
      }
      case Op::Stop:
        return;
      }
    } catch (const std::exception &e) {
      comm.abort(e.what());
    }
  }
}

} // namespace moela
