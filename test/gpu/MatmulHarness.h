//===- MatmulHarness.h - What the GEMM GPU tests share ----------*- C++ -*-===//
//
// The harness of MatmulGpuTest (mma.sync GEMMs) and WgmmaGpuTest (the wgmma
// GEMM): counter-based random inputs (reproducible from the printed seed,
// never zeros), host tensors in every storage type with FP8 block scales,
// device buffers, kernels compiled on all cores through the NVRTC cache,
// launches and CUDA-event timing, NaN-poisoned outputs and the rel-L2
// comparison that also checks what was (not) written. Each test includes it
// once.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_GPU_MATMULHARNESS_H
#define MOELA_TEST_GPU_MATMULHARNESS_H

#include "../unit/MatmulSources.h"

#include "cuda/CudaDriver.h"
#include "kernels/MatmulLaunch.h"
#include "kernels/WgmmaLaunch.h"
#include "moela/Runtime/DType.h"
#include "moela/Runtime/Error.h"
#include "moela/Runtime/Nvrtc.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace moela::gputest {

using moela::test::Ty;
namespace K = moela::kernels;

inline uint64_t gSeed = 0;
inline bool gQuick = false;
inline std::string gFilter;
inline int gPassed = 0, gFailed = 0;

// ---- Random numbers (counter based: parallel fills are reproducible) -------

inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t gStream = 0; // a new stream per tensor
inline uint64_t newStream() { return mix(gSeed + 0x1234567ULL * ++gStream); }

/// Uniform in [-1, 1), never exactly 0.
inline float uniform(uint64_t stream, uint64_t i) {
  const uint64_t h = mix(stream ^ mix(i));
  const float u = static_cast<float>((h >> 40) + 1) / static_cast<float>(1ULL << 24); // (0, 1]
  return (h & 1) ? u : -u;
}

inline void parallelRange(int64_t n, const std::function<void(int64_t, int64_t)> &fn) {
  const int64_t workers = std::max(1u, std::thread::hardware_concurrency());
  const int64_t chunk = (n + workers - 1) / workers;
  std::vector<std::thread> pool;
  for (int64_t b = 0; b < n; b += chunk)
    pool.emplace_back(fn, b, std::min(n, b + chunk));
  for (auto &t : pool)
    t.join();
}

// ---- Host tensors ---------------------------------------------------------------

inline size_t sizeOf(Ty t) { return t == Ty::F32 ? 4 : t == Ty::BF16 ? 2 : 1; }

/// A row-major [rows, cols] matrix in a storage type; FP8 with block scales
/// [ceil(rows / 128), ceil(cols / 128)] (weights) or [rows, ceil(cols / 128)]
/// (activations, per row).
struct Tensor {
  Ty ty = Ty::F32;
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> data;
  std::vector<float> scales;
  int64_t scaleLd = 0;
  bool rowScales = false; // activations: one scale per row and 128 columns

  float raw(int64_t r, int64_t c) const {
    const uint8_t *p = data.data() + (r * cols + c) * sizeOf(ty);
    if (ty == Ty::F32) {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    if (ty == Ty::BF16) {
      uint16_t v;
      std::memcpy(&v, p, 2);
      return bf16ToFloat(v);
    }
    return e4m3ToFloat(*p);
  }
  /// The value the kernels compute with: dequantized, before any rounding
  /// the kernel itself does.
  float at(int64_t r, int64_t c) const {
    float v = raw(r, c);
    if (!scales.empty())
      v *= scales[(rowScales ? r : r / 128) * scaleLd + c / 128];
    return v;
  }
  std::vector<float> toFloat() const {
    std::vector<float> out(size_t(rows * cols));
    parallelRange(rows, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r)
        for (int64_t c = 0; c < cols; ++c)
          out[size_t(r * cols + c)] = at(r, c);
    });
    return out;
  }
};

inline void store(Ty ty, uint8_t *p, float v) {
  if (ty == Ty::F32) {
    std::memcpy(p, &v, 4);
  } else if (ty == Ty::BF16) {
    const uint16_t b = floatToBf16(v);
    std::memcpy(p, &b, 2);
  } else {
    *p = floatToE4m3(v);
  }
}

/// Random activations: uniform(-1, 1) times a per-row magnitude in [0.5, 2);
/// FP8 quantized per 128 columns as spec 3.4 (s = max(amax, 1e-4) / 448).
inline Tensor randomActivations(Ty ty, int64_t rows, int64_t cols) {
  Tensor t;
  t.ty = ty;
  t.rows = rows;
  t.cols = cols;
  t.data.resize(size_t(rows * cols) * sizeOf(ty));
  const uint64_t s = newStream();
  if (ty == Ty::F8) {
    t.rowScales = true;
    t.scaleLd = (cols + 127) / 128;
    t.scales.resize(size_t(rows * t.scaleLd));
  }
  parallelRange(rows, [&](int64_t b, int64_t e) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = b; r < e; ++r) {
      const float mag = 1.25f + 0.75f * uniform(s, uint64_t(-1) - r);
      for (int64_t c = 0; c < cols; ++c)
        row[size_t(c)] = mag * uniform(s, uint64_t(r * cols + c));
      if (ty != Ty::F8) {
        for (int64_t c = 0; c < cols; ++c)
          store(ty, t.data.data() + (r * cols + c) * sizeOf(ty), row[size_t(c)]);
        continue;
      }
      for (int64_t kb = 0; kb < t.scaleLd; ++kb) {
        float amax = 0;
        for (int64_t c = kb * 128; c < std::min(cols, kb * 128 + 128); ++c)
          amax = std::max(amax, std::fabs(row[size_t(c)]));
        const float sc = std::max(amax, 1e-4f) / 448.0f;
        t.scales[size_t(r * t.scaleLd + kb)] = sc;
        for (int64_t c = kb * 128; c < std::min(cols, kb * 128 + 128); ++c)
          t.data[size_t(r * cols + c)] = floatToE4m3(row[size_t(c)] / sc);
      }
    }
  });
  return t;
}

/// Random weights [experts * rows, cols]: bf16/f32 uniform(-1, 1); FP8 bytes
/// with exponents in [-3, 4] (no NaN) and block scales in [0.5, 2) / 16 per
/// expert ([experts][ceil(rows / 128), ceil(cols / 128)]).
inline Tensor randomWeights(Ty ty, int64_t experts, int64_t rows, int64_t cols) {
  Tensor t;
  t.ty = ty;
  t.rows = experts * rows;
  t.cols = cols;
  t.data.resize(size_t(t.rows * cols) * sizeOf(ty));
  const uint64_t s = newStream();
  parallelRange(t.rows, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const uint64_t i = uint64_t(r * cols + c);
        if (ty == Ty::F8) {
          const uint64_t h = mix(s ^ mix(i));
          t.data[i] = uint8_t((h & 0x80) | ((4 + (h >> 8) % 8) << 3) | ((h >> 16) & 7));
        } else {
          store(ty, t.data.data() + i * sizeOf(ty), uniform(s, i));
        }
      }
  });
  if (ty == Ty::F8) {
    // Scales per expert: rows of different experts never share a block.
    const int64_t blocks = (rows + 127) / 128;
    t.scaleLd = (cols + 127) / 128;
    std::vector<float> sc(size_t(experts * blocks * t.scaleLd));
    for (size_t i = 0; i < sc.size(); ++i)
      sc[i] = (1.25f + 0.75f * uniform(s, ~uint64_t(i))) / 16.0f;
    t.scales = std::move(sc);
  }
  return t;
}

/// Expert-aware dequantized element (weights of `experts` stacked experts).
inline float weightAt(const Tensor &w, int64_t rowsPerExpert, int64_t r, int64_t c) {
  float v = w.raw(r, c);
  if (!w.scales.empty()) {
    const int64_t e = r / rowsPerExpert, lr = r % rowsPerExpert;
    const int64_t blocks = (rowsPerExpert + 127) / 128;
    v *= w.scales[size_t((e * blocks + lr / 128) * w.scaleLd + c / 128)];
  }
  return v;
}

// ---- The GPU ---------------------------------------------------------------------

inline const cuda::Driver *gD = nullptr;

inline void ck(CUresult r, const char *what) { cuda::check(r, what); }

struct DevBuf {
  CUdeviceptr p = 0;
  size_t bytes = 0;
  DevBuf() = default;
  explicit DevBuf(size_t n) : bytes(std::max<size_t>(n, 16)) { ck(gD->cuMemAlloc(&p, bytes), "cuMemAlloc"); }
  DevBuf(const DevBuf &) = delete;
  DevBuf &operator=(const DevBuf &) = delete;
  DevBuf(DevBuf &&o) noexcept : p(o.p), bytes(o.bytes) { o.p = 0; }
  DevBuf &operator=(DevBuf &&o) noexcept {
    std::swap(p, o.p);
    std::swap(bytes, o.bytes);
    return *this;
  }
  ~DevBuf() {
    if (p)
      gD->cuMemFree(p);
  }
  void *ptr() const { return reinterpret_cast<void *>(p); }
  void upload(const void *src, size_t n) { ck(gD->cuMemcpyHtoD(p, src, n), "cuMemcpyHtoD"); }
  void download(void *dst, size_t n) const { ck(gD->cuMemcpyDtoH(dst, p, n), "cuMemcpyDtoH"); }
};

inline DevBuf upload(const std::vector<uint8_t> &v) {
  DevBuf b(v.size());
  b.upload(v.data(), v.size());
  return b;
}
template <typename T> DevBuf uploadVec(const std::vector<T> &v) {
  DevBuf b(v.size() * sizeof(T));
  if (!v.empty())
    b.upload(v.data(), v.size() * sizeof(T));
  return b;
}

inline std::map<std::string, CUfunction> gFunctions;
// First pass: the cases only collect their kernels, which are then compiled
// on all cores at once (NVRTC programs are independent).
inline bool gCollect = false;
inline std::map<std::string, std::string> gSources;
inline std::map<std::string, NvrtcResult> gCompiled;

inline NvrtcOptions nvrtcOptions() {
  NvrtcOptions options;
  options.cacheDir = defaultKernelCacheDir();
  return options;
}

inline void compileCollected() {
  std::vector<std::pair<std::string, std::string>> jobs(gSources.begin(), gSources.end());
  std::vector<NvrtcResult> results(jobs.size());
  std::vector<std::string> errors(jobs.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (unsigned w = 0; w < std::max(1u, std::thread::hardware_concurrency()); ++w)
    pool.emplace_back([&] {
      for (size_t i; (i = next++) < jobs.size();) {
        try {
          results[i] = compileCuda(jobs[i].first, jobs[i].second, nvrtcOptions());
        } catch (const std::exception &e) {
          errors[i] = e.what();
        }
      }
    });
  for (auto &t : pool)
    t.join();
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (!errors[i].empty())
      fail(errors[i]);
    gCompiled[jobs[i].first] = std::move(results[i]);
  }
}

inline CUfunction kernel(const std::string &name, const std::string &source) {
  auto it = gFunctions.find(name);
  if (it != gFunctions.end())
    return it->second;
  auto done = gCompiled.find(name);
  NvrtcResult r =
      done != gCompiled.end() ? std::move(done->second) : compileCuda(name, source, nvrtcOptions());
  CUmodule module;
  ck(gD->cuModuleLoadData(&module, r.cubin.data()), "cuModuleLoadData");
  CUfunction f;
  ck(gD->cuModuleGetFunction(&f, module, name.c_str()), "cuModuleGetFunction");
  ck(gD->cuFuncSetAttribute(f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                            int(std::max(K::kMatmulSharedBytes, K::kWgmmaSharedBytes))),
     "cuFuncSetAttribute");
  std::printf("  compiled %s: %d registers, %d spill bytes%s\n", name.c_str(), r.registers,
              r.spillBytes, r.fromCache ? " (cached)" : "");
  gFunctions[name] = f;
  return f;
}

template <typename Args> void launch(CUfunction f, const K::Launch &l, const Args &args) {
  Args copy = args;
  void *params[] = {&copy};
  ck(gD->cuLaunchKernel(f, l.grid_x, l.grid_y, l.grid_z, l.block, 1, 1, l.shared_bytes, nullptr,
                        params, nullptr),
     "cuLaunchKernel");
}

/// Median time of `iters` launches (after 3 warm-up), microseconds.
template <typename Args> double timeIt(CUfunction f, const K::Launch &l, const Args &args,
                                       int iters = 20) {
  for (int i = 0; i < 3; ++i)
    launch(f, l, args);
  ck(gD->cuCtxSynchronize(), "warm-up");
  CUevent a, b;
  ck(gD->cuEventCreate(&a, 0), "cuEventCreate");
  ck(gD->cuEventCreate(&b, 0), "cuEventCreate");
  std::vector<double> t;
  for (int i = 0; i < iters; ++i) {
    ck(gD->cuEventRecord(a, nullptr), "cuEventRecord");
    launch(f, l, args);
    ck(gD->cuEventRecord(b, nullptr), "cuEventRecord");
    ck(gD->cuEventSynchronize(b), "cuEventSynchronize");
    float ms = 0;
    ck(gD->cuEventElapsedTime(&ms, a, b), "cuEventElapsedTime");
    t.push_back(ms * 1e3);
  }
  gD->cuEventDestroy(a);
  gD->cuEventDestroy(b);
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// ---- Outputs: poison, read back, compare -------------------------------------

/// An output matrix [rows, ld] of TC on the device, poisoned with NaN.
struct Output {
  Ty ty;
  int64_t rows, ld;
  DevBuf buf;
  std::vector<uint8_t> host;

  Output(Ty t, int64_t r, int64_t l) : ty(t), rows(r), ld(l), buf(size_t(r * l) * sizeOf(t)) {
    std::vector<uint8_t> nan(size_t(rows * ld) * sizeOf(ty));
    for (size_t i = 0; i < nan.size(); i += sizeOf(ty)) {
      if (ty == Ty::F32) {
        const uint32_t q = 0x7fc00000u;
        std::memcpy(&nan[i], &q, 4);
      } else {
        const uint16_t q = 0x7fc0;
        std::memcpy(&nan[i], &q, 2);
      }
    }
    buf.upload(nan.data(), nan.size());
  }
  void fetch() {
    host.resize(buf.bytes);
    buf.download(host.data(), size_t(rows * ld) * sizeOf(ty));
  }
  float at(int64_t r, int64_t c) const {
    const uint8_t *p = host.data() + (r * ld + c) * sizeOf(ty);
    if (ty == Ty::F32) {
      float v;
      std::memcpy(&v, p, 4);
      return v;
    }
    uint16_t v;
    std::memcpy(&v, p, 2);
    return bf16ToFloat(v);
  }
};

/// Accumulates ||out - ref||^2 and ||ref||^2; counts bad writes.
struct Compare {
  double err = 0, ref = 0;
  int64_t checked = 0, unwritten = 0, overwritten = 0, nonFinite = 0;
  std::string firstBad;

  void add(double out, double expected, int64_t r, int64_t c) {
    ++checked;
    if (!std::isfinite(out)) {
      if (!nonFinite++ && firstBad.empty())
        firstBad = "out(" + std::to_string(r) + ", " + std::to_string(c) + ") = " +
                   std::to_string(out);
      return;
    }
    err += (out - expected) * (out - expected);
    ref += expected * expected;
  }
  /// Every element that must be written is finite; the rest is still NaN.
  void written(const Output &o, const std::function<bool(int64_t, int64_t)> &mustWrite) {
    for (int64_t r = 0; r < o.rows; ++r)
      for (int64_t c = 0; c < o.ld; ++c) {
        const bool nan = std::isnan(o.at(r, c));
        if (mustWrite(r, c) && nan && !unwritten++ && firstBad.empty())
          firstBad = "unwritten (" + std::to_string(r) + ", " + std::to_string(c) + ")";
        if (!mustWrite(r, c) && !nan && !overwritten++ && firstBad.empty())
          firstBad = "written outside (" + std::to_string(r) + ", " + std::to_string(c) + ")";
      }
  }
  double rel() const { return ref > 0 ? std::sqrt(err / ref) : (err > 0 ? 1e30 : 0); }
  bool report(const std::string &what, double tol) {
    const bool ok = nonFinite == 0 && unwritten == 0 && overwritten == 0 && checked > 0 &&
                    ref > 0 && rel() <= tol;
    std::printf("%s %-78s rel %.3e (tol %.0e, %lld checked)%s%s\n", ok ? "PASS" : "FAIL",
                what.c_str(), rel(), tol, static_cast<long long>(checked),
                firstBad.empty() ? "" : " first bad: ", firstBad.c_str());
    std::fflush(stdout);
    (ok ? gPassed : gFailed)++;
    return ok;
  }
};

} // namespace moela::gputest

#endif // MOELA_TEST_GPU_MATMULHARNESS_H
