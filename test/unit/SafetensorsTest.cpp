//===- SafetensorsTest.cpp - The safetensors reader and checkpoints -------===//
//
// The v3_a fixture files, sharded checkpoints written here, and one test per
// malformed input: each must throw moela::Error naming the culprit.
//
//===----------------------------------------------------------------------===//
#include "moela/Runtime/Safetensors.h"

#include "SafetensorsTestUtil.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace moela;
using namespace moela::test;

namespace {

const std::string kBf16File = kBf16Dir + "/model.safetensors";
const std::string kFp8File = kFp8Dir + "/model.safetensors";

//===----------------------------------------------------------------------===//
// The v3_a fixture
//===----------------------------------------------------------------------===//

// Tests the bf16 fixture's listing: 207 tensors, metadata, known shapes.
TEST(SafetensorsFixture, Bf16FileListing) {
  auto file = SafetensorsFile::open(kBf16File);
  EXPECT_EQ(file->size(), 207u);
  EXPECT_EQ(file->metadata().at("format"), "pt");

  TensorView gate = file->tensor("model.layers.0.mlp.gate_proj.weight");
  EXPECT_EQ(gate.dtype, DType::BF16);
  EXPECT_EQ(gate.shape, (std::vector<int64_t>{448, 192}));
  EXPECT_EQ(gate.bytes, 448u * 192 * 2);
  EXPECT_EQ(gate.path, kBf16File);

  TensorView bias =
      file->tensor("model.layers.1.mlp.gate.e_score_correction_bias");
  EXPECT_EQ(bias.dtype, DType::F32);
  EXPECT_EQ(bias.shape, (std::vector<int64_t>{16}));

  TensorView qb = file->tensor("model.layers.1.self_attn.q_b_proj.weight");
  EXPECT_EQ(qb.shape, (std::vector<int64_t>{384, 160})); // [H*(Dn+Dr), Rq]
  EXPECT_EQ(file->tensor("lm_head.weight").shape,
            (std::vector<int64_t>{1280, 192}));

  // Entries come in data-offset order and tile the data region.
  uint64_t end = 0;
  for (const SafetensorsEntry &e : file->entries()) {
    EXPECT_EQ(e.begin, end) << e.name;
    end = e.end;
  }
}

// Tests the FP8 fixture: F8_E4M3 weights with F32 scale_inv siblings.
TEST(SafetensorsFixture, Fp8FileListing) {
  auto file = SafetensorsFile::open(kFp8File);
  EXPECT_EQ(file->size(), 207u + 176u);
  TensorView q = file->tensor("model.layers.1.self_attn.q_b_proj.weight");
  EXPECT_EQ(q.dtype, DType::F8E4M3);
  EXPECT_EQ(q.shape, (std::vector<int64_t>{384, 160}));
  TensorView s =
      file->tensor("model.layers.1.self_attn.q_b_proj.weight_scale_inv");
  EXPECT_EQ(s.dtype, DType::F32);
  EXPECT_EQ(s.shape, (std::vector<int64_t>{3, 2}));
  // The router stays BF16.
  EXPECT_EQ(file->tensor("model.layers.1.mlp.gate.weight").dtype, DType::BF16);
}

// Tests the three ways to name a single-file checkpoint.
TEST(SafetensorsFixture, CheckpointOpenForms) {
  Checkpoint dir = Checkpoint::open(kBf16Dir);
  Checkpoint file = Checkpoint::open(kBf16File);
  Checkpoint fp8 = Checkpoint::open(kFp8Dir);
  EXPECT_EQ(dir.size(), 207u);
  EXPECT_EQ(file.size(), 207u);
  EXPECT_EQ(fp8.size(), 383u);
  EXPECT_TRUE(dir.contains("model.norm.weight"));
  EXPECT_FALSE(dir.contains("model.norm.bias"));
  std::vector<std::string> names = dir.names();
  EXPECT_EQ(names.size(), 207u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  TensorView a = dir.tensor("model.norm.weight");
  TensorView b = file.tensor("model.norm.weight");
  ASSERT_EQ(a.bytes, b.bytes);
  EXPECT_EQ(std::memcmp(a.data, b.data, a.bytes), 0);
}

//===----------------------------------------------------------------------===//
// Sharded checkpoints and listing
//===----------------------------------------------------------------------===//

class Sharded : public TempDirTest {
protected:
  /// Copies `names` of the bf16 fixture into shard files per `shardOf`.
  void writeShards(const std::vector<std::string> &names,
                   const std::vector<int> &shardOf) {
    auto source = SafetensorsFile::open(kBf16File);
    std::vector<std::vector<TestTensor>> shards(2);
    nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                            {"weight_map", {}}};
    for (size_t i = 0; i < names.size(); ++i) {
      TensorView v = source->tensor(names[i]);
      shards[shardOf[i]].push_back(
          {names[i], std::string(dtypeName(v.dtype)), v.shape,
           std::vector<uint8_t>(v.data, v.data + v.bytes)});
      index["weight_map"][names[i]] = shardName(shardOf[i]);
    }
    for (int s = 0; s < 2; ++s)
      writeSafetensors(path(shardName(s)), shards[s]);
    std::ofstream(path("model.safetensors.index.json")) << index.dump(2);
  }
  static std::string shardName(int s) {
    return "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
  }

  const std::vector<std::string> names_ = {
      "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight",
      "model.layers.1.mlp.gate.e_score_correction_bias"};
};

// Tests a directory with index.json + 2 shards, and the index path itself.
TEST_F(Sharded, OpensByDirectoryAndIndex) {
  writeShards(names_, {0, 0, 1, 1});
  auto reference = SafetensorsFile::open(kBf16File);
  for (const std::string &root :
       {dir_.string(), path("model.safetensors.index.json").string()}) {
    Checkpoint ckpt = Checkpoint::open(root);
    EXPECT_EQ(ckpt.size(), 4u);
    EXPECT_EQ(ckpt.files().size(), 2u);
    for (const std::string &name : names_) {
      TensorView got = ckpt.tensor(name);
      TensorView want = reference->tensor(name);
      EXPECT_EQ(got.shape, want.shape);
      ASSERT_EQ(got.bytes, want.bytes);
      EXPECT_EQ(std::memcmp(got.data, want.data, got.bytes), 0) << name;
    }
    EXPECT_EQ(ckpt.tensor("lm_head.weight").path, path(shardName(1)).string());
  }
}

// Tests that a weight_map naming a shard file that does not exist names both.
TEST_F(Sharded, MissingShardFile) {
  writeShards(names_, {0, 0, 1, 1});
  fs::remove(path(shardName(1)));
  std::string msg = errorOf([&] { Checkpoint::open(dir_.string()); });
  EXPECT_CONTAINS(msg, "lm_head.weight");
  EXPECT_CONTAINS(msg, shardName(1));
  EXPECT_CONTAINS(msg, "does not exist");
}

// Tests that a weight_map entry whose tensor is absent from its shard names
// both.
TEST_F(Sharded, TensorMissingFromShard) {
  writeShards(names_, {0, 0, 1, 1});
  nlohmann::json index;
  std::ifstream(path("model.safetensors.index.json")) >> index;
  index["weight_map"]["model.layers.0.input_layernorm.weight"] = shardName(0);
  std::ofstream(path("model.safetensors.index.json")) << index.dump();
  std::string msg = errorOf([&] { Checkpoint::open(dir_.string()); });
  EXPECT_CONTAINS(msg, "'model.layers.0.input_layernorm.weight'");
  EXPECT_CONTAINS(msg, shardName(0));
  EXPECT_CONTAINS(msg, "has no such tensor");
}

// Tests that an index without a weight_map object is rejected.
TEST_F(Sharded, IndexWithoutWeightMap) {
  std::ofstream(path("model.safetensors.index.json")) << R"({"metadata": {}})";
  std::string msg = errorOf([&] { Checkpoint::open(dir_.string()); });
  EXPECT_CONTAINS(msg, "model.safetensors.index.json");
  EXPECT_CONTAINS(msg, "'weight_map'");
}

// Tests that an index that is not JSON names the index file.
TEST_F(Sharded, IndexNotJson) {
  std::ofstream(path("model.safetensors.index.json")) << "{weight_map";
  std::string msg = errorOf([&] { Checkpoint::open(dir_.string()); });
  EXPECT_CONTAINS(msg, "model.safetensors.index.json");
  EXPECT_CONTAINS(msg, "not valid JSON");
}

// Tests that a missing checkpoint path and an empty directory are errors.
TEST_F(Sharded, NoCheckpoint) {
  std::string msg = errorOf([&] { Checkpoint::open(path("nope").string()); });
  EXPECT_CONTAINS(msg, path("nope").string());
  EXPECT_CONTAINS(msg, "does not exist");
  msg = errorOf([&] { Checkpoint::open(dir_.string()); });
  EXPECT_CONTAINS(msg, dir_.string());
  EXPECT_CONTAINS(msg, "model.safetensors.index.json");
}

std::string openError(const fs::path &p) {
  return errorOf([&] { SafetensorsFile::open(p.string()); });
}

class Safetensors : public TempDirTest {
protected:
  /// Writes the file `name` as writeRawSafetensors does and returns the error
  /// that opening it throws.
  std::string rawOpenError(const std::string &name, const std::string &header,
                           const std::vector<uint8_t> &data,
                           std::optional<uint64_t> headerLength = {}) {
    writeRawSafetensors(path(name), header, data, headerLength);
    return openError(path(name));
  }
};

// Tests that dtypes moela does not read are listed but rejected on read.
TEST_F(Safetensors, UnreadDtypesListedButRejected) {
  writeSafetensors(path("m.safetensors"),
                   {{"mask", "BOOL", {3}, {1, 0, 1}},
                    {"f64", "F64", {1}, std::vector<uint8_t>(8)},
                    {"ok", "F32", {2}, bytesOf(std::vector<float>{1, 2})}});
  auto file = SafetensorsFile::open(path("m.safetensors").string());
  ASSERT_EQ(file->size(), 3u);
  ASSERT_NE(file->find("mask"), nullptr);
  EXPECT_EQ(file->find("mask")->dtypeName, "BOOL");
  EXPECT_FALSE(file->find("mask")->dtype.has_value());
  std::string msg = errorOf([&] { file->tensor("mask"); });
  EXPECT_CONTAINS(msg, "'mask'");
  EXPECT_CONTAINS(msg, "BOOL");
  EXPECT_CONTAINS(msg, "m.safetensors");
  EXPECT_CONTAINS(errorOf([&] { file->tensor("f64"); }), "F64");
  EXPECT_EQ(file->tensor("ok").numel(), 2);
  EXPECT_CONTAINS(errorOf([&] { file->tensor("absent"); }), "'absent'");
}

// Tests empty tensors (which may share an offset) and a header padded with
// spaces.
TEST_F(Safetensors, EmptyTensorsAndPaddedHeader) {
  std::string header =
      R"({"a":{"dtype":"F32","shape":[0,4],"data_offsets":[0,0]},)"
      R"("b":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},)"
      R"("c":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}})";
  header.append(8 - header.size() % 8, ' ');
  writeRawSafetensors(path("e.safetensors"), header, {0x80, 0x3F});
  auto file = SafetensorsFile::open(path("e.safetensors").string());
  EXPECT_EQ(file->size(), 3u);
  EXPECT_EQ(file->tensor("a").bytes, 0u);
  TensorView c = file->tensor("c");
  EXPECT_EQ(c.numel(), 1); // a scalar
  EXPECT_EQ(c.data[0], 0x80);
  EXPECT_TRUE(file->metadata().empty());
}

//===----------------------------------------------------------------------===//
// Malformed files: one test per rule
//===----------------------------------------------------------------------===//

const std::string kOneTensor =
    R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

// Tests a file shorter than the 8-byte header length.
TEST_F(Safetensors, TruncatedFile) {
  std::ofstream(path("t.safetensors"), std::ios::binary) << "abcde";
  std::string msg = openError(path("t.safetensors"));
  EXPECT_CONTAINS(msg, path("t.safetensors").string());
  EXPECT_CONTAINS(msg, "truncated");
  std::ofstream(path("empty.safetensors"), std::ios::binary);
  EXPECT_CONTAINS(openError(path("empty.safetensors")), "truncated");
}

// Tests a header length pointing past the end of the file.
TEST_F(Safetensors, HeaderLengthBeyondFile) {
  std::string msg = rawOpenError("h.safetensors", kOneTensor,
                                 std::vector<uint8_t>(8), uint64_t{4096});
  EXPECT_CONTAINS(msg, path("h.safetensors").string());
  EXPECT_CONTAINS(msg, "header length 4096");
}

// Tests a header length above the sanity limit (also absurd 64-bit values).
TEST_F(Safetensors, OversizedHeader) {
  std::string msg =
      rawOpenError("o.safetensors", kOneTensor, std::vector<uint8_t>(8),
                   uint64_t{200'000'000});
  EXPECT_CONTAINS(msg, "header length 200000000");
  EXPECT_CONTAINS(msg, "limit");
  EXPECT_CONTAINS(rawOpenError("o2.safetensors", kOneTensor, {}, ~uint64_t{0}),
                  "limit");
}

// Tests a header that is not JSON, and JSON that is not an object.
TEST_F(Safetensors, NonJsonHeader) {
  std::string msg = rawOpenError("j.safetensors", "{\"w\": [1, 2", {});
  EXPECT_CONTAINS(msg, path("j.safetensors").string());
  EXPECT_CONTAINS(msg, "not valid JSON");
  EXPECT_CONTAINS(rawOpenError("a.safetensors", "[1, 2]", {}),
                  "not a JSON object");
  EXPECT_CONTAINS(rawOpenError("z.safetensors", "", {}), "not valid JSON");
}

// Tests that __metadata__ must be an object of strings.
TEST_F(Safetensors, BadMetadata) {
  std::string msg =
      rawOpenError("m.safetensors", R"({"__metadata__":{"format":1}})", {});
  EXPECT_CONTAINS(msg, "__metadata__");
  EXPECT_CONTAINS(msg, "'format'");
}

// Tests that an entry needs a known dtype string.
TEST_F(Safetensors, BadDtype) {
  std::string msg = rawOpenError("d.safetensors",
                                 R"({"w":{"shape":[2],"data_offsets":[0,8]}})",
                                 std::vector<uint8_t>(8));
  EXPECT_CONTAINS(msg, "tensor 'w'");
  EXPECT_CONTAINS(msg, "'dtype'");
  EXPECT_CONTAINS(
      rawOpenError("u.safetensors",
                   R"({"w":{"dtype":"F33","shape":[2],"data_offsets":[0,8]}})",
                   std::vector<uint8_t>(8)),
      "unknown dtype 'F33'");
}

// Tests that shapes hold non-negative integers only.
TEST_F(Safetensors, BadShape) {
  for (const char *shape : {"[-2]", "[2.5]", "\"2\"", "[[2]]"}) {
    std::string msg =
        rawOpenError("s.safetensors",
                     std::string(R"({"w":{"dtype":"F32","shape":)") + shape +
                         R"(,"data_offsets":[0,8]}})",
                     std::vector<uint8_t>(8));
    EXPECT_CONTAINS(msg, "tensor 'w'");
    EXPECT_CONTAINS(msg, "'shape'");
  }
}

// Tests that a bad shape names the element alone, and that one nested tens
// of thousands deep (its error message overflowed the stack formatting it)
// is refused by the nesting limit with its line and column.
TEST_F(Safetensors, BadShapeElementAndDeepShape) {
  EXPECT_EQ(rawOpenError("e.safetensors",
                         R"({"w":{"dtype":"F32","shape":[2,[2]],)"
                         R"("data_offsets":[0,8]}})",
                         std::vector<uint8_t>(8)),
            path("e.safetensors").string() +
                ": tensor 'w': 'shape'[1] = array is not a non-negative "
                "integer");
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(rawOpenError("d.safetensors",
                         R"({"w":{"dtype":"F32","shape":[2,)" + deep +
                             R"(],"data_offsets":[0,8]}})",
                         std::vector<uint8_t>(8)),
            path("d.safetensors").string() +
                " (header): line 1, column 285: arrays and objects nest "
                "deeper than moela's limit of 256 levels");
  // A number beyond a double: moela's line, not nlohmann's exception text.
  EXPECT_EQ(rawOpenError("n.safetensors",
                         R"({"w":{"dtype":"F32","shape":[1e400],)"
                         R"("data_offsets":[0,8]}})",
                         std::vector<uint8_t>(8)),
            path("n.safetensors").string() +
                " (header): not valid JSON at line 1, column 30: number "
                "overflow parsing '1e400'");
}

// Tests that an empty tensor cannot hide dimensions whose product overflows
// int64: [2^62, 2, 0] holds no bytes, but numel() would wrap on the way.
TEST_F(Safetensors, EmptyShapeWithHugeDimensions) {
  for (auto [shape, printed] :
       {std::pair{"[4611686018427387904,2,0]", "[4611686018427387904, 2, 0]"},
        std::pair{"[0,4611686018427387904,4]", "[0, 4611686018427387904, 4]"}})
    EXPECT_EQ(rawOpenError("z.safetensors",
                           std::string(R"({"w":{"dtype":"F32","shape":)") +
                               shape + R"(,"data_offsets":[0,0]}})",
                           {}),
              path("z.safetensors").string() + ": tensor 'w': shape " +
                  printed + " is too large: its dimensions multiply past 2^63");
  // A large but representable empty shape stays readable.
  writeRawSafetensors(
      path("ok.safetensors"),
      R"({"w":{"dtype":"F32","shape":[4611686018427387904,0],"data_offsets":[0,0]}})",
      {});
  auto file = SafetensorsFile::open(path("ok.safetensors").string());
  EXPECT_EQ(file->tensor("w").numel(), 0);
}

// Tests malformed data_offsets: wrong arity, negative, begin > end.
TEST_F(Safetensors, BadDataOffsets) {
  for (const char *offsets : {"[0]", "[0,8,9]", "[-1,7]", "[8,0]", "null"}) {
    std::string msg = rawOpenError(
        "b.safetensors",
        std::string(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":)") +
            offsets + "}}",
        std::vector<uint8_t>(8));
    EXPECT_CONTAINS(msg, "tensor 'w'");
    EXPECT_CONTAINS(msg, "data_offsets");
  }
}

// Tests data_offsets that end beyond the data region.
TEST_F(Safetensors, DataOffsetsOutOfBounds) {
  std::string msg =
      rawOpenError("b.safetensors", kOneTensor, std::vector<uint8_t>(7));
  EXPECT_CONTAINS(msg, path("b.safetensors").string());
  EXPECT_CONTAINS(msg, "tensor 'w'");
  EXPECT_CONTAINS(msg, "[0, 8] exceed the data region of 7 bytes");
}

// Tests two tensors whose byte ranges overlap.
TEST_F(Safetensors, OverlappingTensors) {
  std::string msg =
      rawOpenError("v.safetensors",
                   R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                   R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                   std::vector<uint8_t>(12));
  EXPECT_CONTAINS(msg, "'a' [0, 8]");
  EXPECT_CONTAINS(msg, "'b' [4, 12]");
  EXPECT_CONTAINS(msg, "overlap");
}

// Tests entries whose sizes do not add up: data_offsets that disagree with
// dtype x shape, and a shape whose element count overflows 64 bits.
TEST_F(Safetensors, InconsistentSizes) {
  struct Case {
    const char *header;
    size_t dataBytes;
    const char *expected;
  };
  for (const Case &c :
       {Case{R"({"w":{"dtype":"BF16","shape":[3, 2],"data_offsets":[0,8]}})",
             12, "hold 8 bytes, but BF16 [3, 2] needs 12"},
        Case{R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,4],)"
             R"("data_offsets":[0,8]}})",
             8, "too large"}}) {
    const std::string msg = rawOpenError("m.safetensors", c.header,
                                         std::vector<uint8_t>(c.dataBytes));
    EXPECT_CONTAINS(msg, "tensor 'w'");
    EXPECT_CONTAINS(msg, c.expected);
  }
}

// Tests a path that is missing or not a regular file.
TEST_F(Safetensors, NotAFile) {
  EXPECT_CONTAINS(openError(path("missing.safetensors")), "cannot open");
  EXPECT_CONTAINS(openError(dir_), "not a regular file");
}

} // namespace
