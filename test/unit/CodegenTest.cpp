//===- CodegenTest.cpp - Every kernel of every config compiles for sm_90a -===//
//
// No GPU needed: moela-compile's driver emits and NVRTC-compiles the kernels
// of the tiny configs and of the full DeepSeek-V3 and V2-Lite configs; the
// plan must give every step a kernel with a cubin, and the ptxas report must
// show no spills and at most 255 registers (the GEMM and attention kernels
// are the ones at risk).
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include <set>

using namespace moela;
using namespace moela::test;

namespace {

/// One cache in the build tree for every test process (ctest runs each case
/// alone): configs share most of their kernels.
std::string cacheDir() { return MOELA_TEST_KERNEL_CACHE; }

class CodegenTest : public testing::TestWithParam<std::string> {};

/// A model of models/, with ":w8a8" for FP8 activations (docs/model.md §3.4).
TEST_P(CodegenTest, EveryStepHasASpillFreeSm90aKernel) {
  const std::string model = GetParam().substr(0, GetParam().find(':'));
  const bool w8a8 = GetParam().find(":w8a8") != std::string::npos;
  std::string config =
      std::string(MOELA_SOURCE_DIR) + "/models/" + model + "/config.json";
  std::string path = compilePlan(config, "sm_90a", {}, 2048, cacheDir(),
                                 w8a8 ? "fp8" : "bf16");
  ASSERT_FALSE(testing::Test::HasFailure());

  Plan plan = Plan::load(path);
  const auto *kernels = plan.root().kernels();
  ASSERT_NE(kernels, nullptr);
  ASSERT_GT(kernels->size(), 0u);
  std::set<std::string> families;
  bool fp8Activations = false;
  for (const plan::Kernel *k : *kernels) {
    fp8Activations |=
        k->source()->str().find("gemm<__nv_fp8_e4m3") != std::string::npos;
    SCOPED_TRACE(k->name()->str());
    families.insert(k->family()->str());
    EXPECT_EQ(k->arch()->str(), "sm_90a");
    ASSERT_NE(k->cubin(), nullptr);
    EXPECT_GT(k->cubin()->size(), 0u);
    EXPECT_EQ(k->spill_bytes(), 0) << "ptxas spilled registers";
    EXPECT_GT(k->registers(), 0);
    EXPECT_LE(k->registers(), 255);
    EXPECT_NE(k->source()->str().find(k->name()->str()), std::string::npos);
  }
  for (const plan::Program *program : *plan.root().programs())
    for (const plan::Step *step : *program->steps()) {
      ASSERT_GE(step->kernel(), 0) << step->name()->str();
      ASSERT_LT(step->kernel(), static_cast<int>(kernels->size()));
    }
  // The fused default pipeline's families are all there.
  for (const char *family :
       {"gemm", "grouped_gemm", "head_gemm", "latent_attention", "kv_append",
        "rms_norm", "route", "dispatch", "combine", "embedding", "gather_rows"})
    EXPECT_TRUE(families.count(family)) << family;
  EXPECT_EQ(fp8Activations, w8a8) << "GEMMs with FP8 A exactly in W8A8 plans";
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Models, CodegenTest,
                         testing::Values("tiny", "tiny-v2", "tiny-v2-lite",
                                         "tiny-v3-fp8", "tiny-v3-fp8:w8a8",
                                         "deepseek-v3", "deepseek-v3:w8a8",
                                         "deepseek-v2-lite"),
                         [](const testing::TestParamInfo<std::string> &info) {
                           std::string name = info.param;
                           for (char &c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c)))
                               c = '_';
                           return name;
                         });

/// The same kernels come back from the cache, identical.
TEST(CodegenCache, WarmCompileReusesCubins) {
  std::string config =
      std::string(MOELA_SOURCE_DIR) + "/models/tiny/config.json";
  std::string first = compilePlan(config, "sm_90a"),
              second = compilePlan(config, "sm_90a");
  Plan a = Plan::load(first), b = Plan::load(second);
  ASSERT_EQ(a.root().kernels()->size(), b.root().kernels()->size());
  for (size_t i = 0; i < a.root().kernels()->size(); ++i) {
    const plan::Kernel *ka = a.root().kernels()->Get(i),
                       *kb = b.root().kernels()->Get(i);
    EXPECT_EQ(ka->name()->str(), kb->name()->str());
    ASSERT_EQ(ka->cubin()->size(), kb->cubin()->size());
    EXPECT_TRUE(std::equal(ka->cubin()->begin(), ka->cubin()->end(),
                           kb->cubin()->begin()));
  }
}

} // namespace
