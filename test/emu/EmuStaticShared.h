//===- EmuStaticShared.h - Poisoning static __shared__ at each block ------===//
//
// Static `__shared__` arrays are function-local `thread_local` objects
// (CudaEmu.h), so without help a block would see the values the previous
// block on the same worker left in them, and a kernel that reads one before
// writing it would pass on stale but correct data. The Runner therefore
// fills them with kStaticSharedPoison before every block.
//
// g++ cannot gather them in a section (it ignores the section attribute on
// locals of templates), so they are found in the ELF symbol table of the
// module that holds the emulator (the test executable or
// libmoela-cuda-emu.so): every STT_TLS symbol that is a function-local
// static (mangled `_ZZ...`), except the emulator's own (`_ZZN3emu`), the
// standard library's and those with a guard variable (dynamic
// initialisation, which CUDA forbids for __shared__). Their st_value is the
// offset in the module's TLS block, whose per-thread start follows from
// sharedAnchor's. Namespace-scope `__shared__` objects are not poisoned.
//
// The pattern, the 32-bit word 0x7fbfffff repeated from each object's first
// byte: f32 words, both bf16 (0xffff, 0x7fbf) and f16 halves read as NaN;
// int32 reads 2143289343 and int64 about 9.2e18, far outside any index
// (0xff bytes, the dynamic shared memory's poison, read as -1).
//
//===----------------------------------------------------------------------===//
#ifndef MOELA_TEST_EMU_EMUSTATICSHARED_H
#define MOELA_TEST_EMU_EMUSTATICSHARED_H

#include "EmuState.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <vector>

namespace emu {

/// The word static shared memory is filled with before each block.
constexpr uint32_t kStaticSharedPoison = 0x7fbfffffu;

namespace detail {

struct StaticSharedObject {
  size_t offset, bytes; // in the module's TLS block
};

/// The static __shared__ objects of this module, and sharedAnchor's offset.
struct StaticSharedTable {
  std::vector<StaticSharedObject> objects;
  std::vector<unsigned char> pattern; // the poison, as long as the largest
  size_t anchorOffset = 0;
  bool found = false; // the symbol table was read and the anchor found
};

inline void staticSharedMarker() {}

/// The file of the module holding this code (the executable: /proc/self/exe).
inline std::string emulatorModulePath() {
  struct Find {
    uintptr_t code;
    std::string path = "/proc/self/exe";
  } find{reinterpret_cast<uintptr_t>(&staticSharedMarker)};
  dl_iterate_phdr(
      [](dl_phdr_info *m, size_t, void *data) {
        Find &f = *static_cast<Find *>(data);
        for (int i = 0; i < m->dlpi_phnum; ++i) {
          const ElfW(Phdr) &ph = m->dlpi_phdr[i];
          const uintptr_t begin = m->dlpi_addr + ph.p_vaddr;
          if (ph.p_type == PT_LOAD && f.code >= begin &&
              f.code < begin + ph.p_memsz) {
            if (m->dlpi_name && *m->dlpi_name) // the executable's is empty
              f.path = m->dlpi_name;
            return 1;
          }
        }
        return 0;
      },
      &find);
  return find.path;
}

inline StaticSharedTable readStaticSharedTable() {
  StaticSharedTable t;
  const std::string path = emulatorModulePath();
  const int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return t;
  struct stat st{};
  fstat(fd, &st);
  void *map = mmap(nullptr, size_t(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED)
    return t;
  const auto *file = static_cast<const unsigned char *>(map);
  const auto *eh = reinterpret_cast<const Elf64_Ehdr *>(file);
  const auto *sh = reinterpret_cast<const Elf64_Shdr *>(file + eh->e_shoff);
  std::vector<const Elf64_Sym *> candidates;
  std::set<std::string> guarded;
  const char *names = nullptr;
  for (int s = 0; s < eh->e_shnum; ++s) {
    if (sh[s].sh_type != SHT_SYMTAB)
      continue;
    const auto *syms =
        reinterpret_cast<const Elf64_Sym *>(file + sh[s].sh_offset);
    names = reinterpret_cast<const char *>(file + sh[sh[s].sh_link].sh_offset);
    for (size_t i = 0; i < sh[s].sh_size / sizeof(Elf64_Sym); ++i) {
      const Elf64_Sym &y = syms[i];
      const char *n = names + y.st_name;
      if (std::strncmp(n, "_ZGVZ", 5) == 0) // guard of a local static
        guarded.insert(std::string("_ZZ") + (n + 5));
      if (ELF64_ST_TYPE(y.st_info) != STT_TLS)
        continue;
      if (std::strcmp(n, "_ZN3emu6detail12sharedAnchorE") == 0) {
        t.anchorOffset = y.st_value;
        t.found = true;
      } else if (std::strncmp(n, "_ZZ", 3) == 0 &&
                 std::strncmp(n, "_ZZN3emu", 8) != 0 &&
                 std::strncmp(n, "_ZZNSt", 6) != 0 &&
                 std::strncmp(n, "_ZZSt", 5) != 0 &&
                 std::strncmp(n, "_ZZN9__gnu_cxx", 14) != 0 && y.st_size > 0) {
        candidates.push_back(&y);
      }
    }
  }
  std::set<size_t> seen;
  for (const Elf64_Sym *y : candidates)
    if (!guarded.count(names + y->st_name) && seen.insert(y->st_value).second)
      t.objects.push_back({size_t(y->st_value), size_t(y->st_size)});
  munmap(map, size_t(st.st_size));
  for (const StaticSharedObject &o : t.objects)
    while (t.pattern.size() < o.bytes)
      t.pattern.push_back(static_cast<unsigned char>(
          kStaticSharedPoison >> (8 * (t.pattern.size() % 4))));
  if (!t.found)
    std::fprintf(stderr,
                 "emu: no symbol table in %s: static __shared__ memory is not "
                 "poisoned\n",
                 path.c_str());
  return t;
}

inline const StaticSharedTable &staticSharedTable() {
  static const StaticSharedTable t = readStaticSharedTable();
  return t;
}

/// Fills this worker's static __shared__ objects with kStaticSharedPoison.
inline void poisonStaticShared() {
  const StaticSharedTable &t = staticSharedTable();
  if (!t.found)
    return;
  unsigned char *base = &sharedAnchor - t.anchorOffset;
  for (const StaticSharedObject &o : t.objects)
    std::memcpy(base + o.offset, t.pattern.data(), o.bytes);
}

} // namespace detail
} // namespace emu

#endif // MOELA_TEST_EMU_EMUSTATICSHARED_H
