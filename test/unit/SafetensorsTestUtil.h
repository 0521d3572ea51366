//===- SafetensorsTestUtil.h - Writing (malformed) safetensors in tests ---===//
#ifndef MOELA_TEST_UNIT_SAFETENSORSTESTUTIL_H
#define MOELA_TEST_UNIT_SAFETENSORSTESTUTIL_H

#include "moela/Runtime/Error.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include <unistd.h>

namespace moela::test {

namespace fs = std::filesystem;

/// The v3_a fixture's bf16 checkpoint and its FP8 copy.
inline const std::string kBf16Dir = std::string(MOELA_TEST_DATA) + "/v3_a";
inline const std::string kFp8Dir = kBf16Dir + "/model-fp8";

/// e4m3fn from its definition, in double: (-1)^s 2^(e-7) (1 + m/8), subnormal
/// 2^-6 (m/8), S.1111.111 NaN.
inline double refE4m3(uint8_t code) {
  const int s = code >> 7, e = (code >> 3) & 15, m = code & 7;
  if (e == 15 && m == 7)
    return std::numeric_limits<double>::quiet_NaN();
  double v = e == 0 ? (m / 8.0) * std::pow(2.0, -6)
                    : (1.0 + m / 8.0) * std::pow(2.0, e - 7);
  return s ? -v : v;
}

/// Writes `header` (taken as is, not necessarily JSON) and `data` as a
/// safetensors file; `headerLength` overrides the 8-byte length prefix.
inline void writeRawSafetensors(const fs::path &path, const std::string &header,
                                const std::vector<uint8_t> &data,
                                std::optional<uint64_t> headerLength = {}) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  uint64_t n = headerLength ? *headerLength : header.size();
  for (int i = 0; i < 8; ++i) // little-endian
    out.put(static_cast<char>((n >> (8 * i)) & 0xFF));
  out.write(header.data(), header.size());
  out.write(reinterpret_cast<const char *>(data.data()), data.size());
  ASSERT_TRUE(out.good()) << path;
}

/// One tensor for writeSafetensors: its bytes are laid out back to back.
struct TestTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

template <typename T> std::vector<uint8_t> bytesOf(const std::vector<T> &v) {
  std::vector<uint8_t> out(v.size() * sizeof(T));
  if (!v.empty())
    std::memcpy(out.data(), v.data(), out.size());
  return out;
}

/// A well-formed safetensors file holding `tensors` in order.
inline void writeSafetensors(const fs::path &path,
                             const std::vector<TestTensor> &tensors) {
  nlohmann::json header = {{"__metadata__", {{"format", "pt"}}}};
  std::vector<uint8_t> data;
  for (const TestTensor &t : tensors) {
    header[t.name] = {
        {"dtype", t.dtype},
        {"shape", t.shape},
        {"data_offsets", {data.size(), data.size() + t.bytes.size()}}};
    data.insert(data.end(), t.bytes.begin(), t.bytes.end());
  }
  writeRawSafetensors(path, header.dump(), data);
}

/// A fresh directory per test, removed afterwards.
class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("moela-" + std::string(info->test_suite_name()) + "-" +
            info->name() + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path path(const std::string &name) const { return dir_ / name; }

  fs::path dir_;
};

/// Runs `fn`, expects moela::Error, and returns its message ("" if none).
template <typename Fn> std::string errorOf(Fn &&fn) {
  try {
    fn();
  } catch (const Error &e) {
    std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos)
        << "error messages are one line: " << message;
    return message;
  } catch (const std::exception &e) {
    ADD_FAILURE() << "expected moela::Error, got another exception: "
                  << e.what();
    return "";
  }
  ADD_FAILURE() << "expected moela::Error, nothing was thrown";
  return "";
}

} // namespace moela::test

/// Expects `needle` in the string `haystack` (an error message).
#define EXPECT_CONTAINS(haystack, needle)                                      \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos)             \
      << "'" << (needle) << "' not in: " << (haystack)

#endif // MOELA_TEST_UNIT_SAFETENSORSTESTUTIL_H
