//===- OpsCompileTest.cpp - The non-GEMM kernel families compile for sm_90a
//===//
//
// No GPU needed. Every family of runtime/kernels (Embedding, RmsNorm,
// Elementwise, Rope, Argmax, KvAppend, KvGather, LatentAttention,
// MlaAttention, MlaPrefillAttention, Route, Dispatch, Combine, MoeExperts) is
// instantiated exactly as its .cuh header comment tells the emitter, for
// every element type / shape combination that DeepSeek-V3 (and V2, V2-Lite)
// and the tiny models need, and compiled with NVRTC for sm_90a: a cubin
// comes back, ptxas reports no spills and no warnings, at most 255 registers,
// and static plus the launch's dynamic shared memory fit in 227 KB. The
// host-side launch arithmetic of OpsLaunch.h (plain C++ here) is checked
// too, including that its shared-memory formulas
// for LatentAttention and MlaPrefillAttention are the device templates' own
// (static_asserts compiled by NVRTC).
//
//===----------------------------------------------------------------------===//
#include "../../runtime/kernels/OpsLaunch.h"

#include "moela/Runtime/Nvrtc.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

using namespace moela::kernels;

constexpr int kMaxShared = 232448; // 227 KB: the sm_90 per-block opt-in limit

/// One instantiation: the entry point source the emitter writes.
struct Instance {
  std::string name;   // test and entry-point name
  std::string header; // e.g. "RmsNorm.cuh"
  std::string args;   // e.g. "RmsNormArgs"
  std::string
      call; // e.g. "rmsNorm<float, float, __nv_bfloat16, __nv_bfloat16>"
  int threads = 256;
  bool minBlocks1 = false;     // __launch_bounds__(threads, 1)
  long long dynamicShared = 0; // the launch's dynamic shared memory at V3 sizes
};

/// Keeps ctest's test names short: gtest appends the printed parameter.
void PrintTo(const Instance &c, std::ostream *os) { *os << c.name; }

std::string source(const Instance &in) {
  std::string bounds =
      std::to_string(in.threads) + (in.minBlocks1 ? ", 1" : "");
  return "#include \"" + in.header + "\"\n" +
         "extern \"C\" __global__ void __launch_bounds__(" + bounds + ") " +
         in.name + "(const moela::kernels::" + in.args +
         " args) {\n  moela::kernels::" + in.call + "(args);\n}\n";
}

const char *kF32 = "float", *kBF16 = "__nv_bfloat16", *kFP8 = "__nv_fp8_e4m3";

std::string tmpl(const std::string &fn,
                 const std::vector<std::string> &params) {
  std::string s = fn + "<";
  for (size_t i = 0; i < params.size(); ++i)
    s += (i ? ", " : "") + params[i];
  return s + ">";
}

std::string tag(const std::string &type) {
  if (type == kF32)
    return "f32";
  if (type == kBF16)
    return "bf16";
  if (type == kFP8)
    return "fp8";
  return type;
}

std::vector<Instance> instances() {
  std::vector<Instance> v;
  auto add = [&](std::string name, std::string header, std::string args,
                 std::string call, int threads, long long shared,
                 bool min1 = false) {
    v.push_back({name, header, args, call, threads, min1, shared});
  };
  // V3 sizes for the dynamic shared memory of the row families.
  const int D = 7168, E = 256, F = 2048;
  for (const char *tw : {kBF16, kF32})
    add(std::string("embedding_f32_") + tag(tw), "Embedding.cuh",
        "EmbeddingArgs", tmpl("embedding", {kF32, tw}), 256, 0);
  for (const char *ty : {kF32, kBF16, kFP8})
    for (const char *tw : {kBF16, kF32})
      add(std::string("rms_norm_") + tag(ty) + "_" + tag(tw), "RmsNorm.cuh",
          "RmsNormArgs", tmpl("rmsNorm", {kF32, kF32, ty, tw}), 256, 4LL * D);
  add("add_f32", "Elementwise.cuh", "AddArgs", tmpl("add", {kF32, kF32, kF32}),
      256, 0);
  for (const char *to : {kF32, kBF16})
    add(std::string("silu_mul_") + tag(to), "Elementwise.cuh", "SiluMulArgs",
        tmpl("siluMul", {kF32, kF32, to}), 256, 0);
  for (const char *t : {kF32, kBF16})
    add(std::string("gather_rows_") + tag(t), "Elementwise.cuh",
        "GatherRowsArgs", tmpl("gatherRows", {t, t}), 256, 0);
  add("rope_f32", "Rope.cuh", "RopeArgs", tmpl("rope", {kF32, kF32}), 256,
      4 * 64);
  add("argmax_f32", "Argmax.cuh", "ArgmaxArgs", tmpl("argmax", {kF32}), 1024,
      0);
  for (const char *tw : {kBF16, kF32})
    add(std::string("kv_append_") + tag(tw), "KvAppend.cuh", "KvAppendArgs",
        tmpl("kvAppend", {kF32, kF32, tw}), 256, 0);
  // LatentAttention: (R, Dr, heads) of V3/V2 (128 heads), V2-Lite (16), and
  // the tiny models: tiny (32, 8, 4), tiny-v2 (64, 16, 2), tiny-v2-lite
  // (64, 16, 4), tiny-v3-fp8 (96, 16, 2).
  struct Mla {
    int r, dr, heads;
  };
  for (Mla m : {Mla{512, 64, 128}, Mla{512, 64, 16}, Mla{512, 64, 40},
                Mla{32, 8, 4}, Mla{64, 16, 2}, Mla{96, 16, 2}})
    for (const char *tq : {kBF16, kF32})
      for (const char *to : {kBF16, kF32}) {
        const int mt = latentAttentionMTiles(m.heads);
        add("latent_attention_r" + std::to_string(m.r) + "_dr" +
                std::to_string(m.dr) + "_mt" + std::to_string(mt) + "_q" +
                tag(tq) + "_" + tag(to),
            "LatentAttention.cuh", "LatentAttentionArgs",
            tmpl("latentAttention", {tq, tq, to, std::to_string(m.r),
                                     std::to_string(m.dr), std::to_string(mt)}),
            latentAttentionThreads(m.heads),
            latentAttentionMaxSharedBytes(m.r, m.dr, m.heads), true);
      }
  for (const char *to : {kF32, kBF16})
    add(std::string("kv_gather_") + tag(to), "KvGather.cuh", "KvGatherArgs",
        tmpl("kvGather", {to}), 256, 0);
  // MlaPrefillAttention: (Dn, Dr, Dv) of V3/V2/V2-Lite and the tiny models:
  // tiny (16, 8, 16), tiny-v2 (32, 16, 32), tiny-v3-fp8 (64, 32, 48); as
  // emitted (bf16), with f32 q, and all f32.
  struct Prefill {
    int dn, dr, dv;
  };
  struct PrefillTypes {
    const char *q, *kv, *kp, *o;
  };
  for (Prefill p : {Prefill{128, 64, 128}, Prefill{16, 8, 16},
                    Prefill{32, 16, 32}, Prefill{64, 32, 48}})
    for (PrefillTypes t : {PrefillTypes{kBF16, kBF16, kBF16, kBF16},
                           PrefillTypes{kF32, kBF16, kBF16, kBF16},
                           PrefillTypes{kF32, kF32, kF32, kF32}})
      add("mla_prefill_attention_" + std::to_string(p.dn) + "_" +
              std::to_string(p.dr) + "_" + std::to_string(p.dv) + "_q" +
              tag(t.q) + "_kv" + tag(t.kv) + "_" + tag(t.o),
          "MlaPrefillAttention.cuh", "MlaPrefillAttentionArgs",
          tmpl("mlaPrefillAttention",
               {t.q, t.kv, t.kp, t.o, std::to_string(p.dn),
                std::to_string(p.dr), std::to_string(p.dv)}),
          mlaPrefillAttentionThreads(),
          mlaPrefillAttentionSharedBytes(p.dn, p.dr, p.dv));
  for (const char *to : {kF32, kBF16})
    for (const char *tw : {kBF16, kFP8, kF32})
      add(std::string("mla_attention_") + tag(to) + "_" + tag(tw),
          "MlaAttention.cuh", "MlaAttentionArgs",
          tmpl("mlaAttention", {kF32, to, tw}), 256,
          4LL * (128 + 64 + 10 * 512 + 16));
  for (const char *tw : {kBF16, kF32, kFP8})
    add(std::string("route_") + tag(tw), "Route.cuh", "RouteArgs",
        tmpl("route", {kF32, tw}), 256, 4LL * (D + E));
  for (const char *ts : {kBF16, kF32})
    add(std::string("dispatch_") + tag(ts), "Dispatch.cuh", "DispatchArgs",
        tmpl("dispatch", {kF32, ts}), 1024, 4LL * (33 * E + 1));
  add("combine_f32", "Combine.cuh", "CombineArgs",
      tmpl("combine", {kF32, kF32, kF32, kF32}), 256, 0);
  for (const char *tw : {kBF16, kFP8, kF32})
    add(std::string("moe_experts_") + tag(tw), "MoeExperts.cuh",
        "MoeExpertsArgs", tmpl("moeExperts", {kF32, kF32, tw}), 256,
        4LL * (D + F));
  return v;
}

moela::NvrtcOptions options() {
  moela::NvrtcOptions o;
  o.arch = "sm_90a";
  o.cacheDir = moela::defaultKernelCacheDir();
  return o;
}

class OpsCompile : public ::testing::TestWithParam<Instance> {};

TEST_P(OpsCompile, CompilesWithoutSpills) {
  const Instance &in = GetParam();
  moela::NvrtcResult r = moela::compileCuda(in.name, source(in), options());
  SCOPED_TRACE(source(in) + r.log);
  std::printf("ptxas %-40s %3d registers, %5d B static + %6lld B dynamic smem, "
              "%d B stack, "
              "%d B spills\n",
              in.name.c_str(), r.registers, r.sharedBytes, in.dynamicShared,
              r.stackBytes, r.spillBytes);
  EXPECT_FALSE(r.cubin.empty());
  EXPECT_EQ(r.spillBytes, 0);
  EXPECT_GT(r.registers, 0);
  EXPECT_LE(r.registers, 255);
  EXPECT_LE(r.sharedBytes + in.dynamicShared, kMaxShared);
  EXPECT_EQ(r.log.find("warning"), std::string::npos);
  // Large register frames must not live in local memory: no stack unless the
  // double-precision sincos slow path of RoPE (40 bytes, never in a loop).
  if (in.header != "Rope.cuh" && in.header != "KvAppend.cuh") {
    EXPECT_EQ(r.stackBytes, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Families, OpsCompile, ::testing::ValuesIn(instances()),
                         [](const ::testing::TestParamInfo<Instance> &info) {
                           return info.param.name;
                         });

// The host formula of LatentAttention's shared memory is the device
// template's: NVRTC compiles a static_assert of the two being equal.
TEST(OpsLaunch, LatentAttentionSharedBytesMatchDevice) {
  struct Shape {
    int r, dr, heads;
  };
  std::string src =
      "#include \"LatentAttention.cuh\"\nusing namespace moela::kernels;\n";
  for (Shape s : {Shape{512, 64, 128}, Shape{512, 64, 16}, Shape{512, 64, 40},
                  Shape{32, 8, 4}, Shape{64, 16, 2}, Shape{96, 16, 2}}) {
    const int mt = latentAttentionMTiles(s.heads);
    src += "static_assert(latent::Geometry<" + std::to_string(s.r) + ", " +
           std::to_string(s.dr) + ", " + std::to_string(mt) + ">::BYTES == " +
           std::to_string(latentAttentionMaxSharedBytes(s.r, s.dr, s.heads)) +
           ", \"\");\n";
    src += "static_assert(latent::Geometry<" + std::to_string(s.r) + ", " +
           std::to_string(s.dr) + ", " + std::to_string(mt) +
           ">::THREADS == " + std::to_string(latentAttentionThreads(s.heads)) +
           ", \"\");\n";
  }
  src += "extern \"C\" __global__ void geometry_check() {}\n";
  EXPECT_NO_THROW(moela::compileCuda("geometry_check", src, options())) << src;
  EXPECT_EQ(latentAttentionMaxSharedBytes(512, 64, 128), 229888u);
}

// The same for MlaPrefillAttention.
TEST(OpsLaunch, MlaPrefillAttentionSharedBytesMatchDevice) {
  struct Shape {
    int dn, dr, dv;
  };
  std::string src =
      "#include \"MlaPrefillAttention.cuh\"\nusing namespace moela::kernels;\n";
  for (Shape s : {Shape{128, 64, 128}, Shape{16, 8, 16}, Shape{32, 16, 32},
                  Shape{64, 32, 48}, Shape{192, 64, 256}})
    src += "static_assert(prefill::Geometry<" + std::to_string(s.dn) + ", " +
           std::to_string(s.dr) + ", " + std::to_string(s.dv) + ">::BYTES == " +
           std::to_string(mlaPrefillAttentionSharedBytes(s.dn, s.dr, s.dv)) +
           ", \"\");\n";
  src += "static_assert(prefill::kThreads == " +
         std::to_string(mlaPrefillAttentionThreads()) + ", \"\");\n";
  src += "extern \"C\" __global__ void prefill_geometry_check() {}\n";
  EXPECT_NO_THROW(moela::compileCuda("prefill_geometry_check", src, options()))
      << src;
  EXPECT_EQ(mlaPrefillAttentionSharedBytes(128, 64, 128), 106496u);
}

TEST(OpsLaunch, MlaFamilies) {
  Tile tile{};
  MlaPrefillAttentionArgs p{};
  p.rows = 4096;
  p.heads = 128;
  p.nope_dim = 128;
  p.rope_dim = 64;
  p.v_dim = 128;
  Launch l = launchMlaPrefillAttention(p, tile);
  EXPECT_EQ(l.grid_x, 64u);  // 64-row query tiles
  EXPECT_EQ(l.grid_y, 128u); // heads
  EXPECT_EQ(l.block, 128u);
  EXPECT_EQ(l.shared_bytes, 106496u);
  p.rows = 65;
  EXPECT_EQ(launchMlaPrefillAttention(p, tile).grid_x, 2u);
  p.rows = 0; // never an empty grid
  EXPECT_EQ(launchMlaPrefillAttention(p, tile).grid_x, 1u);
  // tiny: Dn+Dr = 24 padded to 32 (4 chunks, row stride 5), Dv = 16 (2
  // chunks, row stride 3).
  EXPECT_EQ(mlaPrefillAttentionSharedBytes(16, 8, 16),
            16u * (3 * 64 * 5 + 2 * 64 * 3));
  KvGatherArgs g{};
  g.rows = 7;
  g.latent_dim = 512;
  g.rope_dim = 64;
  l = launchKvGather(g, tile);
  EXPECT_EQ(l.grid_x, 7u);
  EXPECT_EQ(l.block, 256u);
  EXPECT_EQ(l.shared_bytes, 0u);
}

LatentAttentionArgs v3Latent(int rows, int maxSeq) {
  LatentAttentionArgs a{};
  a.rows = rows;
  a.heads = 128;
  a.latent_dim = 512;
  a.rope_dim = 64;
  a.slot_stride = static_cast<long long>(maxSeq) * 576;
  return a;
}

TEST(OpsLaunch, LatentAttentionSplits) {
  // Decode: about 264 blocks in all (two head groups per token), <= 64 splits.
  Tile tile{};
  LatentAttentionArgs a = v3Latent(1, 163840);
  EXPECT_EQ(latentAttentionSplitsFor(a, 1), 64);
  EXPECT_EQ(latentAttentionLaunches(a), 2);
  Launch l = launchLatentAttention(a, tile);
  EXPECT_EQ(l.grid_x, 2u);
  EXPECT_EQ(l.grid_y, 64u);
  EXPECT_EQ(l.block, 256u);
  EXPECT_EQ(l.shared_bytes, 229888u);
  EXPECT_EQ(latentAttentionSplitsFor(a, 8), 16);
  EXPECT_EQ(latentAttentionSplitsFor(a, 64), 2);
  EXPECT_EQ(latentAttentionSplitsFor(a, 66), 2);
  EXPECT_EQ(latentAttentionSplitsFor(a, 67), 1);
  // A prefill chunk: one split, one launch, no workspace.
  a = v3Latent(4096, 163840);
  EXPECT_EQ(latentAttentionLaunches(a), 1);
  EXPECT_EQ(launchLatentAttention(a, tile).grid_y, 1u);
  // A short cache caps the splits at its tiles.
  a = v3Latent(1, 100);
  EXPECT_EQ(latentAttentionSplitsFor(a, 1), 2);
  // Phase 1: a thread per 4 columns of every (token, head).
  a = v3Latent(3, 4096);
  a.phase = 1;
  l = launchLatentAttention(a, tile);
  EXPECT_EQ(l.grid_x, (3u * 128 * 128 + 255) / 256);
  EXPECT_EQ(l.shared_bytes, 0u);
}

TEST(OpsLaunch, LatentAttentionWorkspaceCoversEveryRowCount) {
  LatentAttentionArgs a = v3Latent(64, 163840);
  const long long bytes = latentAttentionWorkspaceBytes(a);
  for (int t = 1; t <= 64; ++t) {
    const int s = latentAttentionSplitsFor(a, t);
    if (s > 1) {
      EXPECT_GE(bytes, 4LL * ((t + 3) / 4 * 4 + 1LL * s * t * 128 * 516)) << t;
    }
  }
  // T * S(T) <= 264 / 2 = 132 partial rows of 128 heads; at most T = 66 splits.
  EXPECT_EQ(bytes, 4LL * (44 + 132LL * 128 * 516)); // T = 44, S = 3
  a.rows = 10000; // prefill-sized programs need no more than T = 66, S = 2
  EXPECT_EQ(latentAttentionWorkspaceBytes(a), 4LL * (68 + 132LL * 128 * 516));
}

TEST(OpsLaunch, RowFamilies) {
  Tile tile{};
  RmsNormArgs n{};
  n.rows = 5;
  n.cols = 7168;
  Launch l = launchRmsNorm(n, tile);
  EXPECT_EQ(l.grid_x, 5u);
  EXPECT_EQ(l.shared_bytes, 4u * 7168);
  AddArgs add{};
  add.rows = 3;
  add.cols = 7168;
  EXPECT_EQ(launchAdd(add, tile).grid_x, 3u * 7);
  add.rows = 0;
  EXPECT_EQ(launchAdd(add, tile).grid_x, 1u); // never an empty grid
  RouteArgs r{};
  r.rows = 17;
  r.experts = 256;
  r.dim = 7168;
  EXPECT_EQ(launchRoute(r, tile).grid_x, 3u);
  r.fused_gate = 1;
  EXPECT_EQ(launchRoute(r, tile).grid_x, 17u);
  EXPECT_EQ(launchRoute(r, tile).shared_bytes, 4u * (7168 + 256));
  DispatchArgs d{};
  d.rows = 100;
  d.top_k = 8;
  d.experts = 256;
  EXPECT_EQ(dispatchLaunches(d), 2);
  EXPECT_EQ(launchDispatch(d, tile).grid_x, 1u);
  d.phase = 1;
  EXPECT_EQ(launchDispatch(d, tile).grid_x, 25u);
  CombineArgs c{};
  c.rows = 100;
  c.top_k = 8;
  EXPECT_EQ(combineLaunches(c), 1);
  int fake = 0;
  c.perm = &fake;
  EXPECT_EQ(combineLaunches(c), 2);
  EXPECT_EQ(launchCombine(c, tile).grid_x, 4u);
  c.phase = 1;
  EXPECT_EQ(launchCombine(c, tile).grid_x, 100u);
  EXPECT_EQ(combineWorkspaceBytes(c), 3200);
}

} // namespace
