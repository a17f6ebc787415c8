// The machine's memory read bandwidth, the bound on decoding a model larger than the caches
// (each decoded token reads every weight once). Reads a 1 GiB buffer with 512-bit loads on T
// threads, best of five passes.
//   cc -O2 -pthread scripts/bench/read-bandwidth.c -o /tmp/read-bandwidth && /tmp/read-bandwidth 2
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const size_t bytes = 1ul << 30;
static char *buffer;
static int threads;

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

__attribute__((target("avx512f"))) static void *read_part(void *argument) {
    const size_t part = bytes / threads;
    const char *p = buffer + (long)argument * part;
    __m512i sum = _mm512_setzero_si512();
    for (size_t i = 0; i < part; i += 256)
        for (int k = 0; k < 4; k++) sum = _mm512_add_epi64(sum, _mm512_load_si512(p + i + 64 * k));
    static volatile long sink;
    sink = _mm512_reduce_add_epi64(sum);
    return 0;
}

int main(int argc, char **argv) {
    threads = argc > 1 ? atoi(argv[1]) : 1;
    if (threads < 1 || threads > 64) return fprintf(stderr, "threads: 1...64\n"), 1;
    buffer = aligned_alloc(64, bytes);
    memset(buffer, 1, bytes);
    double best = 0;
    for (int pass = 0; pass < 5; pass++) {
        pthread_t thread[64];
        const double start = seconds();
        for (long t = 0; t < threads; t++) pthread_create(&thread[t], 0, read_part, (void *)t);
        for (int t = 0; t < threads; t++) pthread_join(thread[t], 0);
        const double rate = bytes / (seconds() - start) / 1e9;
        if (rate > best) best = rate;
    }
    printf("%d threads: %.1f GB/s read (best of 5 passes over 1 GiB)\n", threads, best);
    return 0;
}
