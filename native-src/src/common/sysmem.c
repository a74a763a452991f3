#include "common/sysmem.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The number a file starts with; 0 when it is missing or starts otherwise (a cgroup's "max"). */
static int read_number(const char *dir, const char *name, unsigned long long *out) {
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) return 0;
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    const int ok = fscanf(f, "%llu", out) == 1;
    fclose(f);
    return ok;
}

size_t ffl_memory_available_from(const char *meminfo, const char *cgroup_dir) {
    unsigned long long avail = UINT64_MAX;
    FILE *f = meminfo ? fopen(meminfo, "r") : NULL;
    if (f) {
        char line[256];
        unsigned long long kib;
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1) {
                avail = kib <= UINT64_MAX / 1024 ? kib * 1024 : UINT64_MAX;
                break;
            }
        fclose(f);
    }
    unsigned long long max, cur;
    if (cgroup_dir && read_number(cgroup_dir, "memory.max", &max) && read_number(cgroup_dir, "memory.current", &cur)) {
        const unsigned long long left = max > cur ? max - cur : 0;
        if (left < avail) avail = left;
    }
    return avail >= SIZE_MAX ? SIZE_MAX : (size_t)avail;
}

size_t ffl_memory_available(void) {
#ifdef __linux__
    /* cgroup v2: the line "0::/path" names this process's group under /sys/fs/cgroup */
    char dir[1100] = {0}, line[1024];
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "0::", 3) == 0) {
                line[strcspn(line, "\n")] = 0;
                snprintf(dir, sizeof dir, "/sys/fs/cgroup%s", strcmp(line + 3, "/") == 0 ? "" : line + 3);
                break;
            }
        fclose(f);
    }
    return ffl_memory_available_from("/proc/meminfo", dir[0] ? dir : NULL);
#else
    return SIZE_MAX;
#endif
}

int ffl_huge_pages_available(void) {
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f) return 0;
    char buf[128] = {0};
    const int ok = fgets(buf, sizeof buf, f) != NULL && strstr(buf, "[never]") == NULL;
    fclose(f);
    return ok;
}
