//===- WgmmaCompileTest.cpp - gemmWgmma compiles for sm_90a on tensor cores ===//
//
// No GPU needed: every gemmWgmma instantiation the emitter can produce
// (element types x the tiles moela-tile --gemm-kernel=wgmma gives x epilogue
// flags, and the other legal tiles with the plain epilogue) is written as the
// header of runtime/kernels/GemmWgmma.cuh says and compiled with NVRTC for
// sm_90a. ptxas must report no spills, no stack, at most 168 registers (the
// cap of __launch_bounds__(384, 1); the kernel uses no setmaxnreg), no static
// shared memory, and the layout must fit the 227 KiB of dynamic shared memory
// the launch asks for. The SASS must hold the Hopper warpgroup MMAs: HGMMA
// (bf16 compute) or QGMMA (W8A8, e4m3) and no mma.sync HMMA: the cubin is
// dumped to a temporary file and disassembled with cuobjdump ($CUOBJDUMP,
// else /usr/local/cuda/bin/cuobjdump, else cuobjdump on PATH; that check is
// skipped with a message when there is none, or when it cannot disassemble
// because nvdisasm is missing). Also checks WgmmaLaunch.h (plain C++).
//
//===----------------------------------------------------------------------===//
#include "MatmulSources.h"

#include "moela/Runtime/Nvrtc.h"

#include "kernels/MatmulLaunch.h"
#include "kernels/WgmmaLaunch.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

namespace {

using namespace moela;
using namespace moela::test;

/// The emitter's gemmWgmma instantiation (GemmWgmma.cuh header comment).
struct WgmmaKernel {
  Ty a, w, c, r;
  TileShape tile;
  bool silu, rope, residual;

  std::string name() const {
    return std::string("moela_gemm_wgmma_") + shortName(a) + "_" + shortName(w) + "_" +
           shortName(c) + "_" + shortName(r) + "_" + std::to_string(tile.bm) + "x" +
           std::to_string(tile.bn) + "x" + std::to_string(tile.bk) + (silu ? "_silu" : "") +
           (rope ? "_rope" : "") + (residual ? "_res" : "");
  }
  std::string source() const {
    return "#include \"GemmWgmma.cuh\"\n"
           "extern \"C\" __global__ void __launch_bounds__(384, 1)\n" +
           name() + "(const moela::kernels::GemmArgs args) {\n  moela::kernels::gemmWgmma<" +
           cudaType(a) + ", " + cudaType(w) + ", " + cudaType(c) + ", " + cudaType(r) + ", " +
           std::to_string(tile.bm) + ", " + std::to_string(tile.bn) + ", " +
           std::to_string(tile.bk) + ", " + flag(silu) + ", " + flag(rope) + ", " +
           flag(residual) + ">(args);\n}\n";
  }
  bool w8a8() const { return a == Ty::F8 && w == Ty::F8; }
};

/// The tiles of moela-tile --gemm-kernel=wgmma (passes/Tile.cpp).
TileShape prefillWgmmaTile(Ty w) { return {128, w == Ty::BF16 ? 256 : 128, 64}; }
TileShape decodeWgmmaTile() { return {64, 64, 64}; }

int elementSize(Ty t) { return t == Ty::F32 ? 4 : t == Ty::BF16 ? 2 : 1; }

struct Outcome {
  WgmmaKernel k;
  std::string error;
  NvrtcResult result;
};

std::vector<Outcome> compileAll(const std::vector<WgmmaKernel> &kernels) {
  std::vector<Outcome> out(kernels.size());
  std::atomic<size_t> next{0};
  const unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::thread> pool;
  NvrtcOptions options; // no cache: compile for real
  for (unsigned w = 0; w < workers; ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < kernels.size();) {
        out[i].k = kernels[i];
        try {
          out[i].result = compileCuda(kernels[i].name(), kernels[i].source(), options);
        } catch (const std::exception &e) {
          out[i].error = e.what();
        }
      }
    });
  for (std::thread &t : pool)
    t.join();
  return out;
}

// ---- SASS ---------------------------------------------------------------------

/// cuobjdump to use, or "" (with the reason in `why`).
std::string findCuobjdump(std::string &why) {
  if (const char *env = std::getenv("CUOBJDUMP"); env && *env)
    return env;
  if (access("/usr/local/cuda/bin/cuobjdump", X_OK) == 0)
    return "/usr/local/cuda/bin/cuobjdump";
  if (std::system("command -v cuobjdump >/dev/null 2>&1") == 0)
    return "cuobjdump";
  why = "no cuobjdump ($CUOBJDUMP, /usr/local/cuda/bin, PATH)";
  return "";
}

struct Sass {
  bool ok = false;
  std::string skip; // why the check could not run
  std::string text;
};

/// The SASS of a cubin: written to a temporary file, disassembled.
Sass disassemble(const std::string &tool, const std::vector<uint8_t> &cubin,
                 const std::string &name) {
  Sass s;
  char dir[] = "/tmp/moela-wgmma-XXXXXX";
  if (!mkdtemp(dir)) {
    s.skip = "cannot create a temporary directory";
    return s;
  }
  const std::string cubinPath = std::string(dir) + "/" + name + ".cubin";
  const std::string outPath = std::string(dir) + "/" + name + ".sass";
  {
    std::ofstream f(cubinPath, std::ios::binary);
    f.write(reinterpret_cast<const char *>(cubin.data()), std::streamsize(cubin.size()));
  }
  const std::string cmd = "'" + tool + "' --dump-sass '" + cubinPath + "' > '" + outPath + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(outPath);
  std::stringstream ss;
  ss << in.rdbuf();
  s.text = ss.str();
  std::remove(cubinPath.c_str());
  std::remove(outPath.c_str());
  rmdir(dir);
  if (rc != 0 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    if (s.text.find("nvdisasm") != std::string::npos)
      s.skip = "cuobjdump cannot disassemble without nvdisasm: " + s.text.substr(0, 200);
    else
      s.skip = "";
    s.ok = false;
    if (s.skip.empty())
      s.skip = "!" + s.text.substr(0, 400); // a real failure
    return s;
  }
  s.ok = true;
  return s;
}

/// Occurrences of SASS opcodes starting with `op` (e.g. "HGMMA.").
int countOps(const std::string &sass, const std::string &op) {
  int n = 0;
  for (size_t p = 0; (p = sass.find(op, p)) != std::string::npos; p += op.size()) {
    const char before = p > 0 ? sass[p - 1] : ' ';
    if (before == ' ' || before == '\t')
      ++n;
  }
  return n;
}

void checkOutcomes(const std::vector<Outcome> &outcomes) {
  std::string why;
  const std::string tool = findCuobjdump(why);
  if (tool.empty())
    std::printf("  SKIP SASS check: %s\n", why.c_str());
  bool sassSkipped = tool.empty();
  for (const Outcome &o : outcomes) {
    const std::string name = o.k.name();
    SCOPED_TRACE(name);
    ASSERT_TRUE(o.error.empty()) << o.error;
    const NvrtcResult &r = o.result;
    EXPECT_FALSE(r.cubin.empty());
    EXPECT_EQ(r.spillBytes, 0) << r.log;
    EXPECT_EQ(r.stackBytes, 0) << r.log;
    EXPECT_GT(r.registers, 0) << r.log;
    EXPECT_LE(r.registers, 168) << r.log; // 65536 / 384, rounded down to 8
    EXPECT_EQ(r.sharedBytes, 0) << r.log;
    // ptxas serialises wgmmas it cannot prove safe, and says so.
    EXPECT_EQ(r.log.find("serialized"), std::string::npos) << r.log;
    const kernels::WgmmaLayout l =
        kernels::wgmmaLayout(o.k.tile.bm, o.k.tile.bn, o.k.tile.bk, elementSize(o.k.a),
                             elementSize(o.k.w));
    EXPECT_GE(l.stages, 2);
    EXPECT_LE(1024 + l.headerBytes + l.stages * l.stageBytes, int(kernels::kWgmmaSharedBytes));
    EXPECT_LE(1024 + l.headerBytes + l.stagingBytes, int(kernels::kWgmmaSharedBytes));
    int hgmma = -1, qgmma = -1, hmma = -1;
    if (!sassSkipped) {
      const Sass s = disassemble(tool, r.cubin, name);
      if (!s.ok && !s.skip.empty() && s.skip[0] != '!') {
        std::printf("  SKIP SASS check: %s\n", s.skip.c_str());
        sassSkipped = true;
      } else {
        ASSERT_TRUE(s.ok) << "cuobjdump failed: " << s.skip.substr(1);
        hgmma = countOps(s.text, "HGMMA.");
        qgmma = countOps(s.text, "QGMMA.");
        hmma = countOps(s.text, "HMMA.");
        if (o.k.w8a8()) {
          EXPECT_GT(qgmma, 0) << "W8A8 must run QGMMA";
          EXPECT_EQ(hgmma, 0);
        } else {
          EXPECT_GT(hgmma, 0) << "bf16 compute must run HGMMA";
          EXPECT_EQ(qgmma, 0);
        }
        EXPECT_EQ(hmma, 0) << "no mma.sync in the wgmma kernel";
      }
    }
    std::printf("  %-56s %3d regs %d spill %d stack %d smem + %u dyn, %d stages x %6d B",
                name.c_str(), r.registers, r.spillBytes, r.stackBytes, r.sharedBytes,
                kernels::kWgmmaSharedBytes, l.stages, l.stageBytes);
    if (hgmma >= 0)
      std::printf(", SASS %d HGMMA %d QGMMA %d HMMA", hgmma, qgmma, hmma);
    std::printf("\n");
  }
}

const Ty kAll[] = {Ty::F32, Ty::BF16, Ty::F8};
const Ty kOut[] = {Ty::F32, Ty::BF16};

TEST(WgmmaCompile, GemmTiles) {
  std::vector<WgmmaKernel> jobs;
  for (bool prefill : {true, false})
    for (Ty a : kAll)
      for (Ty w : kAll) {
        if (a == Ty::F8 && w != Ty::F8)
          continue; // FP8 activations only feed FP8-weight GEMMs (W8A8)
        const TileShape tile = prefill ? prefillWgmmaTile(w) : decodeWgmmaTile();
        for (Ty c : kOut) {
          // none, silu_mul, rope, residual, rope + residual (f32 residual stream)
          const bool flags[][3] = {{false, false, false}, {true, false, false},
                                   {false, true, false},  {false, false, true},
                                   {false, true, true}};
          for (const auto &f : flags)
            jobs.push_back({a, w, c, f[2] ? Ty::F32 : c, tile, f[0], f[1], f[2]});
        }
      }
  // Every epilogue together, and a bf16 residual.
  for (Ty w : {Ty::BF16, Ty::F8})
    for (bool prefill : {true, false})
      jobs.push_back({Ty::BF16, w, Ty::BF16, Ty::BF16,
                      prefill ? prefillWgmmaTile(w) : decodeWgmmaTile(), true, true, true});
  checkOutcomes(compileAll(jobs));
}

TEST(WgmmaCompile, OtherTiles) {
  // The other legal shapes (GemmWgmma.cuh): BK = 128 (two 128-byte K slabs
  // for bf16), 64-row tiles with 128 and 256 columns (64 / 128 per
  // consumer), 128 x 64, W8A8 with any BK; the plain epilogue.
  std::vector<WgmmaKernel> jobs;
  const TileShape tiles[] = {{128, 128, 128}, {128, 64, 64}, {64, 128, 64},
                             {64, 256, 64},   {64, 64, 128}, {128, 256, 128}};
  for (const TileShape &t : tiles)
    for (Ty w : {Ty::BF16, Ty::F8})
      for (Ty a : kAll) {
        if (a == Ty::F8 && w != Ty::F8)
          continue;
        if (w == Ty::F8 && (t.bm == 128 ? t.bn : t.bn / 2) > 128)
          continue; // FP8 weights: two accumulator sets of at most 128 columns
        if (kernels::wgmmaLayout(t.bm, t.bn, t.bk, elementSize(a), elementSize(w)).stages < 2)
          continue; // f32 activations with the largest tiles: no 2 stages in 227 KiB
        const bool f8 = a == Ty::F8;
        jobs.push_back({a, w, f8 ? Ty::BF16 : Ty::F32, f8 ? Ty::BF16 : Ty::F32, t, f8, false,
                        false});
      }
  checkOutcomes(compileAll(jobs));
}

// ---- Layout and launch geometry (host only) ----------------------------------------

TEST(WgmmaLayout, StagesAndAlignment) {
  struct Case {
    int bm, bn, bk, a, w, stages;
  };
  // The tiler's tiles: bf16 / FP8 weights with bf16 activations, W8A8, f32.
  const Case cases[] = {{128, 256, 64, 2, 2, 4}, {128, 128, 64, 2, 1, 5}, {128, 128, 64, 1, 1, 6},
                        {64, 64, 64, 2, 2, 8},   {64, 64, 64, 2, 1, 8},   {128, 256, 64, 4, 2, 2},
                        {128, 128, 64, 4, 4, 2}};
  for (const Case &c : cases) {
    const kernels::WgmmaLayout l = kernels::wgmmaLayout(c.bm, c.bn, c.bk, c.a, c.w);
    SCOPED_TRACE(std::to_string(c.bm) + "x" + std::to_string(c.bn) + "x" + std::to_string(c.bk));
    EXPECT_EQ(l.stages, c.stages);
    EXPECT_EQ(l.stageBytes % 1024, 0);
    EXPECT_EQ(l.headerBytes % 1024, 0);
    EXPECT_EQ(l.aTile % 1024, 0);
    EXPECT_EQ(l.wTile % 1024, 0);
    EXPECT_EQ(l.bk, c.a == 1 && c.w == 1 ? 128 : c.bk);
  }
}

TEST(WgmmaLaunch, Gemm) {
  kernels::GemmArgs args{};
  args.m = 333;
  args.n = 7168;
  const kernels::Tile tile{128, 128, 64, 5, kernels::kWgmmaThreads};
  EXPECT_TRUE(kernels::isWgmmaTile(tile));
  EXPECT_FALSE(kernels::isWgmmaTile({128, 128, 64, 7, 256}));
  kernels::Launch l = kernels::launchGemmWgmma(args, tile);
  EXPECT_EQ(l.grid_x, 3u * 56u);
  EXPECT_EQ(l.grid_y, 1u);
  EXPECT_EQ(l.grid_z, 1u);
  EXPECT_EQ(l.block, 384u);
  EXPECT_EQ(l.shared_bytes, 232448u);
  // The same grid as the mma.sync Gemm for the same tile.
  for (int silu : {0, 1})
    for (int m : {0, 1, 7, 64, 65, 4096})
      for (int n : {64, 2112, 7168, 36864})
        for (kernels::Tile t : {kernels::Tile{128, 256, 64, 4, 384}, kernels::Tile{64, 64, 64, 8, 384},
                                kernels::Tile{128, 128, 64, 5, 384}}) {
          args.m = m;
          args.n = n;
          args.silu_mul = silu;
          EXPECT_EQ(kernels::launchGemmWgmma(args, t).grid_x, kernels::launchGemm(args, t).grid_x);
        }
  args.m = 0;
  EXPECT_EQ(kernels::launchGemmWgmma(args, tile).grid_x, 1u); // blocks exit
}

} // namespace
