//===- Families.cpp - The instantiations of every kernel family -----------===//
#include "Families.h"

#include "kernels/MatmulLaunch.h"
#include "kernels/OpsLaunch.h"
#include "kernels/WgmmaLaunch.h"

namespace moela::cases {
namespace {

namespace K = moela::kernels;

// DeepSeek-V3 sizes for the dynamic shared memory of the row families.
constexpr long long kHidden = 7168, kExperts = 256, kMoeInter = 2048;

std::string flag(bool b) { return b ? "true" : "false"; }
std::string num(int v) { return std::to_string(v); }

Kernel make(const char *family, const char *args, const char *function,
            std::vector<std::string> params, int threads = 256,
            long long shared = 0, bool minBlocks1 = false) {
  return Kernel{family,  args,       function, std::move(params),
                threads, minBlocks1, shared};
}

} // namespace

Kernel embeddingKernel(Ty out, Ty table) {
  return make("Embedding", "EmbeddingArgs", "embedding",
              {cudaType(out), cudaType(table)});
}

Kernel rmsNormKernel(Ty y, Ty weight) {
  return make(
      "RmsNorm", "RmsNormArgs", "rmsNorm",
      {cudaType(Ty::F32), cudaType(Ty::F32), cudaType(y), cudaType(weight)},
      256, 4 * kHidden);
}

Kernel addKernel() {
  const char *f = cudaType(Ty::F32);
  return make("Elementwise", "AddArgs", "add", {f, f, f});
}

Kernel siluMulKernel(Ty out) {
  const char *f = cudaType(Ty::F32);
  return make("Elementwise", "SiluMulArgs", "siluMul", {f, f, cudaType(out)});
}

Kernel gatherRowsKernel(Ty t) {
  return make("Elementwise", "GatherRowsArgs", "gatherRows",
              {cudaType(t), cudaType(t)});
}

Kernel ropeKernel() {
  const char *f = cudaType(Ty::F32);
  return make("Rope", "RopeArgs", "rope", {f, f}, 256, 4 * 64);
}

Kernel argmaxKernel() {
  return make("Argmax", "ArgmaxArgs", "argmax", {cudaType(Ty::F32)}, 1024);
}

Kernel sampleKernel() {
  return make("Sample", "SampleArgs", "sampleRows", {cudaType(Ty::F32)}, 1024);
}

Kernel sampleCandidatesKernel() {
  return make("Sample", "SampleCandidatesArgs", "sampleCandidates",
              {cudaType(Ty::F32)}, 1024);
}

Kernel kvAppendKernel(Ty norm) {
  const char *f = cudaType(Ty::F32);
  return make("KvAppend", "KvAppendArgs", "kvAppend", {f, f, cudaType(norm)});
}

Kernel kvGatherKernel(Ty out) {
  return make("KvGather", "KvGatherArgs", "kvGather", {cudaType(out)});
}

Kernel latentAttentionKernel(Ty q, Ty out, int latent, int rope, int heads) {
  return make("LatentAttention", "LatentAttentionArgs", "latentAttention",
              {cudaType(q), cudaType(q), cudaType(out), num(latent), num(rope),
               num(K::latentAttentionMTiles(heads))},
              K::latentAttentionThreads(heads),
              K::latentAttentionMaxSharedBytes(latent, rope, heads), true);
}

Kernel mlaAttentionKernel(Ty out, Ty kvB) {
  return make("MlaAttention", "MlaAttentionArgs", "mlaAttention",
              {cudaType(Ty::F32), cudaType(out), cudaType(kvB)}, 256,
              4LL * (128 + 64 + 10 * 512 + 16));
}

Kernel mlaPrefillAttentionKernel(Ty q, Ty kv, Ty kPe, Ty out, int nope,
                                 int rope, int v) {
  return make("MlaPrefillAttention", "MlaPrefillAttentionArgs",
              "mlaPrefillAttention",
              {cudaType(q), cudaType(kv), cudaType(kPe), cudaType(out),
               num(nope), num(rope), num(v)},
              K::mlaPrefillAttentionThreads(),
              K::mlaPrefillAttentionSharedBytes(nope, rope, v));
}

Kernel routeKernel(Ty gate) {
  return make("Route", "RouteArgs", "route",
              {cudaType(Ty::F32), cudaType(gate)}, 256,
              4 * (kHidden + kExperts));
}

Kernel dispatchKernel(Ty sorted) {
  return make("Dispatch", "DispatchArgs", "dispatch",
              {cudaType(Ty::F32), cudaType(sorted)}, 1024,
              4 * (33 * kExperts + 1));
}

Kernel combineKernel() {
  const char *f = cudaType(Ty::F32);
  return make("Combine", "CombineArgs", "combine", {f, f, f, f});
}

Kernel moeExpertsKernel(Ty weights) {
  const char *f = cudaType(Ty::F32);
  return make("MoeExperts", "MoeExpertsArgs", "moeExperts",
              {f, f, cudaType(weights)}, 256, 4 * (kHidden + kMoeInter));
}

Kernel gemmKernel(const GemmKind &g) {
  std::vector<std::string> p = {cudaType(g.a),   cudaType(g.w),  cudaType(g.c),
                                cudaType(g.r),   num(g.tile.bm), num(g.tile.bn),
                                num(g.tile.bk),  flag(g.silu),   flag(g.rope),
                                flag(g.residual)};
  if (g.wgmma)
    return make("GemmWgmma", "GemmArgs", "gemmWgmma", p, K::kWgmmaThreads,
                K::kWgmmaSharedBytes, true);
  if (g.precise)
    p.push_back("true");
  return make("Gemm", "GemmArgs", "gemm", p, K::kMatmulThreads,
              K::kMatmulSharedBytes, true);
}

Kernel groupedGemmKernel(Ty a, Ty w, Ty c, TileShape tile, bool silu) {
  return make("GroupedGemm", "GroupedGemmArgs", "groupedGemm",
              {cudaType(a), cudaType(w), cudaType(c), num(tile.bm),
               num(tile.bn), num(tile.bk), flag(silu)},
              K::kMatmulThreads, K::kMatmulSharedBytes, true);
}

Kernel headGemmKernel(Ty x, Ty w, Ty y, TileShape tile, bool transpose) {
  return make("HeadGemm", "HeadGemmArgs", "headGemm",
              {cudaType(x), cudaType(w), cudaType(y), num(tile.bm),
               num(tile.bn), num(tile.bk), flag(transpose)},
              K::kMatmulThreads, K::kMatmulSharedBytes, true);
}

TileShape prefillTile(Ty w) { return {128, 128, w == Ty::F8 ? 128 : 64}; }
TileShape decodeTile(Ty w) { return {64, 64, w == Ty::F8 ? 128 : 64}; }
TileShape headTile() { return {64, 64, 64}; }
TileShape prefillWgmmaTile(Ty w) {
  return {128, w == Ty::BF16 ? 256 : 128, 64};
}
TileShape decodeWgmmaTile() { return {64, 64, 64}; }

} // namespace moela::cases
