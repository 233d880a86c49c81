/* Shift the wall clock of one process by CLOCK_SKEW_SECONDS (e.g. 30 or -30), leaving the
 * monotonic clock and every sleep alone. Loaded with LD_PRELOAD by bench/chaos.py.
 *
 * Why not Debian's libfaketime: with Python 3.11, which sleeps with
 * clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), libfaketime 0.9.10 either fails every
 * sleep with EINVAL (FAKETIME_DONT_FAKE_MONOTONIC=1) or hangs it (monotonic faked):
 * upstream wolfcw/libfaketime#426. Only the wall clock matters for skew, so only it is shifted.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long long skew_ns(void) {
    static int ready;
    static long long skew;
    if (!ready) {
        const char *value = getenv("CLOCK_SKEW_SECONDS");
        skew = value ? (long long)(atof(value) * 1e9) : 0;
        ready = 1;
    }
    return skew;
}

static void shift(struct timespec *ts) {
    long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + skew_ns();
    ts->tv_sec = ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
}

int clock_gettime(clockid_t clock, struct timespec *ts) {
    static int (*real)(clockid_t, struct timespec *);
    if (!real) real = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
    int rc = real(clock, ts);
    if (rc == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE)) shift(ts);
    return rc;
}

int gettimeofday(struct timeval *tv, void *tz) {
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == 0 && tv) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    (void)tz;
    return rc;
}

time_t time(time_t *out) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (out) *out = ts.tv_sec;
    return ts.tv_sec;
}
