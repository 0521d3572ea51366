//===- CheckedInt.h - Size arithmetic that cannot wrap --------------------===//
//
// Every size the runtime derives from a file (plan buffers, weight shapes,
// safetensors entries) is computed with CheckedInt: an int64 that remembers
// whether any step that produced it overflowed, so a check such as
// `CheckedInt(offset) + rows > limit` can never be passed by a value that
// wrapped around. Built on __builtin_*_overflow.
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_RUNTIME_CHECKEDINT_H
#define MOELA_RUNTIME_CHECKEDINT_H

#include <cstdint>
#include <optional>

namespace moela {

class CheckedInt {
public:
  constexpr CheckedInt(int64_t value = 0) : value_(value) {}

  /// Whether some operation on the way overflowed int64.
  bool overflowed() const { return overflow_; }
  /// The value, or nullopt when it overflowed.
  std::optional<int64_t> get() const {
    return overflow_ ? std::nullopt : std::optional<int64_t>(value_);
  }
  /// True when the value is known and at most `limit`.
  bool fitsIn(int64_t limit) const { return !overflow_ && value_ <= limit; }
  /// True only for a value known to equal `v`.
  bool equals(int64_t v) const { return !overflow_ && value_ == v; }

  friend CheckedInt operator+(CheckedInt a, CheckedInt b) {
    CheckedInt r;
    r.overflow_ = a.overflow_ || b.overflow_ ||
                  __builtin_add_overflow(a.value_, b.value_, &r.value_);
    return r;
  }
  friend CheckedInt operator-(CheckedInt a, CheckedInt b) {
    CheckedInt r;
    r.overflow_ = a.overflow_ || b.overflow_ ||
                  __builtin_sub_overflow(a.value_, b.value_, &r.value_);
    return r;
  }
  friend CheckedInt operator*(CheckedInt a, CheckedInt b) {
    CheckedInt r;
    r.overflow_ = a.overflow_ || b.overflow_ ||
                  __builtin_mul_overflow(a.value_, b.value_, &r.value_);
    return r;
  }
  /// Rounds a non-negative value up to a multiple of `align` (> 0).
  CheckedInt roundUp(int64_t align) const {
    return (*this + (align - 1)).floorTo(align);
  }

  /// A printable value: the number, or "overflow".
  template <typename Stream>
  friend Stream &operator<<(Stream &os, const CheckedInt &v) {
    if (v.overflow_)
      os << "more than 2^63";
    else
      os << v.value_;
    return os;
  }

private:
  CheckedInt floorTo(int64_t align) const {
    CheckedInt r = *this;
    r.value_ = r.value_ / align * align;
    return r;
  }

  int64_t value_ = 0;
  bool overflow_ = false;
};

/// The product of `dims`, checked; an empty list is 1.
template <typename Container> CheckedInt checkedProduct(const Container &dims) {
  CheckedInt n = 1;
  for (auto d : dims)
    n = n * CheckedInt(int64_t(d));
  return n;
}

} // namespace moela

#endif // MOELA_RUNTIME_CHECKEDINT_H
