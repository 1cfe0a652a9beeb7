#ifndef CSPOOL_LINUX_H
#define CSPOOL_LINUX_H
// Tiny C shim for what Swift's Glibc overlay does not expose (it is compiled with _GNU_SOURCE)
// and for the CRC32C kernel, which uses the SSE4.2 instruction when the CPU has it.
// Every symbol is prefixed `cspool_`.
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), continuing from `crc`.
/// Start with crc = 0. Standard pre/post inversion is applied inside, so
/// cspool_crc32c(cspool_crc32c(0, a), b) == cspool_crc32c(0, a ++ b).
uint32_t cspool_crc32c(uint32_t crc, const void *data, size_t length);

/// fallocate(2) with mode 0; returns 0 or -1 with errno set.
int cspool_fallocate(int fd, off_t offset, off_t length);

/// errno of the calling thread (Swift cannot read the errno macro portably).
int cspool_errno(void);

#endif
