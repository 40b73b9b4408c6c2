/*
 * bench/rendezvous.c: what pool choice costs as the pool grows. For 3, 30
 * and 300 members: rendezvous_pick (the first choice: one score per member)
 * and rendezvous_order (the whole failover order: n scores and an insertion
 * sort); for pools the gateway accepts (up to POOL_MAX_BACKENDS = 16),
 * pool_order itself (health filter, order, sticky and prefix lookups).
 * Also the share of conversations that move when one member leaves (ideal:
 * 1/n). Built and run by bench/rendezvous; prints a Markdown table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pool.h"
#include "rendezvous.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile uint64_t sink;

static uint64_t key_of(long i)
{
    return (uint64_t)i * 0x9E3779B97F4A7C15ULL + 12345;
}

/* ns per call of fn over iters keys, best of 5 runs */
#define TIME(iters, body)                                                                          \
    ({                                                                                             \
        double best = 1e300;                                                                       \
        for (int run = 0; run < 5; run++) {                                                        \
            double t0 = now_ns();                                                                  \
            for (long it = 0; it < (iters); it++) {                                                \
                body;                                                                              \
            }                                                                                      \
            double t = (now_ns() - t0) / (double)(iters);                                          \
            if (t < best) best = t;                                                                \
        }                                                                                          \
        best;                                                                                      \
    })

int main(void)
{
    static const int sizes[] = {3, 16, 30, 300};
    printf("| members | pick (first choice) | order (whole failover order) | pool_order | moved when one leaves (ideal 1/n) |\n");
    printf("| ---: | ---: | ---: | ---: | ---: |\n");
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int n = sizes[si];
        uint64_t *ids = malloc(sizeof *ids * (size_t)n), *scores = malloc(sizeof *scores * (size_t)n);
        int *out = malloc(sizeof *out * (size_t)n);
        if (!ids || !scores || !out) return 1;
        for (int i = 0; i < n; i++) {
            char name[16];
            int l = snprintf(name, sizeof name, "gpu%d", i);
            ids[i] = rendezvous_id(name, l);
        }
        long iters = 3000000L / n;
        double pick = TIME(iters, sink += (uint64_t)rendezvous_pick(key_of(it), ids, n));
        double order = TIME(iters / 4 + 1, {
            rendezvous_order(key_of(it), ids, n, out, scores);
            sink += (uint64_t)out[0];
        });
        char po[32] = "n/a (max 16)";
        if (n <= POOL_MAX_BACKENDS) {
            pool_state *p = calloc(1, sizeof *p);
            pool_member m[POOL_MAX_BACKENDS];
            for (int i = 0; i < n; i++)
                m[i] = (pool_member){i, 1, 0, ids[i]};
            uint64_t pre[8];
            for (int k = 0; k < 1000; k++) { /* a replica that has seen 1000 conversations */
                for (int j = 0; j < 8; j++)
                    pre[j] = key_of(k) + (uint64_t)j;
                pool_learn(p, k % n, key_of(k), pre, 8);
            }
            int o[POOL_MAX_BACKENDS], depth;
            enum pool_reason why;
            double t = TIME(iters / 4 + 1, {
                for (int j = 0; j < 8; j++)
                    pre[j] = key_of(it % 2000) + (uint64_t)j;
                sink += (uint64_t)pool_order(p, m, n, key_of(it % 2000), pre, 8, o, &why, &depth);
            });
            snprintf(po, sizeof po, "%.0f ns", t);
            free(p);
        }
        long moved = 0, K = 100000;
        for (long k = 0; k < K; k++) {
            int before = rendezvous_pick(key_of(k), ids, n);
            int after = rendezvous_pick(key_of(k), ids + 1, n - 1) + 1; /* member 0 left */
            if (before != after) moved++;
        }
        printf("| %d | %.0f ns | %.0f ns | %s | %.2f%% (%.2f%%) |\n", n, pick, order, po,
               100.0 * (double)moved / (double)K, 100.0 / n);
        free(ids);
        free(scores);
        free(out);
    }
    return (int)(sink & 0);
}
