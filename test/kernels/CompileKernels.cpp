//===- CompileKernels.cpp - Instantiations that are only compiled ---------===//
//
// Every instantiation the emitter can produce for DeepSeek-V3 (and V2,
// V2-Lite) and the tiny models, beyond those the cases run: each family's
// element types x shapes, and for the matrix families types x tiles x
// epilogue flags (gemmWgmma also on its other legal tiles). The compile
// check builds these and every case's kernels (Cases.cpp).
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Families.h"

#include "kernels/WgmmaLaunch.h"

namespace moela::cases {
namespace {

const Ty f32 = Ty::F32, bf16 = Ty::BF16, f8 = Ty::F8;
const Ty kAll[] = {f32, bf16, f8};
const Ty kOut[] = {f32, bf16};

void opsKernels(std::vector<Kernel> &v) {
  for (Ty tw : {bf16, f32})
    v.push_back(embeddingKernel(f32, tw));
  for (Ty ty : kAll)
    for (Ty tw : {bf16, f32})
      v.push_back(rmsNormKernel(ty, tw));
  v.push_back(addKernel());
  for (Ty to : kOut) {
    v.push_back(siluMulKernel(to));
    v.push_back(gatherRowsKernel(to));
  }
  v.push_back(ropeKernel());
  v.push_back(argmaxKernel());
  v.push_back(sampleKernel());
  for (Ty tw : {bf16, f32})
    v.push_back(kvAppendKernel(tw));
  // LatentAttention: (R, Dr, heads) of V3/V2 (128 heads), V2-Lite (16), 40
  // heads (3 head tiles), and tiny (32, 8, 4), tiny-v2 (64, 16, 2),
  // tiny-v3-fp8 (96, 16, 2).
  struct Latent {
    int r, dr, heads;
  };
  for (Latent m :
       {Latent{512, 64, 128}, Latent{512, 64, 16}, Latent{512, 64, 40},
        Latent{32, 8, 4}, Latent{64, 16, 2}, Latent{96, 16, 2}})
    for (Ty tq : {bf16, f32})
      for (Ty to : {bf16, f32})
        v.push_back(latentAttentionKernel(tq, to, m.r, m.dr, m.heads));
  for (Ty to : kOut)
    v.push_back(kvGatherKernel(to));
  // MlaPrefillAttention: (Dn, Dr, Dv) of V3/V2/V2-Lite, tiny, tiny-v2,
  // tiny-v3-fp8; as emitted (bf16), with f32 q, and all f32.
  struct Prefill {
    int dn, dr, dv;
  };
  for (Prefill p : {Prefill{128, 64, 128}, Prefill{16, 8, 16},
                    Prefill{32, 16, 32}, Prefill{64, 32, 48}}) {
    v.push_back(
        mlaPrefillAttentionKernel(bf16, bf16, bf16, bf16, p.dn, p.dr, p.dv));
    v.push_back(
        mlaPrefillAttentionKernel(f32, bf16, bf16, bf16, p.dn, p.dr, p.dv));
    v.push_back(
        mlaPrefillAttentionKernel(f32, f32, f32, f32, p.dn, p.dr, p.dv));
  }
  for (Ty to : kOut)
    for (Ty tw : {bf16, f8, f32})
      v.push_back(mlaAttentionKernel(to, tw));
  for (Ty tw : {bf16, f32, f8})
    v.push_back(routeKernel(tw));
  for (Ty ts : {bf16, f32})
    v.push_back(dispatchKernel(ts));
  v.push_back(combineKernel());
  for (Ty tw : {bf16, f8, f32})
    v.push_back(moeExpertsKernel(tw));
}

/// Every element type pair x output x the epilogues the passes produce:
/// none, silu_mul (SwiGLU), rope (q, kv_a), residual (o_proj, down), rope +
/// residual; the residual stream is f32. Then every epilogue together with a
/// bf16 residual.
void gemmFamily(std::vector<Kernel> &v, bool wgmma) {
  const bool flags[][3] = {{false, false, false},
                           {true, false, false},
                           {false, true, false},
                           {false, false, true},
                           {false, true, true}};
  for (bool prefill : {true, false})
    for (Ty a : kAll)
      for (Ty w : kAll) {
        if (a == f8 && w != f8)
          continue; // FP8 activations only feed FP8-weight GEMMs (W8A8)
        const TileShape t =
            wgmma ? (prefill ? prefillWgmmaTile(w) : decodeWgmmaTile())
                  : (prefill ? prefillTile(w) : decodeTile(w));
        for (Ty c : kOut)
          for (const auto &f : flags)
            v.push_back(gemmKernel(
                {wgmma, a, w, c, f[2] ? f32 : c, t, f[0], f[1], f[2]}));
      }
  for (Ty w : {bf16, f8})
    for (bool prefill : {true, false}) {
      const TileShape t =
          wgmma ? (prefill ? prefillWgmmaTile(w) : decodeWgmmaTile())
                : (prefill ? prefillTile(w) : decodeTile(w));
      v.push_back(
          gemmKernel({wgmma, bf16, w, bf16, bf16, t, true, true, true}));
    }
}

void matmulKernels(std::vector<Kernel> &v) {
  gemmFamily(v, false);
  // The precise router GEMM (f32 input as two bf16 halves).
  for (Ty w : {bf16, f32}) {
    GemmKind k{false, f32, w, f32, f32, {64, 64, 64}};
    k.precise = true;
    v.push_back(gemmKernel(k));
  }
  for (bool prefill : {true, false})
    for (Ty a : {bf16, f32})
      for (Ty w : kAll)
        for (Ty c : kOut)
          for (bool silu : {false, true})
            v.push_back(groupedGemmKernel(
                a, w, c, prefill ? prefillTile(w) : decodeTile(w), silu));
  for (Ty x : {bf16, f32})
    for (Ty w : kAll)
      for (Ty y : kOut)
        for (bool transpose : {false, true})
          v.push_back(headGemmKernel(x, w, y, headTile(), transpose));
  // The GEMM tiles too, should the tiler ever give them to HeadGemm.
  for (bool transpose : {false, true})
    v.push_back(headGemmKernel(bf16, bf16, f32, {128, 128, 64}, transpose));
}

/// gemmWgmma's other legal tiles (GemmWgmma.cuh) with the plain epilogue:
/// BK = 128, 64-row tiles with 128 and 256 columns, 128 x 64, W8A8.
void wgmmaKernels(std::vector<Kernel> &v) {
  gemmFamily(v, true);
  const TileShape tiles[] = {{128, 128, 128}, {128, 64, 64}, {64, 128, 64},
                             {64, 256, 64},   {64, 64, 128}, {128, 256, 128}};
  for (const TileShape &t : tiles)
    for (Ty w : {bf16, f8})
      for (Ty a : kAll) {
        if (a == f8 && w != f8)
          continue;
        if (w == f8 && (t.bm == 128 ? t.bn : t.bn / 2) > 128)
          continue; // FP8 weights: two accumulator sets of at most 128 columns
        if (kernels::wgmmaLayout(t.bm, t.bn, t.bk, int(sizeOf(a)),
                                 int(sizeOf(w)))
                .stages < 2)
          continue; // f32 activations with the largest tiles: no 2 stages in
                    // 227 KiB
        const Ty c = a == f8 ? bf16 : f32;
        v.push_back(gemmKernel({true, a, w, c, c, t, a == f8, false, false}));
      }
}

} // namespace

std::vector<Kernel> compileOnlyKernels() {
  std::vector<Kernel> v;
  opsKernels(v);
  matmulKernels(v);
  wgmmaKernels(v);
  return v;
}

} // namespace moela::cases
