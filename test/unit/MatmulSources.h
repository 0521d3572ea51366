//===- MatmulSources.h - Instantiation sources of the matrix kernels ------===//
//
// The CUDA C++ that the plan emitter writes for Gemm, GroupedGemm and
// HeadGemm steps, exactly as the comments at the top of
// runtime/kernels/{Gemm,GroupedGemm,HeadGemm}.cuh say. Shared by
// MatmulCompileTest (NVRTC only) and test/gpu/MatmulGpuTest (runs them).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_MATMULSOURCES_H
#define MOELA_TEST_MATMULSOURCES_H

#include <string>

namespace moela::test {

/// Element types as the kernels spell them.
enum class Ty { F32, BF16, F8 };

inline const char *cudaType(Ty t) {
  return t == Ty::F32 ? "float" : t == Ty::BF16 ? "__nv_bfloat16" : "__nv_fp8_e4m3";
}
inline const char *shortName(Ty t) { return t == Ty::F32 ? "f32" : t == Ty::BF16 ? "bf16" : "f8"; }
inline const char *flag(bool b) { return b ? "true" : "false"; }

struct TileShape {
  int bm, bn, bk;
};

struct GemmKernel {
  Ty a, w, c, r;
  TileShape tile;
  bool silu, rope, residual;
  bool precise = false; // PRECISE_A: f32 a as two bf16 halves

  std::string name() const {
    return std::string("moela_gemm_") + shortName(a) + "_" + shortName(w) + "_" + shortName(c) +
           "_" + shortName(r) + "_" + std::to_string(tile.bm) + "x" + std::to_string(tile.bn) +
           "x" + std::to_string(tile.bk) + (silu ? "_silu" : "") + (rope ? "_rope" : "") +
           (residual ? "_res" : "") + (precise ? "_precise" : "");
  }
  std::string source() const {
    return "#include \"Gemm.cuh\"\n"
           "extern \"C\" __global__ void __launch_bounds__(256, 1)\n" +
           name() + "(const moela::kernels::GemmArgs args) {\n  moela::kernels::gemm<" +
           cudaType(a) + ", " + cudaType(w) + ", " + cudaType(c) + ", " + cudaType(r) + ", " +
           std::to_string(tile.bm) + ", " + std::to_string(tile.bn) + ", " +
           std::to_string(tile.bk) + ", " + flag(silu) + ", " + flag(rope) + ", " +
           flag(residual) + (precise ? ", true" : "") + ">(args);\n}\n";
  }
};

struct GroupedGemmKernel {
  Ty a, w, c;
  TileShape tile;
  bool silu;

  std::string name() const {
    return std::string("moela_grouped_gemm_") + shortName(a) + "_" + shortName(w) + "_" +
           shortName(c) + "_" + std::to_string(tile.bm) + "x" + std::to_string(tile.bn) + "x" +
           std::to_string(tile.bk) + (silu ? "_silu" : "");
  }
  std::string source() const {
    return "#include \"GroupedGemm.cuh\"\n"
           "extern \"C\" __global__ void __launch_bounds__(256, 1)\n" +
           name() + "(const moela::kernels::GroupedGemmArgs args) {\n" +
           "  moela::kernels::groupedGemm<" + cudaType(a) + ", " + cudaType(w) + ", " +
           cudaType(c) + ", " + std::to_string(tile.bm) + ", " + std::to_string(tile.bn) + ", " +
           std::to_string(tile.bk) + ", " + flag(silu) + ">(args);\n}\n";
  }
};

struct HeadGemmKernel {
  Ty x, w, y;
  TileShape tile;
  bool transpose;

  std::string name() const {
    return std::string("moela_head_gemm_") + shortName(x) + "_" + shortName(w) + "_" +
           shortName(y) + "_" + std::to_string(tile.bm) + "x" + std::to_string(tile.bn) + "x" +
           std::to_string(tile.bk) + (transpose ? "_t" : "");
  }
  std::string source() const {
    return "#include \"HeadGemm.cuh\"\n"
           "extern \"C\" __global__ void __launch_bounds__(256, 1)\n" +
           name() + "(const moela::kernels::HeadGemmArgs args) {\n" +
           "  moela::kernels::headGemm<" + cudaType(x) + ", " + cudaType(w) + ", " +
           cudaType(y) + ", " + std::to_string(tile.bm) + ", " + std::to_string(tile.bn) + ", " +
           std::to_string(tile.bk) + ", " + flag(transpose) + ">(args);\n}\n";
  }
};

/// The tiles moela-tile gives (passes/Tile.cpp): block_k is 128 for FP8
/// weights, else 64; HeadGemm always 64 x 64 x 64.
inline TileShape prefillTile(Ty w) { return {128, 128, w == Ty::F8 ? 128 : 64}; }
inline TileShape decodeTile(Ty w) { return {64, 64, w == Ty::F8 ? 128 : 64}; }
inline TileShape headTile() { return {64, 64, 64}; }

} // namespace moela::test

#endif // MOELA_TEST_MATMULSOURCES_H
