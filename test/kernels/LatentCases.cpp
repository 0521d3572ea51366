//===- LatentCases.cpp - LatentAttention and MlaAttention -----------------===//
//
// Decode attention over the latent cache against the host's
// mlaLatentAttention / mlaAttentionAbsorbed. Cache rows past each slot's
// last position are NaN: attention must never read them. The cache is paged
// in a shuffled order (PagedCache.h). Bounds: 1e-2
// where bf16 is involved (LatentAttention: bf16 q, k and P on tensor
// cores), 1e-4 for MlaAttention's fp32 output. The GPU also times V3 decode
// at batch 1, 8 and 64 with 4096 visible rows per token.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Device.h"
#include "Families.h"
#include "Operands.h"
#include "PagedCache.h"

#include "kernels/OpsLaunch.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace moela::cases {
namespace {

const float kScale = 0.1352f; // V3: 192^-0.5 * (0.1 ln 40 + 1)^2

using Tokens = std::vector<std::pair<int, int>>; // (slot, position)

/// `n` random tokens over `slots` slots and positions [0, maxSeq).
Tokens randomTokens(Rng &rng, int n, int slots, int maxSeq) {
  Tokens v;
  for (int i = 0; i < n; ++i)
    v.push_back({rng.uniformInt(0, slots - 1), rng.uniformInt(0, maxSeq - 1)});
  return v;
}

/// The bf16 cache [slots, maxSeq, width]: rows 0..(the slot's last position)
/// random in [-1, 1], the rest NaN.
Tensor latentCache(Rng &rng, const Tokens &tokens, int slots, int maxSeq,
                   int width) {
  std::vector<int> last(size_t(slots), -1);
  for (auto [slot, p] : tokens)
    last[size_t(slot)] = std::max(last[size_t(slot)], p);
  Tensor cache(Ty::BF16, int64_t(slots) * maxSeq, width);
  const uint64_t s = rng.stream();
  cache.fill([&](int64_t row, int64_t j) {
    return row % maxSeq <= last[size_t(row / maxSeq)]
               ? counterUniform(s, uint64_t(row * width + j), -1, 1)
               : NAN;
  });
  return cache;
}

// ---- LatentAttention --------------------------------------------------------

struct LatentCase {
  std::string shape;
  Ty q, out;
  int heads, latent, rope, slots, maxSeq;
  Tokens tokens;
  int random = 0;            // > 0: that many random tokens instead
  bool interleavedQ = false; // q_lat and q_pe in one [T, H*(R+Dr)] buffer
  int timeBatch =
      0; // GPU: also time batches of the first tokens (one slot each)
  bool fp8 = false; // an e4m3 cache with per-128-column scales
};

/// Launch i of timeBatch tokens reads slot set i % rotations (seq_ids
/// offset), so that repeated launches do not hit one L2-resident set.
void timeLatent(const LatentCase &c, const Kernel &k,
                K::LatentAttentionArgs a) {
  const int T = int(c.tokens.size()), Tt = c.timeBatch, rot = T / Tt;
  const int width = c.latent + c.rope;
  std::vector<int32_t> seqRot(static_cast<size_t>(T));
  std::iota(seqRot.begin(), seqRot.end(), 0);
  Tensor seqIds = fromInts(seqRot, T, 1);
  a.rows = Tt; // the workspace was sized for all T >= Tt rows
  const int splits = K::latentAttentionSplitsFor(a, Tt),
            launches = K::latentAttentionLaunches(a);
  const double sec = device().medianSeconds([&](int i) {
    K::LatentAttentionArgs ai = a;
    ai.seq_ids = seqIds.devAs<int>() + size_t(Tt) * (i % rot);
    for (int phase = 0; phase < launches; ++phase) {
      ai.phase = phase;
      launch(k, K::launchLatentAttention(ai, kTile), ai);
    }
  });
  double bytes = 0, flops = 0;
  for (int t = 0; t < Tt; ++t) {
    const int p = c.tokens[size_t(t)].second;
    bytes += double(p + 1) * width * 2;
    flops += 2.0 * c.heads * (p + 1) * (width + c.latent);
  }
  bytes +=
      double(Tt) * c.heads * (width * sizeOf(c.q) + c.latent * sizeOf(c.out));
  std::printf("TIME latent_attention %-20s T=%-3d %8.1f us  %7.1f GB/s "
              "(%4.1f%% of 4.3 TB/s)  "
              "%6.1f TFLOP/s  S=%d launches %d\n",
              c.shape.c_str(), Tt, sec * 1e6, bytes / sec * 1e-9,
              bytes / sec / 4.3e12 * 100, flops / sec * 1e-12, splits,
              launches);
  std::fflush(stdout);
}

void runLatent(Report &r, const std::string &what, LatentCase c) {
  Rng rng(what);
  if (c.random)
    c.tokens = randomTokens(rng, c.random, c.slots, c.maxSeq);
  const int T = int(c.tokens.size()), Hh = c.heads, R = c.latent,
            width = c.latent + c.rope;
  Tensor cache = latentCache(rng, c.tokens, c.slots, c.maxSeq, width);
  std::vector<int32_t> pos(static_cast<size_t>(T)), seq(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t) {
    seq[size_t(t)] = c.tokens[size_t(t)].first;
    pos[size_t(t)] = c.tokens[size_t(t)].second;
  }
  Tensor positions = fromInts(pos, T, 1), seqIds = fromInts(seq, T, 1);
  // q: packed q_lat [T, H*R] and q_pe [T, H*Dr], or one [T, H*(R+Dr)] buffer
  // with head h's q_lat at h*(R+Dr) and its q_pe at h*(R+Dr) + R.
  const int64_t latStride = c.interleavedQ ? width : R,
                peStride = c.interleavedQ ? width : c.rope;
  const int64_t latCols =
      c.interleavedQ ? int64_t(Hh) * width : int64_t(Hh) * R;
  const int64_t peCols = c.interleavedQ ? latCols : int64_t(Hh) * c.rope;
  Tensor qLat(c.q, T, latCols), qPe(c.q, T, peCols);
  qLat.fillUniform(rng, -1, 1);
  qPe.fillUniform(rng, -1, 1);

  const PagedCache paged = pageCache(rng, cache, c.slots, c.maxSeq, c.fp8);
  std::vector<float> cacheF = paged.values();
  const std::vector<float> ql = qLat.floats(), qp = qPe.floats();
  std::vector<float> ref(size_t(T) * Hh * R);
  const H::KvLayer layer = paged.layer(cacheF, R, c.rope);
  H::mlaLatentAttention(H::CMat{ql.data(), T, latCols, latCols}, latStride,
                        c.interleavedQ
                            ? H::CMat{ql.data() + R, T, latCols, latCols}
                            : H::CMat{qp.data(), T, peCols, peCols},
                        peStride, cimat(pos, T, 1), cimat(seq, T, 1), Hh,
                        kScale, layer, mat(ref, T, int64_t(Hh) * R));

  Tensor out(c.out, T, int64_t(Hh) * R);
  K::LatentAttentionArgs a{};
  a.q_lat = qLat.view();
  a.q_lat_stride = latStride;
  a.q_pe =
      c.interleavedQ ? K::View{qLat.dev(R * sizeOf(c.q)), latCols} : qPe.view();
  a.q_pe_stride = peStride;
  a.positions = positions.devAs<int>();
  a.seq_ids = seqIds.devAs<int>();
  a.cache = paged.args();
  a.out = out.view();
  a.rows = T;
  a.heads = Hh;
  a.latent_dim = R;
  a.rope_dim = c.rope;
  a.scale = kScale;
  Tensor workspace(
      Ty::F32, 1,
      std::max<int64_t>(1, K::latentAttentionWorkspaceBytes(a) / 4));
  a.workspace = workspace.devAs<float>();
  const Kernel k = latentAttentionKernel(c.q, c.out, R, c.rope, Hh);
  const int launches = K::latentAttentionLaunches(a);
  for (int phase = 0; phase < launches; ++phase) {
    a.phase = phase;
    launch(k, K::launchLatentAttention(a, kTile), a);
  }
  r.near(what + " S=" + std::to_string(K::latentAttentionSplitsFor(a, T)) +
             " launches " + std::to_string(launches),
         out, ref, 1e-2);
  if (c.timeBatch && device().timed())
    timeLatent(c, k, a);
}

std::string latentName(const LatentCase &c) {
  return std::string("latentAttention<") + tyName(c.q) + ", " + tyName(c.out) +
         ", R=" + std::to_string(c.latent) + ", Dr=" + std::to_string(c.rope) +
         ", MT=" + std::to_string(K::latentAttentionMTiles(c.heads)) + "> " +
         c.shape + (c.fp8 ? " e4m3 cache" : "");
}

void addLatent(Cases &cases, const std::string &test, unsigned suites,
               const LatentCase &c, bool large = false) {
  const std::string name = latentName(c);
  addCase(
      cases, "LatentAttention." + test, name, suites,
      latentAttentionKernel(c.q, c.out, c.latent, c.rope, c.heads),
      [=](Report &r) { runLatent(r, name, c); }, large);
}

// ---- MlaAttention -----------------------------------------------------------

struct MlaCase {
  std::string shape;
  Ty out, w; // kv_b: bf16 or FP8 with block scales
  int heads, nope, rope, v, latent, maxSeq;
  Tokens tokens;    // in 2 slots
  bool fp8 = false; // an e4m3 cache with per-128-column scales
};

void runMla(Report &r, const std::string &what, const MlaCase &c) {
  Rng rng(what);
  const int slots = 2, width = c.latent + c.rope, T = int(c.tokens.size());
  Tensor cache = latentCache(rng, c.tokens, slots, c.maxSeq, width);
  std::vector<int32_t> pos(static_cast<size_t>(T)), seq(static_cast<size_t>(T));
  for (int t = 0; t < T; ++t) {
    seq[size_t(t)] = c.tokens[size_t(t)].first;
    pos[size_t(t)] = c.tokens[size_t(t)].second;
  }
  Tensor positions = fromInts(pos, T, 1), seqIds = fromInts(seq, T, 1);
  const int qCols = c.heads * (c.nope + c.rope),
            kvRows = c.heads * (c.nope + c.v);
  Tensor q(Ty::F32, T, qCols);
  q.fillUniform(rng, -1, 1);
  Tensor kvBf;
  Fp8Weight kv8;
  std::vector<float> kvRef(size_t(kvRows) * c.latent);
  K::Weight kw{};
  if (c.w == Ty::F8) {
    kv8 = randomFp8Weight(rng, 1, kvRows, c.latent);
    kv8.scaleBy(0.1f); // keep the products modest
    for (int row = 0; row < kvRows; ++row)
      for (int col = 0; col < c.latent; ++col)
        kvRef[size_t(row) * c.latent + col] = kv8.value(0, row, col);
    kw = K::Weight{kv8.codes.dev(),
                   kv8.scales.devAs<float>(),
                   kvRows,
                   c.latent,
                   int(kv8.scaleLd),
                   0,
                   0};
  } else {
    kvBf = Tensor(Ty::BF16, kvRows, c.latent);
    kvBf.fillUniform(rng, -0.08f, 0.08f);
    kvRef = kvBf.floats();
    kw = plainWeight(kvBf, kvRows, c.latent);
  }
  const PagedCache paged = pageCache(rng, cache, slots, c.maxSeq, c.fp8);
  std::vector<float> cacheF = paged.values();
  const std::vector<float> qv = q.floats();
  std::vector<float> ref(size_t(T) * c.heads * c.v);
  H::MlaDims dims{c.heads, c.nope, c.rope, c.v, c.latent, kScale};
  const H::KvLayer layer = paged.layer(cacheF, c.latent, c.rope);
  H::mlaAttentionAbsorbed(cmat(qv, T, qCols), cimat(pos, T, 1),
                          cimat(seq, T, 1),
                          H::Weight{kvRef.data(), kvRows, c.latent}, dims,
                          layer, mat(ref, T, int64_t(c.heads) * c.v));

  Tensor out(c.out, T, int64_t(c.heads) * c.v);
  K::MlaAttentionArgs a{};
  a.q = q.view();
  a.positions = positions.devAs<int>();
  a.seq_ids = seqIds.devAs<int>();
  a.kv_b = kw;
  a.cache = paged.args();
  a.out = out.view();
  a.workspace = nullptr;
  a.rows = T;
  a.heads = c.heads;
  a.nope_dim = c.nope;
  a.rope_dim = c.rope;
  a.v_dim = c.v;
  a.latent_dim = c.latent;
  a.absorbed = 0;
  a.scale = kScale;
  launch(mlaAttentionKernel(c.out, c.w), K::launchMlaAttention(a, kTile), a);
  r.near(what, out, ref, c.out == Ty::F32 ? 1e-4 : 1e-2);
}

} // namespace

void addLatentCases(Cases &cases) {
  const Ty bf16 = Ty::BF16, f32 = Ty::F32;
  // Tiny (R=32, Dr=8, H=4): split KV, a prefill chunk of one slot (one
  // split), two head tiles.
  const Tokens split = {{0, 0}, {0, 5}, {1, 63}, {1, 64}, {2, 200}, {3, 255}};
  Tokens chunk;
  for (int i = 0; i < 150; ++i)
    chunk.push_back({1, 100 + i});
  addLatent(cases, "Tiny", kEmu,
            {"split-KV", bf16, bf16, 4, 32, 8, 4, 256, split});
  addLatent(cases, "Tiny", kEmu,
            {"split-KV", f32, f32, 4, 32, 8, 4, 256, split});
  addLatent(cases, "Tiny", kEmu,
            {"prefill chunk T=150 interleaved q", bf16, bf16, 4, 32, 8, 2, 256,
             chunk, 0, true});
  addLatent(cases, "Tiny", kEmu,
            {"H=20 (2 head tiles)", bf16, bf16, 20, 32, 8, 3, 300, {}, 3});
  // tiny-v2 (R=64, Dr=16, H=2), tiny-v2-lite (H=4), tiny-v3-fp8 (R=96: rows
  // not swizzled, odd stride), DeepSeek-V3 (4 head tiles, R=512).
  addLatent(cases, "TinyV2", kEmu,
            {"H=2", bf16, bf16, 2, 64, 16, 3, 512, {}, 7});
  addLatent(cases, "TinyV2", kEmu,
            {"H=4", bf16, f32, 4, 64, 16, 2, 300, {}, 3});
  addLatent(cases, "TinyV3Fp8", kEmu,
            {"H=2", bf16, bf16, 2, 96, 16, 3, 700, {}, 5});
  addLatent(
      cases, "DeepSeekV3", kEmu,
      {"H=128 decode", bf16, bf16, 128, 512, 64, 2, 256, {{0, 130}, {1, 63}}});
  // An e4m3 cache: the kernel dequantizes each tile into bf16.
  addLatent(
      cases, "Tiny", kEmu,
      {"split-KV", bf16, bf16, 4, 32, 8, 4, 256, split, 0, false, 0, true});
  addLatent(cases, "DeepSeekV3", kEmuAndGpu,
            {"H=128 decode",
             bf16,
             bf16,
             128,
             512,
             64,
             2,
             256,
             {{0, 130}, {1, 63}},
             0,
             false,
             0,
             true});

  // The GPU: as emitted (bf16 q and out), and for the small-T V3 cases and
  // the tiny ones with fp32 q and/or out too.
  Tokens chunk200;
  for (int i = 0; i < 200; ++i)
    chunk200.push_back({1, 1000 + i});
  const LatentCase gpu[] = {
      {"tiny H4", bf16, bf16, 4, 32, 8, 4, 256, split},
      {"tiny-v2 H2", bf16, bf16, 2, 64, 16, 3, 512, {}, 7},
      {"tiny-v2-lite H4", bf16, bf16, 4, 64, 16, 2, 300, {}, 3},
      {"tiny-v3-fp8 H2", bf16, bf16, 2, 96, 16, 3, 700, {}, 5},
      {"v2-lite H16 decode", bf16, bf16, 16, 512, 64, 4, 2048, {}, 4},
      {"H40 (3 head tiles)", bf16, bf16, 40, 512, 64, 2, 600, {}, 2},
      {"v3 T1 pos0", bf16, bf16, 128, 512, 64, 1, 64, {{0, 0}}},
      {"v3 T1 pos64", bf16, bf16, 128, 512, 64, 1, 128, {{0, 64}}},
      {"v3 T1 pos8191", bf16, bf16, 128, 512, 64, 1, 8192, {{0, 8191}}},
      {"v3 T8 mixed",
       bf16,
       bf16,
       128,
       512,
       64,
       8,
       8192,
       {{0, 0},
        {1, 1},
        {2, 65},
        {3, 127},
        {4, 128},
        {5, 1000},
        {6, 4096},
        {7, 8191}}},
      {"v3 T64 decode", bf16, bf16, 128, 512, 64, 16, 4096, {}, 64},
      {"v3 prefill chunk T200", bf16, bf16, 128, 512, 64, 2, 1300, chunk200, 0,
       true},
  };
  for (LatentCase c : gpu) {
    addLatent(cases, "Gpu", kGpu, c);
    if (c.heads == 128 && c.tokens.size() <= 8 && !c.tokens.empty()) {
      c.q = f32;
      addLatent(cases, "Gpu", kGpu, c);
      c.out = f32;
      addLatent(cases, "Gpu", kGpu, c);
    } else if (c.heads < 16) {
      c.out = f32;
      addLatent(cases, "Gpu", kGpu, c);
    }
  }
  // Timed: decode at batch 1, 8, 64 with 4096 visible rows each, one slot
  // per token; rotating slot sets keep the working set over the L2. The
  // check covers all batch * rotations tokens.
  for (int batch : {1, 8, 64}) {
    const int rot = batch == 1 ? 32 : (batch == 8 ? 6 : 1);
    LatentCase c{"v3 decode ctx4096", bf16, bf16, 128, 512, 64,
                 batch * rot,         4096, {}};
    for (int s = 0; s < batch * rot; ++s)
      c.tokens.push_back({s, 4095});
    c.timeBatch = batch;
    c.shape += " batch " + std::to_string(batch);
    addLatent(cases, "Gpu", kGpu, c, true);
  }

  struct Mla {
    unsigned suites;
    MlaCase c;
  };
  const Tokens emuTokens = {{0, 0}, {0, 70}, {1, 30}},
               gpuTokens = {{0, 0}, {0, 700}, {1, 300}};
  for (const Mla &m :
       {Mla{kEmu, {"tiny H=4", f32, bf16, 4, 16, 8, 16, 32, 100, emuTokens}},
        Mla{kEmu,
            {"tiny H=4", f32, bf16, 4, 16, 8, 16, 32, 100, emuTokens, true}},
        Mla{kEmu,
            {"tiny-v3-fp8 H=2", bf16, Ty::F8, 2, 32, 16, 32, 160, 100,
             emuTokens}},
        Mla{kGpu, {"tiny H=4", f32, bf16, 4, 16, 8, 16, 32, 800, gpuTokens}},
        Mla{kGpu,
            {"v3 H=128", f32, bf16, 128, 128, 64, 128, 512, 800, gpuTokens}},
        Mla{kGpu,
            {"v3 H=128", bf16, Ty::F8, 128, 128, 64, 128, 512, 800,
             gpuTokens}}}) {
    const std::string name =
        std::string("mlaAttention<f32, ") + tyName(m.c.out) + ", " +
        tyName(m.c.w) + "> " + m.c.shape + " maxSeq " +
        std::to_string(m.c.maxSeq) + (m.c.fp8 ? " e4m3 cache" : "");
    const MlaCase c = m.c;
    addCase(cases, "Ops.MlaAttention", name, m.suites,
            mlaAttentionKernel(c.out, c.w),
            [=](Report &r) { runMla(r, name, c); });
  }
}

} // namespace moela::cases
