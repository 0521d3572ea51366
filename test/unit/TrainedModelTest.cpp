//===- TrainedModelTest.cpp - models/tiny-kjv against its trainer ---------===//
//
// models/tiny-kjv was trained by tools/train-tiny (PyTorch), whose model is
// written from docs/model.md independently of moela. test/data/tiny-kjv holds
// the trainer's own logits (float64 from the stored BF16 weights, saved as
// f32) on two stretches of held-out text, so CI needs no PyTorch:
//  - the host backend's logits, after a prefill and after every decode step
//    (absorbed attention from the cache), are within 1e-3 of the trainer's
//    with the same argmax;
//  - a whole-sequence prefill gives the same last row;
//  - the MTP module's logits of the independent oracle (test/reference,
//    itself held to the host backend by MtpTest) are within 1e-3 of the
//    trainer's MTP head: the module moela drafts with is the one trained.
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include "SpecReference.h"

#include "host/HostBackend.h"

#include "moela/Runtime/Safetensors.h"

#include <cstring>

using namespace moela;
using namespace moela::test;

namespace {

const std::string kModel = std::string(MOELA_SOURCE_DIR) + "/models/tiny-kjv";
const std::string kData = std::string(MOELA_TEST_DATA) + "/tiny-kjv";

/// The trainer's reference: ids [B, T], logits [B, T, V], mtp [B, T-1, V].
struct TrainerReference {
  int64_t batch = 0, tokens = 0, vocab = 0;
  std::vector<int32_t> ids;
  std::vector<float> logits, mtp;

  int32_t id(int64_t b, int64_t t) const { return ids[b * tokens + t]; }
  const float *logitRow(int64_t b, int64_t t) const {
    return logits.data() + (b * tokens + t) * vocab;
  }
  const float *mtpRow(int64_t b, int64_t t) const {
    return mtp.data() + (b * (tokens - 1) + t) * vocab;
  }
};

template <typename T> std::vector<T> copyOut(const TensorView &view) {
  std::vector<T> out(size_t(view.numel()));
  std::memcpy(out.data(), view.data, out.size() * sizeof(T));
  return out;
}

TrainerReference loadReference() {
  auto file = SafetensorsFile::open(kData + "/reference.safetensors");
  TrainerReference ref;
  TensorView ids = file->tensor("ids"), logits = file->tensor("logits"),
             mtp = file->tensor("mtp_logits");
  EXPECT_EQ(ids.dtype, DType::I32);
  ref.batch = ids.shape[0];
  ref.tokens = ids.shape[1];
  ref.vocab = logits.shape[2];
  EXPECT_EQ(logits.shape,
            (std::vector<int64_t>{ref.batch, ref.tokens, ref.vocab}));
  EXPECT_EQ(mtp.shape,
            (std::vector<int64_t>{ref.batch, ref.tokens - 1, ref.vocab}));
  ref.ids = copyOut<int32_t>(ids);
  ref.logits = copyOut<float>(logits);
  ref.mtp = copyOut<float>(mtp);
  return ref;
}

template <typename A, typename B>
double maxDiff(const A *got, const B *want, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < n; ++i)
    worst = std::max(worst, std::abs(double(got[i]) - double(want[i])));
  return worst;
}

template <typename T> int64_t argmaxOf(const T *row, int64_t n) {
  return std::max_element(row, row + n) - row;
}

TEST(TrainedModel, HostLogitsMatchTheTrainerAfterPrefillAndEveryDecodeStep) {
  const TrainerReference ref = loadReference();
  Plan plan = Plan::load(compilePlan(kModel + "/config.json", "host"));
  ASSERT_EQ(plan.config().vocabSize, ref.vocab);
  std::unique_ptr<WeightSource> weights = openCheckpoint(kModel);
  HostBackend backend;
  Engine engine(plan, backend, *weights, int(ref.batch), 64);

  // Prefill BOS and the first token, then one decode step per token.
  std::vector<std::vector<int32_t>> step(ref.batch);
  for (int64_t b = 0; b < ref.batch; ++b)
    step[b] = {ref.id(b, 0), ref.id(b, 1)};
  double worst = 0;
  for (int64_t t = 1; t < ref.tokens; ++t) {
    std::vector<std::vector<float>> got = engine.feed(step);
    for (int64_t b = 0; b < ref.batch; ++b) {
      const double diff = maxDiff(got[b].data(), ref.logitRow(b, t), ref.vocab);
      worst = std::max(worst, diff);
      EXPECT_LE(diff, 1e-3) << "sequence " << b << " position " << t;
      EXPECT_EQ(argmaxOf(got[b].data(), ref.vocab),
                argmaxOf(ref.logitRow(b, t), ref.vocab))
          << "sequence " << b << " position " << t;
      if (t + 1 < ref.tokens)
        step[b] = {ref.id(b, t + 1)};
    }
  }
  std::printf("host vs trainer: max |dlogit| %.2e over %lld positions\n", worst,
              static_cast<long long>(ref.batch * (ref.tokens - 1)));
}

TEST(TrainedModel, WholeSequencePrefillGivesTheTrainersLastRow) {
  const TrainerReference ref = loadReference();
  Plan plan = Plan::load(compilePlan(kModel + "/config.json", "host"));
  std::unique_ptr<WeightSource> weights = openCheckpoint(kModel);
  HostBackend backend;
  Engine engine(plan, backend, *weights, int(ref.batch), 64);
  std::vector<std::vector<int32_t>> prompts(ref.batch);
  for (int64_t b = 0; b < ref.batch; ++b)
    prompts[b].assign(ref.ids.begin() + b * ref.tokens,
                      ref.ids.begin() + (b + 1) * ref.tokens);
  std::vector<std::vector<float>> got = engine.feed(prompts);
  for (int64_t b = 0; b < ref.batch; ++b)
    EXPECT_LE(
        maxDiff(got[b].data(), ref.logitRow(b, ref.tokens - 1), ref.vocab),
        1e-3)
        << "sequence " << b;
}

TEST(TrainedModel, MtpModuleMatchesTheTrainersMtpHead) {
  const TrainerReference ref = loadReference();
  std::unique_ptr<WeightSource> weights = openCheckpoint(kModel);
  spec::SpecReference oracle(spec::loadSpecConfig(kModel + "/config.json"),
                             *weights, /*withMtp=*/true);
  for (int64_t b = 0; b < ref.batch; ++b) {
    std::vector<int64_t> tokens(ref.ids.begin() + b * ref.tokens,
                                ref.ids.begin() + (b + 1) * ref.tokens);
    std::vector<std::vector<double>> want = oracle.mtpLogits(tokens);
    ASSERT_EQ(int64_t(want.size()), ref.tokens - 1);
    int agree = 0;
    for (int64_t t = 0; t + 1 < ref.tokens; ++t) {
      EXPECT_LE(maxDiff(ref.mtpRow(b, t), want[t].data(), ref.vocab), 1e-3)
          << "sequence " << b << " row " << t;
      agree += argmaxOf(ref.mtpRow(b, t), ref.vocab) ==
               argmaxOf(want[t].data(), ref.vocab);
    }
    EXPECT_EQ(agree, ref.tokens - 1) << "sequence " << b;
  }
}

} // namespace
