//===- KernelCompileTest.cpp - Every kernel of the case table compiles ----===//
//
// No GPU needed: every kernel of test/kernels/Cases.h (those the cases run
// and the instantiations only compiled) is compiled with NVRTC for sm_90a,
// a family per test, on all cores. ptxas must report no spills, at most 255
// registers (168 for gemmWgmma: 65536 / 384), no stack (but RoPE's
// double-precision sincos slow path), and static plus the largest launch's
// dynamic shared memory within 227 KiB; the row families no warnings; the
// matrix families no static shared memory. gemmWgmma's layout must fit two
// stages at least, ptxas must not serialise its wgmmas, and its SASS must
// hold HGMMA (bf16 compute) or QGMMA (W8A8) and no mma.sync HMMA: the cubin
// is disassembled with cuobjdump ($CUOBJDUMP, else /usr/local/cuda/bin,
// else PATH; skipped with a message when there is none, or no nvdisasm).
// The row families compile through the kernel cache, the matrix families
// for real.
//
//===----------------------------------------------------------------------===//
#include "Cases.h"
#include "Compile.h"

#include "moela/Runtime/Nvrtc.h"

#include "kernels/WgmmaLaunch.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace {

using namespace moela;
using namespace moela::cases;

constexpr long long kMaxShared =
    232448; // 227 KiB: the sm_90 per-block opt-in limit

bool matrixFamily(const std::string &f) {
  return f == "Gemm" || f == "GroupedGemm" || f == "HeadGemm" ||
         f == "GemmWgmma";
}

// ---- SASS -------------------------------------------------------------------

/// cuobjdump to use, or "".
std::string findCuobjdump() {
  if (const char *env = std::getenv("CUOBJDUMP"); env && *env)
    return env;
  if (access("/usr/local/cuda/bin/cuobjdump", X_OK) == 0)
    return "/usr/local/cuda/bin/cuobjdump";
  if (std::system("command -v cuobjdump >/dev/null 2>&1") == 0)
    return "cuobjdump";
  return "";
}

/// The SASS of a cubin, or an error ("skip: ..." when the tool cannot run).
bool disassemble(const std::string &tool, const std::vector<uint8_t> &cubin,
                 const std::string &name, std::string &sass,
                 std::string &error) {
  char dir[] = "/tmp/moela-sass-XXXXXX";
  if (!mkdtemp(dir)) {
    error = "skip: cannot create a temporary directory";
    return false;
  }
  const std::string cubinPath = std::string(dir) + "/" + name + ".cubin";
  const std::string outPath = std::string(dir) + "/" + name + ".sass";
  {
    std::ofstream f(cubinPath, std::ios::binary);
    f.write(reinterpret_cast<const char *>(cubin.data()),
            std::streamsize(cubin.size()));
  }
  const std::string cmd =
      "'" + tool + "' --dump-sass '" + cubinPath + "' > '" + outPath + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::stringstream ss;
  ss << std::ifstream(outPath).rdbuf();
  sass = ss.str();
  std::remove(cubinPath.c_str());
  std::remove(outPath.c_str());
  rmdir(dir);
  if (rc == 0 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0)
    return true;
  error = sass.find("nvdisasm") != std::string::npos
              ? "skip: cuobjdump cannot disassemble without nvdisasm"
              : "cuobjdump failed: " + sass.substr(0, 400);
  return false;
}

/// Occurrences of SASS opcodes starting with `op` (e.g. "HGMMA.").
int countOps(const std::string &sass, const std::string &op) {
  int n = 0;
  for (size_t p = 0; (p = sass.find(op, p)) != std::string::npos;
       p += op.size())
    if (p == 0 || sass[p - 1] == ' ' || sass[p - 1] == '\t')
      ++n;
  return n;
}

/// gemmWgmma: the layout fits, and the SASS runs the warpgroup MMAs.
void checkWgmma(const Kernel &k, const NvrtcResult &r, std::string &sassTool) {
  const int bm = std::stoi(k.params[4]), bn = std::stoi(k.params[5]),
            bk = std::stoi(k.params[6]);
  auto size = [](const std::string &t) {
    return t == "float" ? 4 : t == "__nv_bfloat16" ? 2 : 1;
  };
  const kernels::WgmmaLayout l =
      kernels::wgmmaLayout(bm, bn, bk, size(k.params[0]), size(k.params[1]));
  EXPECT_GE(l.stages, 2);
  EXPECT_LE(1024 + l.headerBytes + l.stages * l.stageBytes,
            int(kernels::kWgmmaSharedBytes));
  EXPECT_LE(1024 + l.headerBytes + l.stagingBytes,
            int(kernels::kWgmmaSharedBytes));
  // ptxas serialises wgmmas it cannot prove safe, and says so.
  EXPECT_EQ(r.log.find("serialized"), std::string::npos) << r.log;
  if (sassTool.empty())
    return;
  std::string sass, error;
  if (!disassemble(sassTool, r.cubin, k.name(), sass, error)) {
    ASSERT_EQ(error.rfind("skip: ", 0), 0u) << error;
    std::printf("  SKIP SASS check: %s\n", error.c_str() + 6);
    sassTool.clear();
    return;
  }
  const int hgmma = countOps(sass, "HGMMA."), qgmma = countOps(sass, "QGMMA."),
            hmma = countOps(sass, "HMMA.");
  const bool w8a8 =
      k.params[0] == "__nv_fp8_e4m3" && k.params[1] == "__nv_fp8_e4m3";
  EXPECT_GT(w8a8 ? qgmma : hgmma, 0)
      << (w8a8 ? "W8A8 must run QGMMA" : "bf16 must run HGMMA");
  EXPECT_EQ(w8a8 ? hgmma : qgmma, 0);
  EXPECT_EQ(hmma, 0) << "no mma.sync in the wgmma kernel";
  std::printf("  %-60s SASS %d HGMMA %d QGMMA %d HMMA\n", k.name().c_str(),
              hgmma, qgmma, hmma);
}

class KernelCompile : public ::testing::TestWithParam<std::string> {};

TEST_P(KernelCompile, Family) {
  const std::string family = GetParam();
  std::vector<Kernel> kernels;
  for (const Kernel &k : compileKernels())
    if (k.family == family)
      kernels.push_back(k);
  ASSERT_FALSE(kernels.empty());
  const bool matrix = matrixFamily(family), wgmma = family == "GemmWgmma";
  const std::vector<Compiled> outcomes = compileAll(kernels, !matrix);
  std::string sassTool = wgmma ? findCuobjdump() : "";
  if (wgmma && sassTool.empty())
    std::printf("  SKIP SASS check: no cuobjdump ($CUOBJDUMP, "
                "/usr/local/cuda/bin, PATH)\n");
  for (size_t i = 0; i < kernels.size(); ++i) {
    const Kernel &k = kernels[i];
    const NvrtcResult &r = outcomes[i].result;
    SCOPED_TRACE(k.source());
    ASSERT_TRUE(outcomes[i].error.empty()) << outcomes[i].error;
    std::printf("ptxas %-60s %3d registers, %5d B static + %6lld B dynamic "
                "smem, %d B stack, "
                "%d B spills\n",
                k.name().c_str(), r.registers, r.sharedBytes, k.dynamicShared,
                r.stackBytes, r.spillBytes);
    EXPECT_FALSE(r.cubin.empty());
    EXPECT_EQ(r.spillBytes, 0) << r.log;
    EXPECT_GT(r.registers, 0) << r.log;
    EXPECT_LE(r.registers, wgmma ? 168 : 255) << r.log;
    EXPECT_LE(r.sharedBytes + k.dynamicShared, kMaxShared);
    // Large register frames must not live in local memory: no stack but the
    // double-precision sincos slow path of RoPE (40 bytes, never in a loop).
    if (family != "Rope" && family != "KvAppend") {
      EXPECT_EQ(r.stackBytes, 0) << r.log;
    }
    if (matrix)
      EXPECT_EQ(r.sharedBytes, 0)
          << r.log; // the launch asks for 227 KiB dynamically
    else
      EXPECT_EQ(r.log.find("warning"), std::string::npos) << r.log;
    if (wgmma)
      checkWgmma(k, r, sassTool);
  }
}

std::vector<std::string> families() {
  std::vector<std::string> f;
  for (const Kernel &k : compileKernels())
    if (std::find(f.begin(), f.end(), k.family) == f.end())
      f.push_back(k.family);
  return f;
}

INSTANTIATE_TEST_SUITE_P(Families, KernelCompile,
                         ::testing::ValuesIn(families()),
                         [](const ::testing::TestParamInfo<std::string> &info) {
                           return info.param;
                         });

} // namespace
