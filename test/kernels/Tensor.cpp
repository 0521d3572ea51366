//===- Tensor.cpp - A kernel operand on the host and on the device --------===//
#include "Tensor.h"

#include "Device.h"

#include "moela/Runtime/DType.h"

#include <cmath>
#include <cstring>
#include <set>

namespace moela::cases {
namespace {

/// The tensors alive now (launch() sends their changes).
std::set<Tensor *> &live() {
  static std::set<Tensor *> s;
  return s;
}

constexpr uint8_t kGuardByte = 0xa5;

} // namespace

float roundTo(Ty t, float v) {
  if (t == Ty::BF16)
    return bf16ToFloat(floatToBf16(v));
  if (t == Ty::F8)
    return e4m3ToFloat(floatToE4m3(v));
  return v;
}

Tensor::Tensor(Ty ty, int64_t rows, int64_t cols, int64_t ld)
    : ty_(ty), rows_(rows), cols_(cols), ld_(ld ? ld : cols),
      mem_(2 * kGuard + size_t(rows * (ld ? ld : cols)) * sizeOf(ty)) {
  std::memset(mem_.data(), kGuardByte, kGuard);
  std::memset(mem_.data() + mem_.size() - kGuard, kGuardByte, kGuard);
  if (haveDevice())
    device_ = device().allocate(mem_.size());
  live().insert(this);
  poison();
}

Tensor::Tensor(Tensor &&o) noexcept
    : ty_(o.ty_), rows_(o.rows_), cols_(o.cols_), ld_(o.ld_),
      mem_(std::move(o.mem_)), device_(o.device_), hostNewer_(o.hostNewer_),
      deviceNewer_(o.deviceNewer_) {
  o.device_ = 0;
  o.rows_ = o.cols_ = o.ld_ = 0;
  o.mem_.clear();
  live().insert(this);
}

Tensor &Tensor::operator=(Tensor &&o) noexcept {
  if (this != &o) {
    release();
    ty_ = o.ty_;
    rows_ = o.rows_;
    cols_ = o.cols_;
    ld_ = o.ld_;
    mem_ = std::move(o.mem_);
    device_ = o.device_;
    hostNewer_ = o.hostNewer_;
    deviceNewer_ = o.deviceNewer_;
    o.device_ = 0;
    o.rows_ = o.cols_ = o.ld_ = 0;
    o.mem_.clear();
    live().insert(this);
  }
  return *this;
}

Tensor::~Tensor() {
  release();
  live().erase(this);
}

void Tensor::release() {
  if (device_ && haveDevice())
    device().release(device_);
  device_ = 0;
}

void *Tensor::dev(size_t offsetBytes) const {
  if (!device_)
    return data() + offsetBytes; // no device: host memory
  return reinterpret_cast<void *>(device_ + kGuard + offsetBytes);
}

void Tensor::syncHost() const {
  if (deviceNewer_) {
    device().download(mem_.data(), device_, mem_.size());
    deviceNewer_ = false;
  }
}

void Tensor::touch() {
  syncHost();
  hostNewer_ = device_ != 0;
}

void Tensor::sendChanges() {
  for (Tensor *t : live())
    if (t->hostNewer_) {
      device().upload(t->device_, t->mem_.data(), t->mem_.size());
      t->hostNewer_ = false;
    }
}

void Tensor::deviceWrote() {
  for (Tensor *t : live())
    t->deviceNewer_ = t->device_ != 0;
}

void Tensor::poison() {
  touch();
  for (int64_t i = 0; i < rows_ * ld_; ++i)
    setRaw(i, ty_ == Ty::I32 ? 0 : NAN, true);
}

float Tensor::get(int64_t r, int64_t c) const {
  syncHost();
  return getRaw(r * ld_ + c);
}

void Tensor::set(int64_t r, int64_t c, float v) {
  touch();
  setRaw(r * ld_ + c, v, false);
}

int32_t Tensor::geti(int64_t r, int64_t c) const {
  syncHost();
  int32_t v;
  std::memcpy(&v, data() + size_t(r * ld_ + c) * 4, 4);
  return v;
}

void Tensor::seti(int64_t r, int64_t c, int32_t v) {
  touch();
  std::memcpy(data() + size_t(r * ld_ + c) * 4, &v, 4);
}

void Tensor::setCode(int64_t r, int64_t c, uint8_t code) {
  touch();
  data()[r * ld_ + c] = code;
}

void Tensor::fillUniform(Rng &rng, float lo, float hi) {
  const uint64_t s = rng.stream();
  fill([&](int64_t r, int64_t c) {
    return counterUniform(s, uint64_t(r * cols_ + c), lo, hi);
  });
}

void Tensor::fill(const std::function<float(int64_t, int64_t)> &f) {
  touch();
  parallelRange(rows_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < cols_; ++c)
        setRaw(r * ld_ + c, f(r, c), false);
  });
}

void Tensor::fillCodes(const std::function<uint8_t(int64_t, int64_t)> &f) {
  touch();
  parallelRange(rows_, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      for (int64_t c = 0; c < cols_; ++c)
        data()[r * ld_ + c] = f(r, c);
  });
}

std::vector<float> Tensor::floats() const {
  syncHost();
  std::vector<float> v(size_t(rows_ * cols_));
  for (int64_t r = 0; r < rows_; ++r)
    for (int64_t c = 0; c < cols_; ++c)
      v[size_t(r * cols_ + c)] =
          ty_ == Ty::I32 ? float(geti(r, c)) : getRaw(r * ld_ + c);
  return v;
}

std::vector<int32_t> Tensor::ints() const {
  std::vector<int32_t> v(size_t(rows_ * cols_));
  for (int64_t r = 0; r < rows_; ++r)
    for (int64_t c = 0; c < cols_; ++c)
      v[size_t(r * cols_ + c)] = geti(r, c);
  return v;
}

bool Tensor::guardsIntact() const {
  syncHost();
  for (size_t i = 0; i < kGuard; ++i)
    if (mem_[i] != kGuardByte || mem_[mem_.size() - 1 - i] != kGuardByte)
      return false;
  return true;
}

float Tensor::getRaw(int64_t i) const {
  const uint8_t *p = data() + size_t(i) * sizeOf(ty_);
  switch (ty_) {
  case Ty::F32: {
    float v;
    std::memcpy(&v, p, 4);
    return v;
  }
  case Ty::BF16: {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return bf16ToFloat(v);
  }
  case Ty::F8:
    return e4m3ToFloat(*p);
  case Ty::I32: {
    int32_t v;
    std::memcpy(&v, p, 4);
    return float(v);
  }
  }
  return NAN;
}

void Tensor::setRaw(int64_t i, float v, bool poisonValue) {
  uint8_t *p = data() + size_t(i) * sizeOf(ty_);
  switch (ty_) {
  case Ty::F32:
    std::memcpy(p, &v, 4);
    break;
  case Ty::BF16: {
    const uint16_t b = floatToBf16(v);
    std::memcpy(p, &b, 2);
    break;
  }
  case Ty::F8:
    *p = poisonValue ? 0x7f : floatToE4m3(v);
    break;
  case Ty::I32: {
    const int32_t x = poisonValue ? 0x7fffffff : int32_t(v);
    std::memcpy(p, &x, 4);
    break;
  }
  }
}

Tensor fromInts(const std::vector<int32_t> &v, int64_t rows, int64_t cols) {
  Tensor t(Ty::I32, rows, cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      t.seti(r, c, v[size_t(r * cols + c)]);
  return t;
}

Tensor fromFloats(Ty ty, const std::vector<float> &v, int64_t rows,
                  int64_t cols) {
  Tensor t(ty, rows, cols);
  t.fill([&](int64_t r, int64_t c) { return v[size_t(r * cols + c)]; });
  return t;
}

} // namespace moela::cases
