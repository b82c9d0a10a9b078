/*
 * clockshift: run a program with the machine's calendar moved by CLOCKSHIFT_SECONDS.
 *
 * An LD_PRELOAD shim for `make test-shifted`: it moves the wall clock (CLOCK_REALTIME,
 * gettimeofday, time) and leaves the monotonic clocks alone, which is what a machine whose
 * date is a year off looks like. Debian's libfaketime moves the monotonic clock too, and then
 * Python's timed waits (sem_clockwait on CLOCK_MONOTONIC) never return or time.sleep fails
 * with EINVAL; redis-server hangs under it. Every child inherits the shim (workers, uvicorn,
 * redis-server), so the whole suite agrees on the shifted date.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long offset;
static int ready;
static int (*real_clock_gettime)(clockid_t, struct timespec *);
static int (*real_gettimeofday)(struct timeval *, void *);

static void init(void) {
    if (ready) return;
    const char *s = getenv("CLOCKSHIFT_SECONDS");
    offset = s ? atoll(s) : 0;
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    real_gettimeofday = (int (*)(struct timeval *, void *))dlsym(RTLD_NEXT, "gettimeofday");
    ready = 1;
}

int clock_gettime(clockid_t id, struct timespec *ts) {
    init();
    int rc = real_clock_gettime(id, ts);
    if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += offset;
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    init();
    int rc = real_gettimeofday(tv, tz);
    if (rc == 0 && tv) tv->tv_sec += offset;
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
