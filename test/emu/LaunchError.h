//===- LaunchError.h - What a failing emulated launch reports -------------===//
#ifndef MOELA_TEST_EMU_LAUNCHERROR_H
#define MOELA_TEST_EMU_LAUNCHERROR_H

#include "CudaEmu.h"

#include <string>

namespace moela::emutest {

/// The message of the emu::Error a launch of `body` on `block` threads throws.
template <typename Body>
inline std::string launchError(Body body, unsigned block = 64,
                               unsigned shared = 256) {
  try {
    emu::launch([&](int) { body(); }, dim3(2), dim3(block), shared, 0);
  } catch (const emu::Error &e) {
    return e.what();
  }
  return "";
}

} // namespace moela::emutest

#endif // MOELA_TEST_EMU_LAUNCHERROR_H
