/* ledger_lock: flock on the slot ledger's lock file (see ledger_lock.h). */
#include "ledger_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ledger_lock(const char *path, int wait_ms)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_line(1, "slot ledger: cannot open %s (%s): placing without the lock", path,
                 strerror(errno));
        return -1;
    }
    long long until = now_ms() + (wait_ms > 0 ? wait_ms : 0);
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
        if (errno != EWOULDBLOCK && errno != EINTR) break;
        if (now_ms() >= until) {
            errno = ETIMEDOUT;
            break;
        }
        struct timespec pause = {0, 2 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    log_line(1, "slot ledger: %s not locked (%s): placing without the lock", path, strerror(errno));
    close(fd);
    return -1;
}

void ledger_unlock(int fd)
{
    if (fd < 0) return;
    flock(fd, LOCK_UN);
    close(fd);
}
