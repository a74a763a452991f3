/* ffl_memory_available_from: MemAvailable from a meminfo file, lowered by a cgroup v2 limit; files
 * that are missing, "max" or malformed leave the other source (or no limit) in charge. */
#include "common/sysmem.h"
#include "test_util.h"

#include <stdint.h>
#include <unistd.h>

static char dir[64];

static const char *put(const char *name, const char *text) {
    static char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) fputs(text, f), fclose(f);
    return path;
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/ffl_sysmem_XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
    char meminfo[128];
    snprintf(meminfo, sizeof meminfo, "%s", put("meminfo", "MemTotal:       24000000 kB\nMemFree:         1000000 kB\n"
                                                           "MemAvailable:   20000000 kB\nBuffers:          100 kB\n"));
    const size_t avail = (size_t)20000000 * 1024;

    CHECK(ffl_memory_available_from(NULL, NULL) == SIZE_MAX);
    CHECK(ffl_memory_available_from(meminfo, NULL) == avail);
    CHECK(ffl_memory_available_from("/nonexistent/meminfo", NULL) == SIZE_MAX);

    /* the cgroup directory is dir itself: no limit, a limit above and below what meminfo says */
    put("memory.max", "max\n");
    put("memory.current", "1000\n");
    CHECK(ffl_memory_available_from(meminfo, dir) == avail);
    put("memory.max", "100000000000\n");
    CHECK(ffl_memory_available_from(meminfo, dir) == avail);
    put("memory.max", "8000000000\n");
    put("memory.current", "3000000000\n");
    CHECK(ffl_memory_available_from(meminfo, dir) == 5000000000u);
    CHECK(ffl_memory_available_from(NULL, dir) == 5000000000u);
    put("memory.current", "9000000000\n"); /* over the limit already */
    CHECK(ffl_memory_available_from(meminfo, dir) == 0);

    /* malformed: no MemAvailable line, garbage in the cgroup files */
    put("meminfo", "MemTotal: lots\n");
    put("memory.max", "garbage\n");
    CHECK(ffl_memory_available_from(meminfo, dir) == SIZE_MAX);

    /* this process: its own meminfo and cgroup give some memory */
    const size_t here = ffl_memory_available();
    CHECK(here > 0);

    char path[160];
    const char *names[] = {"meminfo", "memory.max", "memory.current"};
    for (int i = 0; i < 3; i++) snprintf(path, sizeof path, "%s/%s", dir, names[i]), unlink(path);
    rmdir(dir);
    return test_finish("test_sysmem");
}
