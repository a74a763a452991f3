/* What memory the system can still give this process, and in what pages. */
#ifndef FFL_SYSMEM_H
#define FFL_SYSMEM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes available without swapping: MemAvailable of a meminfo file (e.g. "/proc/meminfo"), lowered
 * to memory.max - memory.current of a cgroup v2 directory when it has a limit (a container's). Either
 * path may be NULL; SIZE_MAX when nothing could be read. */
size_t ffl_memory_available_from(const char *meminfo, const char *cgroup_dir);

/* Whether anonymous memory can get transparent huge pages (Linux, not "[never]"). */
int ffl_huge_pages_available(void);

/* ffl_memory_available_from for this process: /proc/meminfo and its own cgroup (Linux), else SIZE_MAX. */
size_t ffl_memory_available(void);

#ifdef __cplusplus
}
#endif

#endif
