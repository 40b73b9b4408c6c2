/*
 * monotime: CLOCK_MONOTONIC in milliseconds (see monotime.h).
 */
#include "monotime.h"

#include <time.h>

double monotime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}
