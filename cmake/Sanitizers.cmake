# Sanitized and fuzzing builds (tools/fuzz-check.sh runs both; README "Fuzzing
# and sanitizers"). Neither option is on in a normal build, which this file
# leaves unchanged.
#   -DMOELA_SANITIZE=address,undefined  every moela target with ASan + UBSan
#   -DMOELA_FUZZ=ON                     also the libFuzzer targets of test/fuzz
#                                       (clang; implies address,undefined)
option(MOELA_FUZZ "Build the libFuzzer targets of test/fuzz (clang only)" OFF)
set(MOELA_SANITIZE "" CACHE STRING
  "Sanitizers for every moela target, as -fsanitize= takes them (e.g. address,undefined)")

if(MOELA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MOELA_FUZZ needs clang (libFuzzer): configure with "
      "-DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19")
  endif()
  if(NOT MOELA_SANITIZE)
    set(MOELA_SANITIZE address,undefined)
  endif()
endif()

# Shared libraries are left alone: moela's are the test doubles of the driver and
# NCCL (test/emu, test/unit), which stand in for uninstrumented vendor
# libraries, and a sanitized one could not link with -z defs (clang puts the
# ASan runtime in the executable only).
set(not_shared "$<NOT:$<STREQUAL:$<TARGET_PROPERTY:TYPE>,SHARED_LIBRARY>>")
if(MOELA_SANITIZE)
  # A UBSan finding stops the program, so a test that triggers one fails.
  add_compile_options("$<${not_shared}:-fsanitize=${MOELA_SANITIZE};-fno-sanitize-recover=all>"
    -fno-omit-frame-pointer -gline-tables-only)
  add_link_options("$<${not_shared}:-fsanitize=${MOELA_SANITIZE}>")
  message(STATUS "moela: sanitized build (-fsanitize=${MOELA_SANITIZE})")
endif()
if(MOELA_FUZZ)
  # Coverage for libFuzzer in every library; only the fuzz targets link its main.
  add_compile_options("$<${not_shared}:-fsanitize=fuzzer-no-link>")
endif()
