/*
 * aofcrash: make SIGKILL of redis-server behave like a host crash (power loss) for its AOF.
 *
 * An LD_PRELOAD shim for redis-server in tests (tests/support/crashable_redis.py builds and
 * loads it). On a real host, write() only puts bytes in the page cache: they survive the
 * process being killed and are lost when the host dies, unless fsync/fdatasync reached the
 * disk first. Killing a process therefore loses nothing, which hides exactly the window that
 * `appendfsync everysec` leaves open. This shim closes the gap: every write to a file inside
 * AOFCRASH_DIR is held in a buffer in the process and handed to the kernel only when that fd
 * is fsync'ed or fdatasync'ed (then a real fsync follows). SIGKILL then drops what was never
 * fsynced, exactly as a host crash would, and keeps what was.
 *
 *   AOFCRASH_DIR   absolute path of the directory whose files are held: Redis 7's
 *                  `appenddirname` folder (the multi-part AOF and its manifest), or for 6.x the
 *                  data dir (appendonly.aof and the rewrite's temp files live there).
 *                  Unset: the shim does nothing.
 *
 * What counts as one of those files: an fd returned by open/open64/openat/openat64/creat for
 * writing whose resolved path is inside AOFCRASH_DIR. Files written through stdio (fopen:
 * glibc calls its internal __write, which no preload can see) go straight to the kernel; Redis
 * writes the AOF rewrite's base file that way and fsyncs it before renaming, so nothing is lost
 * that a crash would not lose too. Held per fd, in order: write, writev, pwrite(64),
 * ftruncate(64). fsync/fdatasync replays them with the real calls, then syncs.
 *
 * Choices (a real host does not say what happens between these; we take the crash's view):
 * - close() of an fd with held bytes drops them and says so on stderr ("aofcrash: dropped").
 *   A close is no durability point on a real host either; Redis fsyncs an AOF before it
 *   closes it (and before it renames a manifest), so a drop is a finding, not noise.
 * - rename/unlink are passed through: the held bytes belong to the fd, not to the name.
 * - lseek/fstat/read see only what reached the kernel. Redis only seeks an AOF fd while
 *   loading, before it has written anything to it.
 * - fork: the child gets a copy of the buffers (fork copies memory); a lock held by another
 *   thread at fork time is taken around fork so the child never inherits it locked.
 * - An fd is re-checked (device and inode) before its writes are held, so an fd number reused
 *   by a path we did not see (a socket after a close we missed) is never held by mistake.
 *
 * Thread safety: Redis fsyncs from its bio thread while the main thread writes. One mutex
 * guards the table; a per-fd flush mutex keeps two concurrent fsyncs of one fd in order.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_FDS 65536
enum { OP_WRITE = 1, OP_PWRITE = 2, OP_TRUNCATE = 3 };

struct op {
    struct op *next;
    int kind;
    off_t offset; /* OP_PWRITE: where; OP_TRUNCATE: the length */
    size_t len;
    char data[];
};

struct held {
    dev_t dev;
    ino_t ino;
    struct op *head, *tail;
    size_t bytes;
    pthread_mutex_t flush; /* one fsync of this fd at a time, so replays keep their order */
    char path[512];
};

static struct held *table[MAX_FDS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char dir[4096];
static size_t dir_len;

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_creat)(const char *, mode_t);
static int (*real_creat64)(const char *, mode_t);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void *, size_t, off_t);
static int (*real_ftruncate)(int, off_t);
static int (*real_ftruncate64)(int, off_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_close)(int);

static void before_fork(void) { pthread_mutex_lock(&lock); }
static void after_fork(void) { pthread_mutex_unlock(&lock); }

static void init(void) {
#define LOAD(name) real_##name = dlsym(RTLD_NEXT, #name)
    LOAD(open); LOAD(open64); LOAD(openat); LOAD(openat64); LOAD(creat); LOAD(creat64);
    LOAD(write); LOAD(writev); LOAD(pwrite); LOAD(pwrite64); LOAD(ftruncate);
    LOAD(ftruncate64); LOAD(fsync); LOAD(fdatasync); LOAD(close);
#undef LOAD
    const char *d = getenv("AOFCRASH_DIR");
    if (d && d[0] == '/' && strlen(d) < sizeof(dir) - 1) {
        /* Resolve symlinks once, as /proc/self/fd shows resolved paths. */
        char *resolved = realpath(d, NULL);
        snprintf(dir, sizeof(dir), "%s", resolved ? resolved : d);
        free(resolved);
        dir_len = strlen(dir);
        while (dir_len > 1 && dir[dir_len - 1] == '/') dir[--dir_len] = '\0';
    }
    pthread_atfork(before_fork, after_fork, after_fork);
}

static void ensure(void) { pthread_once(&once, init); }

/* After a successful open for writing: hold the fd if its file lies inside AOFCRASH_DIR. */
static void consider(int fd, int flags) {
    if (fd < 0 || fd >= MAX_FDS || dir_len == 0) return;
    if ((flags & O_ACCMODE) == O_RDONLY) return;
    char link[64], path[512];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof(path) - 1);
    if (n <= 0) return;
    path[n] = '\0';
    if ((size_t)n <= dir_len || strncmp(path, dir, dir_len) != 0 || path[dir_len] != '/') return;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return;
    struct held *h = calloc(1, sizeof(*h));
    if (!h) return;
    h->dev = st.st_dev;
    h->ino = st.st_ino;
    pthread_mutex_init(&h->flush, NULL);
    snprintf(h->path, sizeof(h->path), "%s", path);
    pthread_mutex_lock(&lock);
    struct held *old = table[fd]; /* a stale entry: that fd was closed where we could not see */
    table[fd] = h;
    pthread_mutex_unlock(&lock);
    if (old) {
        for (struct op *o = old->head, *next; o; o = next) { next = o->next; free(o); }
        free(old);
    }
}

static void free_ops(struct op *o) {
    for (struct op *next; o; o = next) { next = o->next; free(o); }
}

/* The entry for fd if it is held and still the file we saw opened; drops a stale one. */
static struct held *lookup_locked(int fd) {
    if (fd < 0 || fd >= MAX_FDS) return NULL;
    struct held *h = table[fd];
    if (!h) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_dev != h->dev || st.st_ino != h->ino) {
        table[fd] = NULL;
        free_ops(h->head);
        free(h);
        return NULL;
    }
    return h;
}

static int is_held(int fd) {
    if (fd < 0 || fd >= MAX_FDS || dir_len == 0) return 0;
    pthread_mutex_lock(&lock);
    int yes = table[fd] != NULL; /* cheap check first: most fds are sockets */
    pthread_mutex_unlock(&lock);
    return yes;
}

/* Append an op; returns 0 when the fd turned out not to be held (caller passes through). */
static int hold(int fd, int kind, off_t offset, const struct iovec *iov, int iovcnt) {
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++) len += iov[i].iov_len;
    struct op *o = malloc(sizeof(*o) + len);
    if (!o) return 0;
    o->next = NULL;
    o->kind = kind;
    o->offset = offset;
    o->len = len;
    size_t at = 0;
    for (int i = 0; i < iovcnt; i++) {
        memcpy(o->data + at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    pthread_mutex_lock(&lock);
    struct held *h = lookup_locked(fd);
    if (h) {
        if (h->tail) h->tail->next = o; else h->head = o;
        h->tail = o;
        h->bytes += len;
    }
    pthread_mutex_unlock(&lock);
    if (!h) free(o);
    return h != NULL;
}

static int write_all(int fd, const char *p, size_t len, int positioned, off_t off) {
    while (len > 0) {
        ssize_t n = positioned ? real_pwrite64(fd, p, len, off) : real_write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += n;
    }
    return 0;
}

/* Hand the held ops of fd to the kernel, in order. */
static int replay(int fd) {
    pthread_mutex_lock(&lock);
    struct held *h = lookup_locked(fd);
    pthread_mutex_unlock(&lock);
    if (!h) return 0;
    pthread_mutex_lock(&h->flush);
    pthread_mutex_lock(&lock);
    struct op *ops = NULL;
    if (table[fd] == h) {
        ops = h->head;
        h->head = h->tail = NULL;
        h->bytes = 0;
    }
    pthread_mutex_unlock(&lock);
    int rc = 0;
    for (struct op *o = ops; o && rc == 0; o = o->next) {
        if (o->kind == OP_WRITE) rc = write_all(fd, o->data, o->len, 0, 0);
        else if (o->kind == OP_PWRITE) rc = write_all(fd, o->data, o->len, 1, o->offset);
        else rc = real_ftruncate64(fd, o->offset);
    }
    free_ops(ops);
    pthread_mutex_unlock(&h->flush);
    return rc;
}

/* --- the interposed calls ------------------------------------------------------------ */

#define MODE_ARG(flags, mode)                                             \
    mode_t mode = 0;                                                      \
    if ((flags) & (O_CREAT | O_TMPFILE)) {                                \
        va_list ap;                                                       \
        va_start(ap, flags);                                              \
        mode = (mode_t)va_arg(ap, int);                                   \
        va_end(ap);                                                       \
    }

int open(const char *path, int flags, ...) {
    ensure();
    MODE_ARG(flags, mode);
    int fd = real_open(path, flags, mode);
    consider(fd, flags);
    return fd;
}

int open64(const char *path, int flags, ...) {
    ensure();
    MODE_ARG(flags, mode);
    int fd = real_open64(path, flags, mode);
    consider(fd, flags);
    return fd;
}

int openat(int dirfd, const char *path, int flags, ...) {
    ensure();
    MODE_ARG(flags, mode);
    int fd = real_openat(dirfd, path, flags, mode);
    consider(fd, flags);
    return fd;
}

int openat64(int dirfd, const char *path, int flags, ...) {
    ensure();
    MODE_ARG(flags, mode);
    int fd = real_openat64(dirfd, path, flags, mode);
    consider(fd, flags);
    return fd;
}

int creat(const char *path, mode_t mode) {
    ensure();
    int fd = real_creat(path, mode);
    consider(fd, O_WRONLY);
    return fd;
}

int creat64(const char *path, mode_t mode) {
    ensure();
    int fd = real_creat64(path, mode);
    consider(fd, O_WRONLY);
    return fd;
}

ssize_t write(int fd, const void *buf, size_t len) {
    ensure();
    if (is_held(fd)) {
        struct iovec iov = {(void *)buf, len};
        if (hold(fd, OP_WRITE, 0, &iov, 1)) return (ssize_t)len;
    }
    return real_write(fd, buf, len);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt) {
    ensure();
    if (is_held(fd) && iovcnt >= 0) {
        size_t len = 0;
        for (int i = 0; i < iovcnt; i++) len += iov[i].iov_len;
        if (hold(fd, OP_WRITE, 0, iov, iovcnt)) return (ssize_t)len;
    }
    return real_writev(fd, iov, iovcnt);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t offset) {
    ensure();
    if (is_held(fd)) {
        struct iovec iov = {(void *)buf, len};
        if (hold(fd, OP_PWRITE, offset, &iov, 1)) return (ssize_t)len;
    }
    return real_pwrite(fd, buf, len, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off_t offset) {
    ensure();
    if (is_held(fd)) {
        struct iovec iov = {(void *)buf, len};
        if (hold(fd, OP_PWRITE, offset, &iov, 1)) return (ssize_t)len;
    }
    return real_pwrite64(fd, buf, len, offset);
}

int ftruncate(int fd, off_t length) {
    ensure();
    if (is_held(fd) && length >= 0 && hold(fd, OP_TRUNCATE, length, NULL, 0)) return 0;
    return real_ftruncate(fd, length);
}

int ftruncate64(int fd, off_t length) {
    ensure();
    if (is_held(fd) && length >= 0 && hold(fd, OP_TRUNCATE, length, NULL, 0)) return 0;
    return real_ftruncate64(fd, length);
}

int fsync(int fd) {
    ensure();
    if (is_held(fd) && replay(fd) != 0) return -1;
    return real_fsync(fd);
}

int fdatasync(int fd) {
    ensure();
    if (is_held(fd) && replay(fd) != 0) return -1;
    return real_fdatasync(fd);
}

int close(int fd) {
    ensure();
    if (fd >= 0 && fd < MAX_FDS && dir_len != 0) {
        pthread_mutex_lock(&lock);
        struct held *h = table[fd];
        table[fd] = NULL;
        pthread_mutex_unlock(&lock);
        if (h) {
            pthread_mutex_lock(&h->flush); /* an fsync of it in flight finishes first */
            pthread_mutex_unlock(&h->flush);
            if (h->bytes > 0) {
                char msg[700];
                int n = snprintf(msg, sizeof(msg),
                                 "aofcrash: dropped %zu bytes written to %s and closed without "
                                 "fsync\n",
                                 h->bytes, h->path);
                if (n > 0) real_write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg));
            }
            free_ops(h->head);
            pthread_mutex_destroy(&h->flush);
            free(h);
        }
    }
    return real_close(fd);
}
