//===- YarnTest.cpp - YaRN edge cases against the reference's numbers -----===//
//
// test/data/yarn/edge-cases.json holds what Hugging Face's and DeepSeek's
// YaRN compute (written by yarn_reference.py beside it) for the edges a
// config can reach: factor 1 and below, equal, zero-width and swapped betas,
// mscale 0 or missing, mscale_all_dim missing, the original context missing
// or equal to max_position_embeddings. Each must load, and moela's tables
// (the runtime's ropeInvFreq, ropeMagnitude and ModelConfig::softmaxScale)
// must match.
//
//===----------------------------------------------------------------------===//
#include "ConfigTestUtil.h"
#include "moela/Runtime/Rope.h"

#include "llvm/Support/MemoryBuffer.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace moela;
using namespace moela::configtest;

namespace {

json::Value loadCases() {
  auto buffer = llvm::MemoryBuffer::getFile(MOELA_SOURCE_DIR
                                            "/test/data/yarn/edge-cases.json");
  if (!buffer) {
    ADD_FAILURE() << "cannot read edge-cases.json";
    return nullptr;
  }
  llvm::Expected<json::Value> value = json::parse((*buffer)->getBuffer());
  if (!value) {
    ADD_FAILURE() << llvm::toString(value.takeError());
    return nullptr;
  }
  return std::move(*value);
}

double numberAt(const json::Object &o, llvm::StringRef key) {
  std::optional<double> d = o.getNumber(key);
  EXPECT_TRUE(d.has_value()) << key.str();
  return d.value_or(NAN);
}

TEST(YarnTest, EdgeCasesComputeWhatTheReferenceComputes) {
  json::Value root = loadCases();
  const json::Object *top = root.getAsObject();
  ASSERT_NE(top, nullptr);
  const json::Array *cases = top->getArray("cases");
  ASSERT_NE(cases, nullptr);
  ASSERT_GE(cases->size(), 10u);
  for (const json::Value &value : *cases) {
    const json::Object &c = *value.getAsObject();
    std::string name = c.getString("name")->str();
    SCOPED_TRACE(name);
    Mutation m =
        all({set("qk_rope_head_dim", *c.get("qk_rope_head_dim")),
             set("qk_nope_head_dim", *c.get("qk_nope_head_dim")),
             set("rope_theta", *c.get("rope_theta")),
             set("max_position_embeddings", *c.get("max_position_embeddings")),
             set("rope_scaling", *c.get("rope_scaling"))});
    ModelConfig config = parseOk(mutatedConfig(m));
    ASSERT_TRUE(config.yarn.enabled);

    RopeSpec spec = RopeSpec::fromModel(config);
    std::vector<float> invFreq = ropeInvFreq(spec);
    const json::Array &want = *c.getArray("inv_freq");
    ASSERT_EQ(invFreq.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) {
      double w = *want[i].getAsNumber();
      // float tables against float64 ones: a few ulps.
      EXPECT_NEAR(invFreq[i], w, 4e-7 * w) << "inv_freq[" << i << "]";
    }
    double magnitude = numberAt(c, "magnitude");
    EXPECT_NEAR(ropeMagnitude(spec), magnitude, 1e-6 * magnitude);
    double scale = numberAt(c, "softmax_scale");
    EXPECT_NEAR(config.softmaxScale(), scale, 1e-12 * scale);
  }
}

} // namespace
