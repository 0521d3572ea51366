//===- HeadGemmCases.cpp - HeadGemm (MLA's per-head absorption GEMMs) -----===//
//
// Per head h of kv_b [H * headRows, C]: transposed, q_abs[t, h] =
// W_h^T x[t, h] (W_h = rows [h headRows + rowOffset, + wRows)); else
// o[t, h] = W_h x[t, h]; inputs and outputs at a head stride (in place
// inside q, gaps between output heads that must stay NaN), against
// host::headGemm. The GPU adds every element type at T = 1, 7, 70 and
// DeepSeek-V3's heads, timed.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Device.h"
#include "Families.h"
#include "MatmulOperands.h"

#include "kernels/MatmulLaunch.h"

#include <cmath>
#include <cstdio>

namespace moela::cases {
namespace {

const Ty f32 = Ty::F32, bf16 = Ty::BF16, f8 = Ty::F8;

struct HeadCase {
  Ty x, w, y;
  TileShape tile;
  bool transpose;
  int rows, heads, headRows, rowOffset, wRows, C;
  int inStride = 0, outStride = 0; // 0: packed
  double bound = 0;
  bool bench = false;
};

void runHead(Report &rep, const std::string &what, const HeadCase &h) {
  Rng rng(what);
  const int inLen = h.transpose ? h.wRows : h.C,
            outLen = h.transpose ? h.C : h.wRows;
  const int inStride = h.inStride ? h.inStride : inLen;
  const int outStride = h.outStride ? h.outStride : outLen;
  const int64_t xCols = int64_t(h.heads) * inStride,
                yCols = int64_t(h.heads) * outStride;
  const Activations x = randomActivations(rng, h.x, h.rows, xCols);
  const Weights w =
      randomWeights(rng, h.w, 1, int64_t(h.heads) * h.headRows, h.C);

  // The reference first: host::headGemm, or dot products in double.
  const bool full =
      int64_t(h.rows) * h.heads * h.wRows * h.C <= (int64_t(1) << 28);
  const uint64_t s = rng.stream();
  const std::vector<int64_t> rows = sample(h.rows, full ? h.rows : 16, s),
                             heads = sample(h.heads, full ? h.heads : 6, s + 3),
                             outs = sample(outLen, full ? outLen : 96, s + 11);
  std::vector<int64_t> cols;
  for (int64_t hh : heads)
    for (int64_t o : outs)
      cols.push_back(hh * outStride + o);
  std::vector<double> expected(rows.size() * cols.size());
  if (full) {
    std::vector<float> ref(size_t(h.rows) * yCols, NAN);
    H::HeadGemmShape shape;
    shape.heads = h.heads;
    shape.headRows = h.headRows;
    shape.rowOffset = h.rowOffset;
    shape.rows = h.wRows;
    shape.transpose = h.transpose;
    shape.inStride = inStride;
    shape.outStride = outStride;
    const std::vector<float> xv = x.values(), wv = w.values(0);
    H::headGemm(cmat(xv, h.rows, xCols),
                H::Weight{wv.data(), int64_t(h.heads) * h.headRows, h.C}, shape,
                mat(ref, h.rows, yCols));
    for (size_t i = 0; i < rows.size(); ++i)
      for (size_t j = 0; j < cols.size(); ++j)
        expected[i * cols.size() + j] = ref[size_t(rows[i] * yCols + cols[j])];
  } else {
    parallelRange(
        int64_t(rows.size()),
        [&](int64_t begin, int64_t end) {
          for (int64_t i = begin; i < end; ++i)
            for (size_t j = 0; j < cols.size(); ++j) {
              const int64_t hh = cols[j] / outStride, o = cols[j] % outStride;
              const int64_t base = hh * h.headRows + h.rowOffset;
              double sum = 0;
              for (int64_t q = 0; q < inLen; ++q)
                sum += double(x.value(rows[size_t(i)], hh * inStride + q)) *
                       (h.transpose ? w.value(0, base + q, o)
                                    : w.value(0, base + o, q));
              expected[size_t(i) * cols.size() + j] = sum;
            }
        },
        1);
  }

  Tensor y(h.y, h.rows, yCols);
  K::HeadGemmArgs args{};
  args.x = x.data.view();
  args.in_stride = h.inStride;
  args.w = w.weight();
  args.y = y.view();
  args.out_stride = h.outStride;
  args.rows = h.rows;
  args.heads = h.heads;
  args.head_rows = h.headRows;
  args.row_offset = h.rowOffset;
  args.w_rows = h.wRows;
  args.transpose = h.transpose;
  const Kernel kernel = headGemmKernel(h.x, h.w, h.y, h.tile, h.transpose);
  const K::Launch l = K::launchHeadGemm(
      args, K::Tile{h.tile.bm, h.tile.bn, h.tile.bk, 0, K::kMatmulThreads});
  launch(kernel, l, args);

  checkMatrix(rep, what, y, rows, cols, expected, h.bound,
              [&](int64_t, int64_t col) { return col % outStride < outLen; });
  if (!h.bench || !device().timed())
    return;
  const double us = launchMicroseconds(kernel, l, args);
  const double bytes =
      double(h.rows) * h.heads * (inLen * sizeOf(h.x) + outLen * sizeOf(h.y)) +
      double(h.heads) * h.wRows * h.C * sizeOf(h.w);
  printBench(what, us, 2.0 * h.rows * h.heads * h.wRows * h.C, bytes);
}

void add(Cases &cases, const std::string &test, unsigned suites,
         const HeadCase &h) {
  const std::string name =
      std::string("headGemm<") + tyName(h.x) + ", " + tyName(h.w) + ", " +
      tyName(h.y) + ", " + std::to_string(h.tile.bm) + "x" +
      std::to_string(h.tile.bn) + "x" + std::to_string(h.tile.bk) +
      (h.transpose ? ", transpose" : "") + "> T=" + std::to_string(h.rows) +
      " H=" + std::to_string(h.heads) + " rows " + std::to_string(h.rowOffset) +
      "+" + std::to_string(h.wRows) + "/" + std::to_string(h.headRows) +
      " C=" + std::to_string(h.C) + " strides " + std::to_string(h.inStride) +
      "," + std::to_string(h.outStride);
  addCase(
      cases, "HeadGemm." + test, name, suites,
      headGemmKernel(h.x, h.w, h.y, h.tile, h.transpose),
      [=](Report &r) { runHead(r, name, h); }, h.bench);
}

/// Both absorption GEMMs on kv_b = [heads * (nope + v), latent]: q_lat =
/// W_uk^T q_nope (read at a stride of nope + inPad), o = W_uv o_lat
/// (written at a stride of v + outPad).
void emu(Cases &cases, const std::string &test, Ty x, Ty w, Ty y, TileShape t,
         int rows, int heads, int nope, int v, int latent, int inPad,
         int outPad) {
  const int headRows = nope + v;
  const double bound = emuBound(y);
  add(cases, test, kEmu,
      {x, w, y, t, true, rows, heads, headRows, 0, nope, latent,
       inPad ? nope + inPad : 0, outPad ? latent + outPad : 0, bound});
  add(cases, test, kEmu,
      {x, w, y, t, false, rows, heads, headRows, nope, v, latent,
       inPad ? latent + inPad : 0, outPad ? v + outPad : 0, bound});
}

} // namespace

void addHeadGemmCases(Cases &cases) {
  const TileShape t64 = headTile();
  // tiny: H=4, Dn=Dv=16, R=32, q_nope read in place from q [T, H*(Dn+Dr)];
  // tiny-v2: H=2, Dn=Dv=32, R=64, gaps between the output heads.
  emu(cases, "TinyBf16", bf16, bf16, bf16, t64, 70, 4, 16, 16, 32, 8, 0);
  emu(cases, "TinyBf16", bf16, bf16, bf16, t64, 5, 2, 32, 32, 64, 0, 8);
  // tiny-v3-fp8: H=2, Dn=Dv=32, R=96; heads across 128-row scale blocks, K
  // across one (Dn=144), R=160 across a 128-column block.
  emu(cases, "TinyFp8", bf16, f8, bf16, t64, 70, 2, 32, 32, 96, 16, 0);
  emu(cases, "TinyFp8", bf16, f8, bf16, t64, 9, 3, 144, 64, 160, 0, 8);
  // Should the tiler ever give the GEMM tiles.
  emu(cases, "GemmTiles", bf16, bf16, f32, {128, 128, 64}, 130, 2, 32, 48, 160,
      0, 0);
  // K over the pipeline's stages both ways (V3: Dn = 128, R = 512).
  emu(cases, "LongK", bf16, f8, bf16, t64, 9, 2, 576, 64, 640, 0, 0);

  // The GPU. Tiny MLA (H = 4, Dn = 32, Dv = 48, R = 64, Dr = 16): q_abs =
  // Wuk^T q_nope inside q [T, H*(32+16)], out = Wuv o_lat strided.
  for (Ty w : {bf16, f8, f32})
    for (Ty x : {bf16, f32})
      for (Ty y : {f32, bf16})
        for (int t : {1, 7, 70}) {
          add(cases, "Gpu", kGpu,
              {x, w, y, t64, true, t, 4, 80, 0, 32, 64, 48, 0,
               gpuBound(x, w, y)});
          add(cases, "Gpu", kGpu,
              {x, w, y, t64, false, t, 4, 80, 32, 48, 64, 0, 56,
               gpuBound(x, w, y)});
        }
  // A head's weight rows straddling a 128-row scale block (FP8, transpose).
  add(cases, "Gpu", kGpu,
      {bf16, f8, f32, t64, true, 33, 3, 96, 16, 64, 128, 0, 0,
       gpuBound(bf16, f8, f32)});
  // DeepSeek-V3: H = 128, Dn = Dv = 128, R = 512, Dr = 64.
  for (int t : {1, 64, 2048})
    for (Ty w : {f8, bf16}) {
      add(cases, "Gpu", kGpu,
          {bf16, w, f32, t64, true, t, 128, 256, 0, 128, 512, 192, 0,
           gpuBound(bf16, w, f32), true});
      add(cases, "Gpu", kGpu,
          {bf16, w, bf16, t64, false, t, 128, 256, 128, 128, 512, 0, 0,
           gpuBound(bf16, w, bf16), true});
    }
}

} // namespace moela::cases
