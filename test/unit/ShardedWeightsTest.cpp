//===- ShardedWeightsTest.cpp - Rank slices of checkpoint tensors ---------===//
//
// A multi-device plan binds slices of checkpoint tensors (TensorSpec's slice
// fields, docs/parallel.md). For every dtype (F32, BF16, FP8 with block
// scales, BF16 quantized to FP8 at load), along rows and columns, in 2, 3 and
// 4 parts (slices that do and do not start on a 128 block), the slices of
// every rank put back together must be the unsliced tensor bit for bit, from
// a safetensors checkpoint and from random weights alike.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Safetensors.h"
#include "moela/Runtime/Weights.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <unistd.h>

namespace moela::test {
namespace {

namespace fs = std::filesystem;

/// One checkpoint tensor kind of the table.
struct Kind {
  const char *label;
  DType dtype;   // of the spec
  bool scaled;   // FP8 with a _scale_inv tensor
  bool quantize; // BF16 in the checkpoint, FP8 at load
};

const Kind kKinds[] = {{"F32", DType::F32, false, false},
                       {"BF16", DType::BF16, false, false},
                       {"FP8", DType::F8E4M3, true, false},
                       {"FP8 quantized at load", DType::F8E4M3, true, true}};

/// Rows and columns divisible by 2, 3 and 4, with slices that start inside a
/// 128 block (600 / 4 = 150) and slices that end mid-block.
constexpr int64_t kRows = 600, kCols = 264;

TensorSpec specOf(const Kind &kind, const std::string &name,
                  std::vector<int64_t> shape) {
  TensorSpec spec;
  spec.name = name;
  spec.dtype = kind.dtype;
  spec.shape = std::move(shape);
  if (kind.scaled) {
    spec.scaleName = name + "_scale_inv";
    spec.scaleShape = fp8ScaleShape(spec.shape);
  }
  spec.quantizeAtLoad = kind.quantize;
  return spec;
}

/// Rank `rank`'s slice of `whole` in `parts` along `dim`.
TensorSpec sliceOf(const TensorSpec &whole, int dim, int parts, int rank) {
  TensorSpec spec = whole;
  spec.shape[size_t(dim)] /= parts;
  spec.sliceDim = dim;
  spec.sliceParts = parts;
  spec.sliceOffset = rank * spec.shape[size_t(dim)];
  if (!spec.scaleName.empty())
    spec.scaleShape = fp8ScaleShape(spec.shape);
  return spec;
}

/// Slices [rows_r, cols_r] put back together along `dim` into [rows, cols].
std::vector<float> assemble(const std::vector<std::vector<float>> &slices,
                            int dim, int64_t rows, int64_t cols) {
  std::vector<float> out(size_t(rows * cols));
  const int parts = int(slices.size());
  for (int p = 0; p < parts; ++p) {
    const int64_t r = dim == 0 ? rows / parts : rows;
    const int64_t c = dim == 1 ? cols / parts : cols;
    EXPECT_EQ(int64_t(slices[size_t(p)].size()), r * c);
    for (int64_t i = 0; i < r; ++i)
      for (int64_t j = 0; j < c; ++j)
        out[size_t((dim == 0 ? p * r + i : i) * cols +
                   (dim == 1 ? p * c + j : j))] =
            slices[size_t(p)][size_t(i * c + j)];
  }
  return out;
}

void expectSameBits(const std::vector<float> &a, const std::vector<float> &b,
                    const std::string &what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
      << what << ": the slices differ from the whole tensor";
}

class ShardedWeights : public testing::Test {
protected:
  void SetUp() override {
    dir = fs::temp_directory_path() /
          ("moela-sharded-" + std::to_string(getpid()) + "-" +
           testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
    // The checkpoint: random tensors of every kind, as stored.
    std::unique_ptr<WeightSource> random = makeRandomWeights(11);
    std::vector<RawTensor> raws;
    for (const Kind &kind : kKinds) {
      for (const char *suffix : {"matrix.weight", "norm.weight"}) {
        const bool vector = std::string(suffix) == "norm.weight";
        if (vector && kind.scaled)
          continue;
        const std::string name = std::string("t.") + kind.label + "." + suffix;
        TensorSpec stored = specOf(kind, name,
                                   vector ? std::vector<int64_t>{kRows}
                                          : std::vector<int64_t>{kRows, kCols});
        if (kind.quantize) { // the checkpoint holds BF16
          stored.dtype = DType::BF16;
          stored.scaleName.clear();
          stored.scaleShape.clear();
          stored.quantizeAtLoad = false;
        }
        raws.push_back(random->loadRaw(stored));
      }
    }
    std::vector<TensorToWrite> tensors;
    std::vector<std::vector<float>> keep;
    for (const RawTensor &raw : raws) {
      tensors.push_back(
          {raw.spec.name, raw.spec.dtype, raw.spec.shape, raw.data.data()});
      if (!raw.spec.scaleName.empty())
        tensors.push_back({raw.spec.scaleName, DType::F32,
                           fp8ScaleShape(raw.spec.shape), raw.scales.data()});
    }
    writeSafetensors((dir / "model.safetensors").string(), tensors);
    checkpoint = openCheckpoint(dir.string());
  }
  void TearDown() override { fs::remove_all(dir); }

  fs::path dir;
  std::unique_ptr<WeightSource> checkpoint;
};

TEST_F(ShardedWeights, SlicesReassembleTheWholeTensorBitForBit) {
  std::unique_ptr<WeightSource> random = makeRandomWeights(5);
  for (WeightSource *source : {checkpoint.get(), random.get()})
    for (const Kind &kind : kKinds)
      for (int dim : {0, 1})
        for (int parts : {2, 3, 4}) {
          const std::string name =
              std::string("t.") + kind.label + ".matrix.weight";
          const TensorSpec whole = specOf(kind, name, {kRows, kCols});
          std::vector<std::vector<float>> slices;
          for (int rank = 0; rank < parts; ++rank)
            slices.push_back(source->loadF32(sliceOf(whole, dim, parts, rank)));
          expectSameBits(
              assemble(slices, dim, kRows, kCols), source->loadF32(whole),
              source->describe() + " " + kind.label + " dim " +
                  std::to_string(dim) + " in " + std::to_string(parts));
        }
}

TEST_F(ShardedWeights, VectorsSliceAlongRows) {
  std::unique_ptr<WeightSource> random = makeRandomWeights(5);
  for (WeightSource *source : {checkpoint.get(), random.get()})
    for (const Kind &kind : {kKinds[0], kKinds[1]})
      for (int parts : {2, 3, 4}) {
        const TensorSpec whole = specOf(
            kind, std::string("t.") + kind.label + ".norm.weight", {kRows});
        std::vector<std::vector<float>> slices;
        for (int rank = 0; rank < parts; ++rank)
          slices.push_back(source->loadF32(sliceOf(whole, 0, parts, rank)));
        expectSameBits(assemble(slices, 0, kRows, 1), source->loadF32(whole),
                       std::string(kind.label) + " vector in " +
                           std::to_string(parts));
      }
}

TEST_F(ShardedWeights, AlignedRawSlicesCarryTheirBlockScales) {
  // [512, 384] cuts into whole blocks: 2 x 256 rows, 3 x 128 columns.
  std::unique_ptr<WeightSource> random = makeRandomWeights(8);
  for (const Kind &kind : {kKinds[2], kKinds[1]})
    for (auto [dim, parts] : {std::pair{0, 2}, std::pair{1, 3}}) {
      const TensorSpec whole = specOf(kind, "r.matrix.weight", {512, 384});
      const RawTensor all = random->loadRaw(whole);
      std::vector<std::vector<float>> slices;
      for (int rank = 0; rank < parts; ++rank) {
        const TensorSpec spec = sliceOf(whole, dim, parts, rank);
        const RawTensor raw = random->loadRaw(spec);
        EXPECT_EQ(raw.spec.shape, spec.shape);
        if (kind.scaled) {
          EXPECT_EQ(raw.spec.scaleShape, fp8ScaleShape(spec.shape));
        }
        slices.push_back(toF32(raw));
        EXPECT_EQ(toF32(raw), random->loadF32(spec));
      }
      expectSameBits(assemble(slices, dim, 512, 384), toF32(all),
                     std::string(kind.label) + " raw dim " +
                         std::to_string(dim));
    }
  // Raw slices without block scales need no alignment (88 columns each).
  const TensorSpec bf16 =
      specOf(kKinds[1], "t.BF16.matrix.weight", {kRows, kCols});
  std::vector<std::vector<float>> slices;
  for (int rank = 0; rank < 3; ++rank)
    slices.push_back(toF32(checkpoint->loadRaw(sliceOf(bf16, 1, 3, rank))));
  expectSameBits(assemble(slices, 1, kRows, kCols), checkpoint->loadF32(bf16),
                 "BF16 raw");
}

TEST_F(ShardedWeights, CheckpointRawSlicesOfAlignedBlocks) {
  // Rows 0..255 and 256..511 of a [512, 264] FP8 tensor stored with scales.
  fs::path sub = dir / "aligned";
  fs::create_directories(sub);
  std::unique_ptr<WeightSource> random = makeRandomWeights(3);
  const TensorSpec whole = specOf(kKinds[2], "a.weight", {512, kCols});
  const RawTensor all = random->loadRaw(whole);
  writeSafetensors((sub / "model.safetensors").string(),
                   {{"a.weight", DType::F8E4M3, whole.shape, all.data.data()},
                    {"a.weight_scale_inv", DType::F32,
                     fp8ScaleShape(whole.shape), all.scales.data()}});
  std::unique_ptr<WeightSource> ckpt = openCheckpoint(sub.string());
  for (int rank = 0; rank < 2; ++rank) {
    const RawTensor raw = ckpt->loadRaw(sliceOf(whole, 0, 2, rank));
    ASSERT_EQ(raw.data.size(), size_t(256 * kCols));
    EXPECT_EQ(std::memcmp(raw.data.data(), all.data.data() + rank * 256 * kCols,
                          raw.data.size()),
              0);
    ASSERT_EQ(raw.scales.size(), size_t(2 * 3));
    for (size_t i = 0; i < raw.scales.size(); ++i)
      EXPECT_EQ(raw.scales[i], all.scales[size_t(rank) * 6 + i]);
  }
}

TEST_F(ShardedWeights, UnalignedRawSliceOfBlockScaledTensorIsRefused) {
  std::unique_ptr<WeightSource> random = makeRandomWeights(5);
  for (WeightSource *source : {checkpoint.get(), random.get()})
    for (const Kind &kind : {kKinds[2], kKinds[3]}) {
      const TensorSpec whole =
          specOf(kind, std::string("t.") + kind.label + ".matrix.weight",
                 {kRows, kCols});
      try {
        source->loadRaw(sliceOf(whole, 1, 2, 1)); // columns [132, 264)
        ADD_FAILURE() << kind.label << ": an unaligned raw slice loaded";
      } catch (const Error &e) {
        const std::string m = e.what();
        EXPECT_NE(m.find(whole.name), std::string::npos) << m;
        EXPECT_NE(m.find("along dim 1"), std::string::npos) << m;
        EXPECT_NE(m.find("offset 132"), std::string::npos) << m;
        EXPECT_NE(m.find("size 132"), std::string::npos) << m;
      }
    }
}

TEST_F(ShardedWeights, CheckpointShapeIsCheckedAgainstTheWholeTensor) {
  // A plan that thinks the tensor has 4 x 160 rows: the checkpoint has 600.
  TensorSpec spec = specOf(kKinds[1], "t.BF16.matrix.weight", {160, kCols});
  spec.sliceDim = 0;
  spec.sliceParts = 4;
  spec.sliceOffset = 160;
  try {
    checkpoint->loadF32(spec);
    FAIL() << "a wrong checkpoint shape loaded";
  } catch (const Error &e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("t.BF16.matrix.weight"), std::string::npos) << m;
    EXPECT_NE(m.find("expected BF16 [640, 264]"), std::string::npos) << m;
    EXPECT_NE(m.find("found BF16 [600, 264]"), std::string::npos) << m;
  }
}

TEST_F(ShardedWeights, SliceOutsideTheTensorIsRefused) {
  TensorSpec spec = specOf(kKinds[0], "t.F32.matrix.weight", {kRows, kCols});
  spec = sliceOf(spec, 1, 2, 0);
  spec.sliceOffset = 200; // [200, 332) of 264
  EXPECT_THROW(checkpoint->loadF32(spec), Error);
  spec.sliceOffset = 0;
  spec.sliceDim = 2;
  EXPECT_THROW(checkpoint->loadF32(spec), Error);
}

} // namespace
} // namespace moela::test
