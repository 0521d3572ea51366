//===- Tensor.h - A kernel operand on the host and on the device ----------===//
//
// A row-major [rows, ld] matrix in a storage type (columns [cols, ld) are
// padding), converted with the runtime's DType.h, between guard bands. It
// starts poisoned (NaN, or 0x7fffffff for ints) so that unwritten elements
// fail, and untouchedOutside (Report.h) checks what must not be written.
// With a Device installed it has a device copy: launch() sends the host's
// changes first, and the host reads the device's results back on first use.
// Move-only.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_KERNELS_TENSOR_H
#define MOELA_TEST_KERNELS_TENSOR_H

#include "Kernel.h"
#include "Random.h"

#include "host/Kernels.h"
#include "kernels/Args.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace moela::cases {

class Tensor {
public:
  static constexpr size_t kGuard = 256;

  Tensor() = default;
  Tensor(Ty ty, int64_t rows, int64_t cols, int64_t ld = 0);
  Tensor(Tensor &&o) noexcept;
  Tensor &operator=(Tensor &&o) noexcept;
  ~Tensor();

  Ty ty() const { return ty_; }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  int64_t ld() const { return ld_; }
  size_t bytes() const { return size_t(rows_ * ld_) * sizeOf(ty_); }

  /// Device address of element (0, 0), plus `offsetBytes`: for kernel args.
  void *dev(size_t offsetBytes = 0) const;
  template <typename T> T *devAs() const { return static_cast<T *>(dev()); }
  kernels::View view() const { return kernels::View{dev(), ld_}; }

  /// Every element (padding included) NaN / 0x7fffffff.
  void poison();
  float get(int64_t r, int64_t c) const;
  /// Stores v rounded to the storage type.
  void set(int64_t r, int64_t c, float v);
  int32_t geti(int64_t r, int64_t c) const;
  void seti(int64_t r, int64_t c, int32_t v);
  void setCode(int64_t r, int64_t c, uint8_t code); // a raw e4m3 byte
  /// Fills [rows, cols] with uniform(lo, hi) (never 0) rounded to the type.
  void fillUniform(Rng &rng, float lo, float hi);
  /// Sets [rows, cols] to f(r, c) rounded to the type, rows on all cores.
  void fill(const std::function<float(int64_t, int64_t)> &f);
  /// The same with raw e4m3 codes.
  void fillCodes(const std::function<uint8_t(int64_t, int64_t)> &f);

  /// [rows, cols] as floats (ints converted), padding left out.
  std::vector<float> floats() const;
  std::vector<int32_t> ints() const;
  bool guardsIntact() const;

  /// Marks every live tensor as possibly written by the device (after a
  /// launch).
  static void deviceWrote();
  /// Sends every live tensor the host changed to the device.
  static void sendChanges();

private:
  void syncHost() const; // brings the device's copy back if it is newer
  void touch();          // syncHost, then the host copy is the newer one
  float getRaw(int64_t i) const;
  void setRaw(int64_t i, float v, bool poisonValue);
  uint8_t *data() const { return mem_.data() + kGuard; }
  void release();

  Ty ty_ = Ty::F32;
  int64_t rows_ = 0, cols_ = 0, ld_ = 0;
  mutable std::vector<uint8_t> mem_;
  uint64_t device_ = 0; // device copy of mem_ (guards included), 0 = none
  mutable bool hostNewer_ = false, deviceNewer_ = false;
};

/// The value a storage type holds for v (rounded to nearest even).
float roundTo(Ty t, float v);

Tensor fromInts(const std::vector<int32_t> &v, int64_t rows, int64_t cols);
Tensor fromFloats(Ty ty, const std::vector<float> &v, int64_t rows,
                  int64_t cols);

// ---- Host reference views ---------------------------------------------------

inline host::CMat cmat(const std::vector<float> &v, int64_t rows,
                       int64_t cols) {
  return {v.data(), rows, cols, cols};
}
inline host::Mat mat(std::vector<float> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}
inline host::CIMat cimat(const std::vector<int32_t> &v, int64_t rows,
                         int64_t cols) {
  return {v.data(), rows, cols, cols};
}
inline host::IMat imat(std::vector<int32_t> &v, int64_t rows, int64_t cols) {
  return {v.data(), rows, cols, cols};
}

} // namespace moela::cases

#endif // MOELA_TEST_KERNELS_TENSOR_H
