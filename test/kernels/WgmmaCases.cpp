//===- WgmmaCases.cpp - The warpgroup GEMM (GemmWgmma.cuh) ----------------===//
//
// gemmWgmma has gemm's semantics (GemmCase.h). On the emulator (mbarriers,
// the async proxy and wgmma.mma_async with the descriptors decoded and the
// 128B swizzle applied as the PTX ISA says): every instantiation
// `moela-compile --gemm-kernel=wgmma --emit=cuda` writes for the tiny models
// (and with --activation-dtype=fp8), the other legal tiles (BN = 256 with
// BM = 64, BN = 64 with BM = 128, BK = 128), every epilogue, f32 operands, K
// over more tiles than the ring's stages, edge shapes. On the GPU: every
// element type and epilogue on both tiles at m = 1, 7, 64, 333, the other
// tiles, long K, and DeepSeek-V3's projections timed against mma.sync.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "GemmCase.h"
#include "MatmulOperands.h"

namespace moela::cases {
namespace {

const Ty f32 = Ty::F32, bf16 = Ty::BF16, f8 = Ty::F8;

/// A kernel of GemmWgmma.cuh.
const GemmEngine wg{true};

void emuCases(Cases &cases) {
  // The tiny models' kernels: 128x256x64 (bf16 weights) or 128x128x64 at
  // prefill, 64x64x64 in decode (two consumers of 32 columns each).
  for (auto [test, w, prefill] : {std::tuple<const char *, Ty, TileShape>{
                                      "TinyBf16Weights", bf16, {128, 256, 64}},
                                  {"TinyFp8Weights", f8, {128, 128, 64}}}) {
    addEmuShapes(cases, test,
                 wg(bf16, w, bf16, bf16, prefill, false, false, false));
    for (TileShape t : {prefill, TileShape{64, 64, 64}}) {
      addEmuShapes(cases, test, wg(bf16, w, bf16, bf16, t, false, true, false));
      addEmuShapes(cases, test, wg(bf16, w, bf16, bf16, t, true, false, false));
      addEmuShapes(cases, test, wg(bf16, w, f32, f32, t, false, false, false));
      addEmuShapes(cases, test, wg(f32, w, bf16, bf16, t, true, false, false));
    }
  }
  for (TileShape t : {TileShape{128, 128, 64}, TileShape{64, 64, 64}}) {
    addEmuShapes(cases, "TinyW8A8",
                 wg(f8, f8, bf16, bf16, t, false, true, false));
    addEmuShapes(cases, "TinyW8A8",
                 wg(f8, f8, bf16, bf16, t, true, false, false));
    addEmuShapes(cases, "TinyW8A8",
                 wg(f8, f8, f32, f32, t, false, false, false));
  }
  // Beyond the tiny models' kernels (which already cover 128x256x64 with
  // silu_mul and rope, FP8 block scales over two K tiles, W8A8's m64nNk32
  // with activation scales): rope + residual in decode, FP8 weights with a
  // residual, f32 operands converted to bf16 in shared memory (st.shared).
  const TileShape t128x256{128, 256, 64}, t128{128, 128, 64}, t64{64, 64, 64};
  addEmuShapes(cases, "Bf16Decode",
               wg(bf16, bf16, f32, f32, t64, false, true, true));
  addEmuShapes(cases, "Fp8Weights",
               wg(bf16, f8, f32, f32, t64, false, false, true));
  addEmuShapes(cases, "F32Operands",
               wg(f32, f8, f32, f32, t128, false, false, false));
  addEmuShapes(cases, "F32Operands",
               wg(bf16, f32, f32, f32, t64, false, false, false));
  // silu_mul + rope + residual, in place too.
  addEmuShapes(cases, "AllEpilogues",
               wg(bf16, bf16, f32, f32, t64, true, true, true));
  addEmuShapes(cases, "AllEpilogues",
               wg(bf16, bf16, bf16, bf16, t128x256, true, true, true));
  addEmuShapes(cases, "AllEpilogues",
               wg(bf16, f8, bf16, bf16, t128, true, true, true));
  // The other legal tiles.
  for (auto [a, w, t] :
       {std::tuple<Ty, Ty, TileShape>{bf16, bf16, {64, 256, 64}},
        {bf16, f8, {64, 256, 64}},
        {bf16, bf16, {128, 64, 64}},
        {bf16, f8, {64, 64, 128}},
        {bf16, bf16, {128, 128, 128}},
        {f8, f8, {64, 256, 64}}})
    addEmuShape(cases, "OtherTiles", wg(a, w, f32, f32, t, false, false, false),
                70, 208, {96, 160});
  for (auto [w, t] : {std::pair<Ty, TileShape>{bf16, {64, 256, 64}},
                      {f8, {128, 64, 64}},
                      {f8, {64, 64, 128}}})
    addEmuShape(cases, "OtherTiles",
                wg(bf16, w, bf16, bf16, t, true, true, true), 70, 64,
                {64, 80, 144}, {2, 72, 8, 64});
  // K over more tiles than stages: every slot of the mbarrier ring is
  // reused (parities of later rounds), FP8 blocks across K tiles, a partial
  // last block; raw f32 tiles have 2 or 3 stages.
  addEmuShape(cases, "LongK",
              wg(bf16, bf16, f32, f32, t128x256, false, false, false), 130,
              1040, {72, 136});
  addEmuShape(cases, "LongK",
              wg(bf16, bf16, f32, f32, t64, false, false, false), 70, 1040,
              {72});
  addEmuShape(cases, "LongK", wg(bf16, f8, f32, f32, t128, false, false, false),
              70, 1040, {72, 136});
  addEmuShape(cases, "LongK", wg(f8, f8, f32, f32, t128, false, false, true),
              130, 1040, {72, 136});
  addEmuShape(cases, "LongK",
              wg(f32, bf16, f32, f32, t128x256, false, false, false), 130, 1040,
              {72, 136});
  addEmuShape(cases, "LongK",
              wg(f32, f32, bf16, bf16, t128, true, false, false), 70, 1040,
              {100, 120, 100});
  // No rows, one K step, one row, narrow N.
  addEmuShape(cases, "EdgeShapes",
              wg(bf16, bf16, f32, f32, t64, false, false, false), 0, 64, {40});
  addEmuShape(cases, "EdgeShapes",
              wg(bf16, bf16, f32, f32, t64, false, false, false), 1, 16, {4});
  addEmuShape(cases, "EdgeShapes",
              wg(bf16, f8, bf16, bf16, t128, false, false, false), 129, 16,
              {5, 130});
  addEmuShape(cases, "EdgeShapes",
              wg(bf16, bf16, f32, f32, t128x256, true, false, false), 1, 48,
              {6, 6});
}

void gpuCases(Cases &cases) {
  for (bool prefill : {false, true})
    for (Ty w : {bf16, f8, f32})
      for (Ty a : {bf16, f32, f8}) {
        if (a == f8 && w != f8)
          continue;
        const TileShape t = prefill ? prefillWgmmaTile(w) : decodeWgmmaTile();
        addGpuEpilogues(cases, true, a, w, t);
        // Long K: the stage ring wraps many times, K is not a multiple of
        // the K tile nor of the 128-wide scale blocks.
        addGpuShape(cases, wg(a, w, f32, f32, t, false, false, false), 333,
                    16 * 203, {448});
      }
  // The other legal tiles (plain and all epilogues); FP8 weights keep two
  // accumulator sets of at most 128 columns.
  for (TileShape t :
       {TileShape{128, 128, 128}, TileShape{128, 64, 64},
        TileShape{64, 128, 64}, TileShape{64, 256, 64}, TileShape{64, 64, 128}})
    for (Ty w : {bf16, f8})
      for (Ty a : {bf16, f8}) {
        if ((a == f8 && w != f8) ||
            (w == f8 && (t.bm == 128 ? t.bn : t.bn / 2) > 128))
          continue;
        for (int m : {7, 333}) {
          addGpuShape(cases, wg(a, w, f32, f32, t, false, false, false), m,
                      16 * 45, {96, 416});
          addGpuShape(cases, wg(a, w, bf16, bf16, t, true, true, true), m, 64,
                      {64, 80, 144}, {2, 72, 8, 64});
        }
      }
  // DeepSeek-V3 dims, timed against mma.sync on the same arguments: q_b
  // with rope, q_a fused with kv_a, o_proj and down with the residual, the
  // dense gate+up with SwiGLU; W8A8 at prefill too.
  const GemmRope qRope{128, 192, 128, 64, RopeKind::Plain},
      kvRope{1, 2112, 512, 64, RopeKind::Plain};
  struct Shape {
    Ty c;
    bool silu, rope, residual;
    int k;
    std::vector<int> parts;
    GemmRope r;
  };
  const Shape shapes[] = {{bf16, false, true, false, 1536, {24576}, qRope},
                          {f32, false, true, false, 7168, {576, 1536}, kvRope},
                          {f32, false, false, true, 16384, {7168}, {}},
                          {f32, false, false, true, 18432, {7168}, {}},
                          {bf16, true, false, false, 7168, {18432, 18432}, {}}};
  for (Ty w : {f8, bf16})
    for (const Shape &s : shapes)
      for (int m : {1, 8, 64, 4096}) {
        const bool prefill = m > 64;
        for (Ty a : {bf16, f8}) {
          if (a == f8 && !(prefill && w == f8))
            continue;
          const GemmKind k =
              wg(a, w, s.c, s.residual ? f32 : s.c,
                 prefill ? prefillWgmmaTile(w) : decodeWgmmaTile(), s.silu,
                 s.rope, s.residual);
          GemmCase g{k,   m,     s.k,    s.parts,
                     s.r, false, 159999, gpuBound(a, w, s.c),
                     true};
          g.mmaTile = prefill ? prefillTile(w) : decodeTile(w);
          cases.push_back(gemmCase("Gpu", kGpu, g));
        }
      }
}

} // namespace

void addWgmmaCases(Cases &cases) {
  emuCases(cases);
  gpuCases(cases);
}

} // namespace moela::cases
