/* ledger: the slot ledger gateways sharing a llama-server keep in the
 * state directory, and its lock (see ledger.h). */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "affinity.h"
#include "log.h"

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ledger_lock(const char *path, int wait_ms)
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

/* One line per slot a gateway placed something in: "slot pid kind". Read
 * before each placement, so a gateway leaves alone the slots another live
 * gateway uses and takes over, as claimable prefixes, those a gateway that
 * has exited left behind. Written with a rename, so a reader never sees
 * half a file; a placement (read, decide, write) holds the ledger's lock
 * (ledger_lock.h), so two gateways never both take the slot it showed
 * free, nor lose each other's line. */
typedef struct ledger_entry {
    long pid;
    uint64_t kind;
    int primed;    /* a primed prefix, claimable by any gateway ("p"), not a conversation ("c") */
    uint64_t conv; /* whose conversation the prefix is (0: nobody's) */
} ledger_entry;

static int ledger_path(const char *dir, const char *url, char *out, size_t n)
{
    if (!dir[0]) return -1;
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, url, strlen(url));
    snprintf(out, n, "%s/slots-%016llx.txt", dir, (unsigned long long)h);
    return 0;
}

static void ledger_read(const char *dir, const char *url, ledger_entry *e)
{
    memset(e, 0, sizeof(ledger_entry) * AFFINITY_MAX_SLOTS);
    char path[700];
    if (ledger_path(dir, url, path, sizeof path)) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[128];
    while (fgets(line, sizeof line, f)) {
        char *end;
        long slot = strtol(line, &end, 10);
        long pid = strtol(end, &end, 10);
        unsigned long long kind = strtoull(end, &end, 16);
        while (*end == ' ')
            end++;
        int primed = *end == 'p';
        unsigned long long conv = *end ? strtoull(end + 1, NULL, 16) : 0;
        if (slot >= 0 && slot < AFFINITY_MAX_SLOTS && pid > 0) {
            e[slot].pid = pid;
            e[slot].kind = kind;
            e[slot].primed = primed;
            e[slot].conv = conv;
        }
    }
    fclose(f);
}

static void ledger_store(const char *path, const ledger_entry *e)
{
    char tmp[760];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return;
    for (int i = 0; i < AFFINITY_MAX_SLOTS; i++)
        if (e[i].pid > 0)
            fprintf(f, "%d %ld %016llx %c %016llx\n", i, e[i].pid, (unsigned long long)e[i].kind,
                    e[i].primed ? 'p' : 'c', (unsigned long long)e[i].conv);
    if (fclose(f) != 0 || rename(tmp, path) != 0) remove(tmp);
}

void ledger_write(const char *dir, const char *url, int slot, uint64_t kind, int primed,
                  uint64_t conv)
{
    char path[700];
    if (slot < 0 || slot >= AFFINITY_MAX_SLOTS || ledger_path(dir, url, path, sizeof path)) return;
    ledger_entry e[AFFINITY_MAX_SLOTS];
    ledger_read(dir, url, e);
    if (e[slot].pid == (long)getpid() && e[slot].kind == kind && e[slot].primed == primed &&
        e[slot].conv == conv)
        return;
    e[slot].pid = (long)getpid();
    e[slot].kind = kind;
    e[slot].primed = primed;
    e[slot].conv = conv;
    ledger_store(path, e);
}

/* The lock: ledger-<same hash>.lock beside slots-<hash>.txt (which is replaced by a rename, so it
 * cannot carry the lock itself). */
int ledger_hold(const char *dir, const char *url)
{
    char path[700];
    if (!dir[0]) return -1;
    uint64_t h = affinity_hash(AFFINITY_HASH_INIT, url, strlen(url));
    snprintf(path, sizeof path, "%s/ledger-%016llx.lock", dir, (unsigned long long)h);
    return ledger_lock(path, LEDGER_LOCK_WAIT_MS);
}

static int pid_alive(long pid)
{
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* Tell affinity what other gateways did since (see affinity_external). */
void ledger_forget(const char *dir, const char *url, int slot)
{
    char path[700];
    if (slot < 0 || slot >= AFFINITY_MAX_SLOTS || ledger_path(dir, url, path, sizeof path)) return;
    ledger_entry e[AFFINITY_MAX_SLOTS];
    ledger_read(dir, url, e);
    if (e[slot].pid <= 0 || (pid_alive(e[slot].pid) && !e[slot].primed)) return;
    memset(&e[slot], 0, sizeof e[slot]);
    ledger_store(path, e);
}

void ledger_sync(const char *dir, const char *url, affinity *aff)
{
    ledger_entry e[AFFINITY_MAX_SLOTS];
    char path[700];
    if (ledger_path(dir, url, path, sizeof path)) return;
    ledger_read(dir, url, e);
    for (int i = 0; i < aff->nslots; i++) {
        if (e[i].pid == (long)getpid()) continue;
        if (e[i].pid <= 0)
            affinity_external(aff, i, AFFINITY_EXT_NONE, 0);
        else if (pid_alive(e[i].pid) && !e[i].primed)
            affinity_external(aff, i, AFFINITY_EXT_FOREIGN, 0);
        else /* gone, or a prefix primed for whoever comes first */
            affinity_external(aff, i, AFFINITY_EXT_LEFT, e[i].kind);
        if (e[i].pid > 0) affinity_owner(aff, i, e[i].conv);
    }
}
