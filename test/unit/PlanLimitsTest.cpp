//===- PlanLimitsTest.cpp - Sizes a plan declares are proven, not trusted -===//
//
// The tiny model's compiled plan, mutated one field at a time the way a
// fuzzer or a hostile user would: every buffer size that disagrees with its
// rows, columns and dtype, lies outside the arena or exceeds the activation
// limit, and every step parameter whose arithmetic would wrap, is refused by
// the verifier with one line naming the buffer (or step) and the numbers,
// before any backend allocates anything.
//
//===----------------------------------------------------------------------===//
#include "PipelineTestUtil.h"

#include "moela/Runtime/Plan.h"

#include <gtest/gtest.h>

#include <climits>
#include <fstream>
#include <iterator>

namespace moela::test {
namespace {

/// The tiny model's host plan (decode: max_tokens = max_logit_rows = 8),
/// compiled once.
const std::vector<uint8_t> &tinyPlan() {
  static const std::vector<uint8_t> bytes = [] {
    const std::string path = compilePlan(
        std::string(MOELA_SOURCE_DIR) + "/models/tiny/config.json", "host");
    std::ifstream in(path, std::ios::binary);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  }();
  return bytes;
}

/// Overwrites a scalar field the writer stored (non-default) in place.
template <typename T>
void setField(const void *table, flatbuffers::voffset_t field, T value) {
  auto *t = const_cast<flatbuffers::Table *>(
      reinterpret_cast<const flatbuffers::Table *>(table));
  ASSERT_TRUE(t->SetField<T>(field, value)) << "field not stored";
}

/// A copy of the tiny plan, its decode program and the first buffer named
/// `name` in it (with its index).
struct Mutant {
  std::vector<uint8_t> bytes = tinyPlan();
  const plan::Plan &root() const { return *plan::GetPlan(bytes.data()); }
  const plan::Program &program(const char *name = "decode") const {
    for (const plan::Program *p : *root().programs())
      if (p->name()->str() == name)
        return *p;
    ADD_FAILURE() << "no program " << name;
    return *root().programs()->Get(0);
  }
  const plan::Buffer &buffer(const std::string &name, size_t *index = nullptr,
                             const char *programName = "decode") const {
    const auto &buffers = *program(programName).buffers();
    for (size_t i = 0; i < buffers.size(); ++i)
      if (buffers.Get(i)->name()->str() == name) {
        if (index)
          *index = i;
        return *buffers.Get(i);
      }
    ADD_FAILURE() << "no buffer " << name;
    return *buffers.Get(0);
  }
  /// The error loading gives ("" when it loads).
  std::string error() const { return verifyPlanBytes(bytes, "tiny.plan"); }
};

TEST(PlanLimits, TheTinyPlanLoads) {
  Mutant m;
  EXPECT_EQ(m.error(), "");
  // The rule the writer follows, on one buffer: 8 rows x 129280 F32.
  const plan::Buffer &logits = m.buffer("head");
  EXPECT_EQ(logits.bytes(), 8u * 129280u * 4u);
}

TEST(PlanLimits, BytesMustMatchRowsColsAndDtype) {
  {
    Mutant m; // cols x 1000, bytes left alone
    size_t i;
    const plan::Buffer &b = m.buffer("head.rows", &i);
    setField<int64_t>(&b, plan::Buffer::VT_COLS, 64000);
    EXPECT_EQ(m.error(), "tiny.plan: program 'decode': buffer " +
                             std::to_string(i) +
                             " 'head.rows' declares 2048 bytes, but 8 rows "
                             "(row_factor x max_logit_rows 8) x 64000 "
                             "columns of F32 take 2048000 (rounded up to 256)");
  }
  {
    Mutant m; // a row factor of 10^7: 20 GB of activations on the host
    size_t i;
    const plan::Buffer &b = m.buffer("layers.1.moe.experts#0", &i);
    setField<int64_t>(&b, plan::Buffer::VT_ROW_FACTOR, 10'000'000);
    EXPECT_EQ(m.error(), "tiny.plan: program 'decode': buffer " +
                             std::to_string(i) +
                             " 'layers.1.moe.experts#0' declares 4096 bytes, "
                             "but 80000000 rows (row_factor x max_tokens 8) "
                             "x 64 columns of F32 take 20480000000 (rounded "
                             "up to 256)");
  }
  {
    Mutant m; // bytes alone
    size_t i;
    const plan::Buffer &b = m.buffer("head.rows", &i);
    setField<uint64_t>(&b, plan::Buffer::VT_BYTES, 1ull << 40);
    EXPECT_NE(m.error().find("'head.rows' declares 1099511627776 bytes, but 8 "
                             "rows"),
              std::string::npos)
        << m.error();
  }
  {
    Mutant m; // max_tokens: every PerToken buffer is now the wrong size
    setField<int32_t>(&m.program(), plan::Program::VT_MAX_TOKENS, 1 << 30);
    EXPECT_NE(m.error().find("program 'decode': buffer 0 'tokens' declares "
                             "256 bytes, but 1073741824 rows (row_factor x "
                             "max_tokens 1073741824) x 1 columns of I32 take "
                             "4294967296"),
              std::string::npos)
        << m.error();
  }
  {
    Mutant m; // more logit rows than tokens
    setField<int32_t>(&m.program(), plan::Program::VT_MAX_LOGIT_ROWS, 9);
    EXPECT_EQ(m.error(), "tiny.plan: program 'decode': max_logit_rows 9 must "
                         "be in [1, max_tokens 8]");
  }
}

TEST(PlanLimits, ConsistentButHugeBuffersExceedTheLimit) {
  Mutant m; // consistent-looking sizes cannot matter: the limit comes first
  size_t i;
  const plan::Buffer &b = m.buffer("head", &i);
  setField<int64_t>(&b, plan::Buffer::VT_COLS, int64_t(1) << 40);
  EXPECT_EQ(m.error(), "tiny.plan: program 'decode': buffer " +
                           std::to_string(i) +
                           " 'head' of 8 rows (row_factor x max_logit_rows "
                           "8) x 1099511627776 columns of F32 needs "
                           "35184372088832 bytes, more than the limit of "
                           "68719476736 bytes of activations");
  // Overflowing int64 on the way is just as refused.
  setField<int64_t>(&b, plan::Buffer::VT_COLS, int64_t(1) << 62);
  EXPECT_NE(m.error().find("columns of F32 needs more than 2^63 bytes"),
            std::string::npos)
      << m.error();
}

TEST(PlanLimits, BuffersLieInTheirArena) {
  {
    Mutant m;
    size_t i;
    const plan::Buffer &b = m.buffer("head.rows", &i);
    const uint64_t offset = b.offset() + 4;
    setField<uint64_t>(&b, plan::Buffer::VT_OFFSET, offset);
    EXPECT_EQ(m.error(),
              "tiny.plan: program 'decode': buffer " + std::to_string(i) +
                  " 'head.rows' at arena offset " + std::to_string(offset) +
                  " is not a multiple of 256");
  }
  {
    Mutant m;
    size_t i;
    const plan::Buffer &b = m.buffer("head.rows", &i);
    setField<uint64_t>(&b, plan::Buffer::VT_OFFSET, m.program().arena_bytes());
    EXPECT_EQ(m.error(), "tiny.plan: program 'decode': buffer " +
                             std::to_string(i) +
                             " 'head.rows' at arena bytes [4140288, +2048) "
                             "lies outside the arena of 4140288 bytes");
    // Near 2^64 the end must not wrap back into the arena.
    setField<uint64_t>(&b, plan::Buffer::VT_OFFSET, ~uint64_t(255));
    EXPECT_NE(m.error().find("'head.rows' at arena bytes "
                             "[18446744073709551360, +2048) lies outside"),
              std::string::npos)
        << m.error();
  }
  {
    Mutant m; // an arena larger than its buffers: allocated for nothing
    setField<uint64_t>(&m.program(), plan::Program::VT_ARENA_BYTES,
                       uint64_t(60) << 30);
    EXPECT_EQ(m.error(), "tiny.plan: program 'decode': arena_bytes "
                         "64424509440 must be the end of its last buffer, "
                         "4140288");
  }
}

TEST(PlanLimits, LiveBuffersDoNotShareArenaBytes) {
  // The gathered rows moved into the logits' bytes: on the GPU they would
  // overwrite (or be overwritten by) values still live when they are.
  Mutant m;
  size_t rowsIndex;
  const plan::Buffer &rows = m.buffer("head.rows", &rowsIndex);
  const plan::Buffer &logits = m.buffer("head");
  const uint64_t offset = logits.offset() + 256;
  setField<uint64_t>(&rows, plan::Buffer::VT_OFFSET, offset);
  const std::string error = m.error();
  EXPECT_EQ(
      error.rfind(
          "tiny.plan: program 'decode': buffer " + std::to_string(rowsIndex) +
              " 'head.rows' at arena bytes [" + std::to_string(offset) + ", " +
              std::to_string(offset + rows.bytes()) + ") overlaps buffer ",
          0),
      0u)
      << error;
  EXPECT_NE(error.find(") while both are live (steps "), std::string::npos)
      << error;
}

TEST(PlanLimits, HeadGemmRowsCannotWrap) {
  // decode's absorbed attention: per-head GEMMs with a row block of kv_b.
  Mutant m;
  const plan::Step *found = nullptr;
  for (const plan::Step *s : *m.program().steps())
    if (auto *p = s->params_as_HeadGemmParams(); p && p->row_offset() > 0) {
      found = s;
      break;
    }
  ASSERT_NE(found, nullptr);
  const auto *p = found->params_as_HeadGemmParams();
  // row_offset + rows wraps to a negative int: today's check let it pass.
  setField<int32_t>(p, plan::HeadGemmParams::VT_ROW_OFFSET,
                    INT_MAX - p->rows() + 1);
  const std::string error = m.error();
  EXPECT_NE(error.find("(HeadGemm): head rows [" +
                       std::to_string(INT_MAX - p->rows() + 1) + ", " +
                       std::to_string(int64_t(INT_MAX) + 1) +
                       ") must lie inside head_rows " +
                       std::to_string(p->head_rows())),
            std::string::npos)
      << error;
}

} // namespace
} // namespace moela::test
