//===- CacheCases.cpp - KvAppend and KvGather -----------------------------===//
//
// The latent cache in bf16 pages of 64 rows in a shuffled order
// (PagedCache.h). KvAppend: the rows it writes within one bf16 rounding of
// the fp32 host reference (norm and rope applied), every other row untouched
// bit for bit. KvGather: an exact copy into padded rows. With an e4m3 cache
// (fp8) KvAppend's rows are within one e4m3 step of the host's quantizer and
// KvGather returns code * scale exactly (in f32).
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
#include <numeric>

namespace moela::cases {
namespace {

struct AppendCase {
  int latent, rope, slots, maxSeq, rows;
  bool norm, rotate;
  RopeKind kind;
  bool fp8 = false;
};

void runKvAppend(Report &r, const std::string &what, const AppendCase &c) {
  Rng rng(what);
  const int width = c.latent + c.rope;
  Tensor contiguous(Ty::BF16, int64_t(c.slots) * c.maxSeq, width);
  contiguous.fillUniform(rng, -3, 3);
  PagedCache paged = pageCache(rng, contiguous, c.slots, c.maxSeq, c.fp8);
  Tensor &cache = paged.pages;
  const std::vector<float> before = paged.values();
  Tensor latent(Ty::F32, c.rows, c.latent), kpe(Ty::F32, c.rows, c.rope),
      w(Ty::BF16, 1, c.latent);
  latent.fillUniform(rng, -2, 2);
  kpe.fillUniform(rng, -2, 2);
  w.fillUniform(rng, 0.5f, 1.5f);
  // Distinct (slot, position) per token.
  std::vector<int> cells(size_t(c.slots) * c.maxSeq);
  std::iota(cells.begin(), cells.end(), 0);
  std::shuffle(cells.begin(), cells.end(), rng.engine());
  std::vector<int32_t> pos(size_t(c.rows)), seq(size_t(c.rows));
  for (int t = 0; t < c.rows; ++t) {
    seq[size_t(t)] = cells[size_t(t)] / c.maxSeq;
    pos[size_t(t)] = cells[size_t(t)] % c.maxSeq;
  }
  const RopeTables rope = ropeTables(c.kind, c.rope);
  Tensor positions = fromInts(pos, c.rows, 1),
         seqIds = fromInts(seq, c.rows, 1);
  std::vector<float> ref = before;
  const std::vector<float> lv = latent.floats(), pv = kpe.floats(),
                           wv = w.floats();
  const H::RopeTable table = rope.table(pos);
  const H::KvLayer layer = paged.layer(ref, c.latent, c.rope);
  H::kvAppend(cmat(lv, c.rows, c.latent), cmat(pv, c.rows, c.rope),
              cimat(pos, c.rows, 1), cimat(seq, c.rows, 1),
              c.norm ? wv.data() : nullptr, 1e-6f, c.rotate ? &table : nullptr,
              layer);

  K::KvAppendArgs a{};
  a.latent = latent.view();
  a.k_pe = kpe.view();
  a.positions = positions.devAs<int>();
  a.seq_ids = seqIds.devAs<int>();
  a.norm = K::Weight{c.norm ? w.dev() : nullptr, nullptr, 1, c.latent, 0, 0, 0};
  a.eps = 1e-6f;
  a.rope = rope.rope(1, c.rope, 0, c.rotate ? c.rope : 0);
  a.cache = paged.args();
  a.rows = c.rows;
  a.latent_dim = c.latent;
  a.rope_dim = c.rope;
  launch(kvAppendKernel(Ty::BF16), K::launchKvAppend(a, kTile), a);

  std::vector<char> written(size_t(cache.rows()), 0);
  for (int t = 0; t < c.rows; ++t)
    written[size_t(paged.row(seq[size_t(t)], pos[size_t(t)]))] = 1;
  int64_t offRounding = 0, changed = 0;
  const std::vector<float> got = paged.values();
  for (size_t row = 0; row < written.size(); ++row)
    for (int j = 0; j < width; ++j) {
      const size_t i = row * width + j;
      // One rounding step: bf16's 2^-8; e4m3's 2^-3 of the value, or of
      // its block's scale times the smallest subnormal (2^-9 * 448 / amax).
      float amax = 0;
      for (int k = j / 128 * 128; k < std::min(width, j / 128 * 128 + 128); ++k)
        amax = std::max(amax, std::fabs(ref[row * width + k]));
      const double step = c.fp8 ? std::ldexp(std::fabs(ref[i]), -3) +
                                      std::ldexp(amax / 448.0, -9)
                                : std::ldexp(std::fabs(ref[i]), -8);
      if (written[row] ? !(std::fabs(got[i] - ref[i]) <= step)
                       : !(got[i] == before[i] ||
                           (std::isnan(got[i]) && std::isnan(before[i]))))
        ++(written[row] ? offRounding : changed);
    }
  r.expect(what + " written rows", offRounding == 0,
           std::to_string(offRounding) + " elements off one rounding step");
  r.expect(what + " other rows", changed == 0,
           std::to_string(changed) + " elements changed");
  if (!c.fp8)
    r.near(what, cache, ref, 1e-2);
}

void runKvGather(Report &r, const std::string &what, Ty to, int latent,
                 int rope, int slots, int maxSeq, int rows, bool fp8) {
  Rng rng(what);
  const int width = latent + rope;
  Tensor cache(Ty::BF16, int64_t(slots) * maxSeq, width);
  cache.fillUniform(rng, -3, 3);
  const PagedCache paged = pageCache(rng, cache, slots, maxSeq, fp8);
  const std::vector<float> values = paged.values();
  std::vector<int32_t> pos(static_cast<size_t>(rows)),
      seq(static_cast<size_t>(rows)); // repeats ok
  for (int t = 0; t < rows; ++t) {
    seq[size_t(t)] = rng.uniformInt(0, slots - 1);
    pos[size_t(t)] = rng.uniformInt(0, maxSeq - 1);
  }
  std::vector<float> ref(size_t(rows) * width);
  for (int t = 0; t < rows; ++t)
    for (int j = 0; j < width; ++j)
      ref[size_t(t) * width + j] = roundTo(
          to, values[size_t(paged.row(seq[size_t(t)], pos[size_t(t)]) * width +
                            j)]);
  Tensor positions = fromInts(pos, rows, 1), seqIds = fromInts(seq, rows, 1);
  Tensor out(to, rows, width, width + 3); // padded rows
  K::KvGatherArgs a{};
  a.cache = paged.args();
  a.positions = positions.devAs<int>();
  a.seq_ids = seqIds.devAs<int>();
  a.out = out.view();
  a.rows = rows;
  a.latent_dim = latent;
  a.rope_dim = rope;
  launch(kvGatherKernel(to), K::launchKvGather(a, kTile), a);
  r.equal(what, out.floats(), ref);
  r.untouchedOutside(what, out, [&](int64_t, int64_t c) { return c < width; });
}

} // namespace

void addCacheCases(Cases &cases) {
  struct Append {
    unsigned suites;
    AppendCase c;
  };
  for (Append p :
       {Append{kEmu, {32, 8, 3, 16, 10, true, true, RopeKind::TinyYarn}},
        Append{kEmuAndGpu, {96, 16, 2, 40, 6, true, false, RopeKind::TinyYarn}},
        Append{kEmu, {64, 16, 2, 20, 5, false, true, RopeKind::TinyYarn}},
        Append{kGpu, {512, 64, 3, 64, 10, true, true, RopeKind::V3Yarn}},
        Append{kGpu, {32, 8, 2, 16, 5, false, false, RopeKind::V3Yarn}},
        Append{kEmu, {32, 8, 3, 16, 10, true, true, RopeKind::TinyYarn, true}},
        Append{kEmuAndGpu,
               {512, 64, 2, 70, 6, true, true, RopeKind::V3Yarn, true}}}) {
    const AppendCase &c = p.c;
    const std::string name =
        "kvAppend<f32, f32, bf16> R=" + std::to_string(c.latent) +
        " Dr=" + std::to_string(c.rope) + " slots=" + std::to_string(c.slots) +
        "x" + std::to_string(c.maxSeq) + (c.norm ? " norm" : "") +
        (c.rotate ? " rope" : "") + (c.fp8 ? " e4m3 cache" : "");
    addCase(cases, "Ops.KvAppend", name, p.suites, kvAppendKernel(Ty::BF16),
            [=](Report &r) { runKvAppend(r, name, p.c); });
  }

  struct Gather {
    unsigned suites;
    Ty to;
    int latent, rope, slots, maxSeq, rows;
    bool fp8 = false;
  };
  for (Gather g :
       {Gather{kEmuAndGpu, Ty::F32, 32, 8, 3, 40, 17},
        Gather{kEmu, Ty::BF16, 32, 8, 3, 40, 17},
        Gather{kEmu, Ty::BF16, 512, 64, 2, 300, 9}, // DeepSeek-V3 rows
        Gather{kEmu, Ty::F32, 96, 16, 1, 10, 1},
        Gather{kGpu, Ty::BF16, 512, 64, 4, 3000, 300},
        Gather{kGpu, Ty::F32, 512, 64, 4, 3000, 300},
        Gather{kEmuAndGpu, Ty::F32, 512, 64, 2, 300, 9, true},
        Gather{kEmu, Ty::BF16, 32, 8, 3, 40, 17, true}}) {
    const std::string name =
        std::string("kvGather<") + tyName(g.to) +
        "> R=" + std::to_string(g.latent) + " Dr=" + std::to_string(g.rope) +
        " T=" + std::to_string(g.rows) + " slots=" + std::to_string(g.slots) +
        "x" + std::to_string(g.maxSeq) + (g.fp8 ? " e4m3 cache" : "");
    addCase(cases, "Ops.KvGather", name, g.suites, kvGatherKernel(g.to),
            [=](Report &r) {
              runKvGather(r, name, g.to, g.latent, g.rope, g.slots, g.maxSeq,
                          g.rows, g.fp8);
            });
  }
}

} // namespace moela::cases
