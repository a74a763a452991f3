/* CPU feature detection and the kernel level chosen from it (FFLAMA_CPU can only lower it). */
#include "common/ffl_internal.h"
#include "cpu/cpu_features.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define FFL_X86 1
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif

static ffl_cpu_info cpu;
static int32_t active_level;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char feature_text[256];

#if FFL_X86
static uint64_t read_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

static void append(const char *name, int present) {
    if (!present) return;
    size_t len = strlen(feature_text);
    snprintf(feature_text + len, sizeof feature_text - len, "%s%s", len ? " " : "", name);
}

static int32_t level_from_env(int32_t max_level) {
    const char *env = getenv("FFLAMA_CPU");
    if (!env || !*env) return max_level;
    int32_t wanted = -1;
    if (strcmp(env, "scalar") == 0) wanted = FFL_CPU_SCALAR;
    else if (strcmp(env, "avx2") == 0) wanted = FFL_CPU_AVX2;
    else if (strcmp(env, "avx512") == 0) wanted = FFL_CPU_AVX512;
    else if (strcmp(env, "neon") == 0) wanted = FFL_CPU_NEON;
    else if (strcmp(env, "neon-dotprod") == 0) wanted = FFL_CPU_NEON_DOTPROD;
    if (wanted < 0) {
        FFL_LOGW("FFLAMA_CPU=%s is not one of scalar|avx2|avx512|neon|neon-dotprod; using %s", env,
                 ffl_cpu_level_name(max_level));
        return max_level;
    }
    if (wanted > max_level) {
        FFL_LOGW("FFLAMA_CPU=%s is above what this CPU supports; using %s", env, ffl_cpu_level_name(max_level));
        return max_level;
    }
    return wanted;
}

static void detect(void) {
    memset(&cpu, 0, sizeof cpu);
#if FFL_X86
    uint32_t a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d)) {
        cpu.sse3 = (c >> 0) & 1;
        cpu.ssse3 = (c >> 9) & 1;
        cpu.fma = (c >> 12) & 1;
        cpu.sse41 = (c >> 19) & 1;
        cpu.f16c = (c >> 29) & 1;
        int osxsave = (c >> 27) & 1;
        int avx = (c >> 28) & 1;
        uint64_t xcr0 = osxsave ? read_xcr0() : 0;
        int os_ymm = (xcr0 & 0x6) == 0x6;
        int os_zmm = (xcr0 & 0xe6) == 0xe6;
        cpu.avx = avx && os_ymm;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
            cpu.avx2 = cpu.avx && ((b >> 5) & 1);
            cpu.avx512f = os_zmm && ((b >> 16) & 1);
            cpu.avx512dq = cpu.avx512f && ((b >> 17) & 1);
            cpu.avx512bw = cpu.avx512f && ((b >> 30) & 1);
            cpu.avx512vl = cpu.avx512f && ((b >> 31) & 1);
            cpu.avx512vnni = cpu.avx512f && ((c >> 11) & 1);
            cpu.avx512vbmi = cpu.avx512f && ((c >> 1) & 1);
            cpu.gfni = cpu.avx && ((c >> 8) & 1);
            cpu.avxvnni = 0;
            if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
                cpu.avxvnni = cpu.avx2 && ((a >> 4) & 1);
                cpu.avx512bf16 = cpu.avx512f && ((a >> 5) & 1);
            }
        }
    }
    append("sse3", cpu.sse3);
    append("ssse3", cpu.ssse3);
    append("sse4.1", cpu.sse41);
    append("avx", cpu.avx);
    append("avx2", cpu.avx2);
    append("fma", cpu.fma);
    append("f16c", cpu.f16c);
    append("avx_vnni", cpu.avxvnni);
    append("avx512f", cpu.avx512f);
    append("avx512dq", cpu.avx512dq);
    append("avx512bw", cpu.avx512bw);
    append("avx512vl", cpu.avx512vl);
    append("avx512vnni", cpu.avx512vnni);
    append("avx512vbmi", cpu.avx512vbmi);
    append("avx512bf16", cpu.avx512bf16);
    append("gfni", cpu.gfni);
    int32_t max_level = FFL_CPU_SCALAR;
    if (cpu.avx2 && cpu.fma && cpu.f16c) max_level = FFL_CPU_AVX2;
    if (max_level == FFL_CPU_AVX2 && cpu.avx512f && cpu.avx512bw && cpu.avx512vl && cpu.avx512dq)
        max_level = FFL_CPU_AVX512;
#elif defined(__aarch64__)
    cpu.neon = 1;
#if defined(__linux__)
    unsigned long hwcap = getauxval(AT_HWCAP);
    cpu.dotprod = (hwcap >> 20) & 1; /* HWCAP_ASIMDDP */
#elif defined(__APPLE__)
    cpu.dotprod = 1;
#endif
    append("neon", 1);
    append("dotprod", cpu.dotprod);
    int32_t max_level = cpu.dotprod ? FFL_CPU_NEON_DOTPROD : FFL_CPU_NEON;
#else
    int32_t max_level = FFL_CPU_SCALAR;
#endif
    cpu.max_level = max_level;
    active_level = level_from_env(max_level);
}

const ffl_cpu_info *ffl_cpu_info_get(void) {
    pthread_once(&once, detect);
    return &cpu;
}

const char *ffl_cpu_features(void) {
    pthread_once(&once, detect);
    return feature_text;
}

int32_t ffl_cpu_level(void) {
    pthread_once(&once, detect);
    return active_level;
}

int32_t ffl_cpu_max_level(void) {
    pthread_once(&once, detect);
    return cpu.max_level;
}

int32_t ffl_cpu_set_level(int32_t level) {
    pthread_once(&once, detect);
    if (level < 0 || level > cpu.max_level)
        return ffl_fail(FFL_ERR_UNSUPPORTED, "cpu level %d is not supported here (best: %s)", level,
                        ffl_cpu_level_name(cpu.max_level));
#if FFL_X86
    if (level > FFL_CPU_AVX512)
        return ffl_fail(FFL_ERR_UNSUPPORTED, "cpu level %s is for AArch64", ffl_cpu_level_name(level));
#endif
    active_level = level;
    return FFL_OK;
}

const char *ffl_cpu_level_name(int32_t level) {
    switch (level) {
    case FFL_CPU_SCALAR: return "scalar";
    case FFL_CPU_AVX2: return "avx2";
    case FFL_CPU_AVX512: return "avx512";
    case FFL_CPU_NEON: return "neon";
    case FFL_CPU_NEON_DOTPROD: return "neon-dotprod";
    default: return "unknown";
    }
}

int32_t ffl_cpu_physical_cores(void) {
    /* Count distinct (physical id, core id) pairs; fall back to online CPUs. */
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) online = 1;
#if defined(__linux__)
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[256];
        int phys = -1, pairs = 0;
        int seen[1024][2];
        while (fgets(line, sizeof line, f)) {
            int v;
            if (sscanf(line, "physical id : %d", &v) == 1) phys = v;
            else if (sscanf(line, "core id : %d", &v) == 1) {
                int dup = 0;
                for (int i = 0; i < pairs; i++)
                    if (seen[i][0] == phys && seen[i][1] == v) dup = 1;
                if (!dup && pairs < 1024) {
                    seen[pairs][0] = phys;
                    seen[pairs][1] = v;
                    pairs++;
                }
            }
        }
        fclose(f);
        if (pairs > 0 && pairs <= online) return pairs;
    }
#endif
    return (int32_t)online;
}
