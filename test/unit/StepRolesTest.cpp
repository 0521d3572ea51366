//===- StepRolesTest.cpp - Writer, verifier, dump and backends agree ------===//
//
// Every step family's operands are declared once (StepFamilies.cpp). This
// test compiles plans that together hold every family, then watches which
// roles each consumer reads (setRoleAuditHook): the plan verifier's family
// rules, --dump-plan and the host backend must each read exactly the roles
// the declaration gives the step's parameters, no more (reading an undeclared
// role throws) and no fewer. The plan writer must set exactly those roles
// (the written plan is verified on the spot), and the roles that name a
// program input must be views of that input. The CUDA backend is held to the
// same rule by moela-gpu-plan-test (PlanEmuTest on the emulated driver).
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"
#include "ShardedModel.h"

#include "kernels/Abi.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/HostBackend.h"
#include "moela/Runtime/StepFamily.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>

namespace moela::test {
namespace {

const std::string kFixture = std::string(MOELA_TEST_DATA) + "/v3_a";

/// What the audit hook saw, per consumer.
struct Observed {
  std::set<plan::StepParams> families;
  std::set<std::string> disagreements;
};
std::map<std::string, Observed> &observed() {
  static std::map<std::string, Observed> all;
  return all;
}

std::string roles(RoleSet set) {
  std::string s;
  for (int r = 0; r < kNumRoles; ++r)
    if (set & roleBit(Role(r)))
      s += (s.empty() ? "" : ", ") + std::string(roleName(Role(r)));
  return "[" + s + "]";
}

void record(const StepOperands::Audit &a) {
  Observed &o = observed()[a.consumer];
  o.families.insert(a.family);
  const char *lists[] = {"inputs", "outputs", "weights"};
  for (int i = 0; i < 3; ++i)
    if (a.read[i] != a.present[i]) {
      std::ostringstream os;
      os << "the " << a.consumer << " reads " << lists[i] << " "
         << roles(a.read[i]) << " of a " << stepFamilyName(a.family)
         << " step that has " << roles(a.present[i]);
      o.disagreements.insert(os.str());
    }
}

/// The plan variants that together hold every step family.
struct Variant {
  std::string name;
  std::vector<std::string> disable;
  bool mtp = false;
};

std::string compileVariant(const Variant &v) {
  CompileOptions options;
  options.input = kFixture + "/config.json";
  options.target = "host";
  options.disable = v.disable;
  options.maxPrefillTokens = 16;
  options.maxBatch = 8;
  options.mtp = v.mtp;
  return compilePlan(options);
}

/// Prefill (fresh), extend (continuation) and decode steps of 3 sequences.
void runOnHost(const Plan &plan) {
  std::unique_ptr<WeightSource> weights = makeRandomWeights(3);
  std::unique_ptr<Backend> backend = makeHostBackend();
  Engine engine(plan, *backend, *weights, 3, 64);
  engine.feed({{1, 2, 3, 4}, {5, 6}, {7, 8, 9}});
  engine.feed({{10, 11}, {12, 13, 14}, {15, 16}});
  engine.feed({{17}, {18}, {19}});
}

class StepRoles : public testing::Test {
protected:
  void SetUp() override {
    observed().clear();
    setRoleAuditHook(&record);
  }
  void TearDown() override { setRoleAuditHook(nullptr); }
};

TEST_F(StepRoles, EveryConsumerReadsExactlyTheDeclaredRoles) {
  const std::vector<Variant> variants = {
      {"default", {}},
      {"mtp", {}, true},
      {"unfused",
       {"moela-fuse-rope", "moela-fuse-swiglu", "moela-fuse-add-norm",
        "moela-fuse-router", "moela-moe-dispatch", "moela-mla-absorb",
        "moela-mla-expand-prefill", "moela-fuse-qkv-a",
        "moela-mla-fuse-kv-append"}},
  };
  for (const Variant &v : variants) {
    SCOPED_TRACE(v.name);
    Plan plan = Plan::load(compileVariant(v));
    std::ostringstream text, json;
    dumpPlan(plan, text);
    dumpPlanJson(plan, json);
    runOnHost(plan);
  }
  // The collectives: a hand-built plan until the compiler writes sharded
  // ones (ShardedModel.h; a world of one, whose collectives are copies).
  {
    const std::vector<uint8_t> bytes = shardedModel(1).build();
    Plan plan = Plan::fromBytes(bytes, "sharded.plan");
    std::ostringstream text, json;
    dumpPlan(plan, text);
    dumpPlanJson(plan, json);
    runOnHost(plan);
  }

  for (const char *who : {"plan verifier", "--dump-plan", "host backend"}) {
    const Observed &o = observed()[who];
    for (const std::string &d : o.disagreements)
      ADD_FAILURE() << d;
    std::vector<std::string> missing;
    for (const StepFamily &f : stepFamilies())
      if (!o.families.count(f.type))
        missing.push_back(f.name);
    EXPECT_TRUE(missing.empty())
        << who << " never saw " << testing::PrintToString(missing);
  }
}

TEST_F(StepRoles, ProgramInputRolesAreViewsOfThoseInputs) {
  Plan plan = Plan::load(compileVariant({"mtp", {}, true}));
  for (const plan::Program *program : *plan.root().programs())
    for (const plan::Step *step : *program->steps()) {
      const StepOperands ops(*step, "test");
      for (auto [role, input] : {std::pair{Role::Positions, abi::kPositions},
                                 std::pair{Role::SeqIds, abi::kSeqIds},
                                 std::pair{Role::LogitRows, abi::kLogitRows}})
        if (ops.hasIn(role))
          EXPECT_EQ(ops.in(role).buffer(), program->inputs()->Get(input))
              << program->name()->str() << " step " << step->name()->str()
              << " reads " << roleName(role) << " elsewhere";
    }
}

TEST(StepFamilies, DeclaredOnceEach) {
  std::set<plan::StepParams> seen;
  for (const StepFamily &f : stepFamilies()) {
    EXPECT_TRUE(seen.insert(f.type).second) << f.name << " declared twice";
    EXPECT_STREQ(stepFamilyName(f.type), f.name);
    for (Role r : f.inPlace) {
      bool isInput = false;
      for (const OperandDecl &d : f.inputs)
        isInput |= d.role == r;
      EXPECT_TRUE(isInput) << f.name << ": in-place role " << roleName(r)
                           << " is no input";
    }
  }
  // Every member of the plan's StepParams union has a declaration.
  for (int t = 1; t <= int(plan::StepParams::MAX); ++t)
    EXPECT_TRUE(seen.count(plan::StepParams(t)))
        << plan::EnumNameStepParams(plan::StepParams(t)) << " undeclared";
}

TEST(StepFamilies, ReadingAnUndeclaredRoleFails) {
  Plan plan = Plan::load(compileVariant({"default", {}}));
  const plan::Step &embed = *plan.program(abi::kDecode).steps()->Get(0);
  const StepOperands ops(embed, "test");
  EXPECT_EQ(ops.family().type, plan::StepParams::EmbeddingParams);
  EXPECT_THROW(ops.in(Role::Positions), Error);
  EXPECT_THROW(ops.weight(Role::Matrix), Error);
  EXPECT_NO_THROW(ops.in(Role::Tokens));
}

} // namespace
} // namespace moela::test
