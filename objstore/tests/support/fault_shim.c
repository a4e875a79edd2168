/*
 * Fault injection for objstore's tests (tests/faults.rs): an LD_PRELOAD library that makes
 * fsync, fdatasync, rename, renameat and renameat2 fail on demand.
 *
 * Interposing the libc symbols is not enough: backend-local calls the kernel through rustix,
 * whose linux_raw backend issues the system calls itself, so `fsync()` in libc is never called.
 * This library therefore installs, when loaded, a seccomp filter that traps those five system
 * calls (SECCOMP_RET_TRAP: the kernel raises SIGSYS instead of running them) and a SIGSYS handler
 * that either fails the call with an errno or issues it again itself, with a marker in the unused
 * sixth argument that the filter lets through. Every path into the kernel is covered: rustix,
 * libc, std.
 *
 * Control (the shim does nothing unless OBJSTORE_FAULT_CTL or OBJSTORE_FAULT_NO_TMPFILE is set):
 *   OBJSTORE_FAULT_CTL  a file read at each trapped call; absent or empty: no faults. Its one line:
 *                       "GEN TARGET ERRNO SKIP COUNT [SUBSTRING]"
 *                       GEN      any number; when it changes, the counters start again
 *                       TARGET   fsync (any fd), fsync-file, fsync-dir, fdatasync, rename (any of
 *                                the three), any
 *                       ERRNO    EIO, ENOSPC, EDQUOT, EROFS; "EIO+20" fails after 20 ms, as a
 *                                failing device reports late (calls in flight meanwhile pile up)
 *                       SKIP     how many matching calls pass before the first failure
 *                       COUNT    how many matching calls then fail (later ones pass)
 *                       SUBSTRING only calls whose path contains it match (the target name of a
 *                                rename, the file behind an fsync's descriptor)
 *   OBJSTORE_FAULT_LOG  a file that gets one line per injected fault:
 *                       "FAULT gen=GEN call=fsync|fdatasync|rename kind=file|dir errno=EIO path=..."
 *   OBJSTORE_FAULT_NO_TMPFILE=1  openat with O_TMPFILE fails with EOPNOTSUPP (no trap: a plain
 *                       seccomp errno), as on file systems without unnamed temp files, so the
 *                       backend falls back to named temp files (which a kill leaves behind).
 *
 * Linux on x86_64 and aarch64 only (aarch64 untested). Build: cc -shared -fPIC -O2 -o fault_shim.so fault_shim.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__x86_64__)
#define SHIM_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SHIM_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "fault_shim supports x86_64 and aarch64 only"
#endif

/* The kernel's own O_TMPFILE bit (asm-generic/fcntl.h; glibc's __O_TMPFILE adds O_DIRECTORY). */
#define TMPFILE_BIT 020000000

/* The sixth argument that marks the handler's own calls (no trapped call uses six). */
#define PASS_LO 0x0b57f417u
#define PASS_HI 0x5eedfa17u
#define PASS ((long)(((unsigned long)PASS_HI << 32) | PASS_LO))

static const char *ctl_path;
static const char *log_path;
static long seen_gen = -1;
static long matched;

static long raw_syscall6(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
#else
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
#endif
}

static int errno_of(const char *name) {
    if (strcmp(name, "ENOSPC") == 0) return ENOSPC;
    if (strcmp(name, "EDQUOT") == 0) return EDQUOT;
    if (strcmp(name, "EROFS") == 0) return EROFS;
    return EIO;
}

static void append(char *buf, size_t cap, size_t *len, const char *s) {
    while (*s && *len + 1 < cap) buf[(*len)++] = *s++;
    buf[*len] = 0;
}

static void append_num(char *buf, size_t cap, size_t *len, long v) {
    char digits[24];
    int n = 0;
    unsigned long u = v < 0 ? (unsigned long)-v : (unsigned long)v;
    do {
        digits[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u && n < 23);
    if (v < 0) append(buf, cap, len, "-");
    while (n) {
        char c[2] = {digits[--n], 0};
        append(buf, cap, len, c);
    }
}

/* Decides, for one trapped call, the errno to fail it with (0: let it run). Async-signal-safe:
 * only open/read/write/close/fstat/readlinkat, none of which the filter traps. */
static int decide(long nr, long *args) {
    if (!ctl_path) return 0;
    char spec[512];
    int fd = open(ctl_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, spec, sizeof spec - 1);
    close(fd);
    if (n <= 0) return 0;
    spec[n] = 0;

    long gen = 0, skip = 0, count = 0;
    char target[32] = {0}, err[16] = {0}, sub[256] = {0};
    if (sscanf(spec, "%ld %31s %15s %ld %ld %255s", &gen, target, err, &skip, &count, sub) < 5) return 0;
    long delay_ms = 0;
    char *plus = strchr(err, '+');
    if (plus) {
        delay_ms = strtol(plus + 1, NULL, 10);
        *plus = 0;
    }

    const char *call;
    char path[512] = {0};
    int is_dir = 0;
    if (nr == SYS_fsync || nr == SYS_fdatasync) {
        call = nr == SYS_fsync ? "fsync" : "fdatasync";
        struct stat st;
        if (fstat((int)args[0], &st) == 0) is_dir = S_ISDIR(st.st_mode);
        char link[64];
        size_t len = 0;
        append(link, sizeof link, &len, "/proc/self/fd/");
        append_num(link, sizeof link, &len, args[0]);
        ssize_t m = readlink(link, path, sizeof path - 1);
        path[m > 0 ? m : 0] = 0;
    } else {
        call = "rename";
#ifdef SYS_rename
        const char *to = (const char *)(nr == SYS_rename ? args[1] : args[3]);
#else
        const char *to = (const char *)args[3];
#endif
        size_t len = 0;
        if (to) append(path, sizeof path, &len, to);
    }

    int match = strcmp(target, "any") == 0 || strcmp(target, call) == 0 ||
                (strcmp(target, "fsync-file") == 0 && nr == SYS_fsync && !is_dir) ||
                (strcmp(target, "fsync-dir") == 0 && nr == SYS_fsync && is_dir);
    if (!match || (sub[0] && !strstr(path, sub))) return 0;

    if (__atomic_exchange_n(&seen_gen, gen, __ATOMIC_SEQ_CST) != gen) __atomic_store_n(&matched, 0, __ATOMIC_SEQ_CST);
    long nth = __atomic_fetch_add(&matched, 1, __ATOMIC_SEQ_CST);
    if (nth < skip || nth >= skip + count) return 0;

    int e = errno_of(err);
    if (log_path) {
        char line[1024];
        size_t len = 0;
        append(line, sizeof line, &len, "FAULT gen=");
        append_num(line, sizeof line, &len, gen);
        append(line, sizeof line, &len, " call=");
        append(line, sizeof line, &len, call);
        append(line, sizeof line, &len, is_dir ? " kind=dir" : " kind=file");
        append(line, sizeof line, &len, " errno=");
        append(line, sizeof line, &len, err[0] ? err : "EIO");
        append(line, sizeof line, &len, " path=");
        append(line, sizeof line, &len, path);
        append(line, sizeof line, &len, "\n");
        int lfd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (lfd >= 0) {
            ssize_t w = write(lfd, line, len);
            (void)w;
            close(lfd);
        }
    }
    if (delay_ms > 0) {
        struct timespec pause = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {
        }
    }
    return e;
}

static void on_sigsys(int sig, siginfo_t *info, void *context) {
    (void)sig;
    int saved_errno = errno;
    ucontext_t *uc = (ucontext_t *)context;
    long nr = info->si_syscall;
    long args[5];
#if defined(__x86_64__)
    greg_t *r = uc->uc_mcontext.gregs;
    args[0] = r[REG_RDI];
    args[1] = r[REG_RSI];
    args[2] = r[REG_RDX];
    args[3] = r[REG_R10];
    args[4] = r[REG_R8];
#else
    for (int i = 0; i < 5; i++) args[i] = (long)uc->uc_mcontext.regs[i];
#endif
    int e = decide(nr, args);
    long ret = e ? -e : raw_syscall6(nr, args[0], args[1], args[2], args[3], args[4], PASS);
#if defined(__x86_64__)
    r[REG_RAX] = ret;
#else
    uc->uc_mcontext.regs[0] = (unsigned long long)ret;
#endif
    errno = saved_errno;
}

static void die(const char *what) {
    char msg[256];
    size_t len = 0;
    append(msg, sizeof msg, &len, "objstore fault shim: ");
    append(msg, sizeof msg, &len, what);
    append(msg, sizeof msg, &len, ": ");
    append(msg, sizeof msg, &len, strerror(errno));
    append(msg, sizeof msg, &len, "\n");
    ssize_t w = write(2, msg, len);
    (void)w;
    _exit(97);
}

/* Appends one instruction to the filter being built. */
#define PUSH(insn) (filter[len++] = (struct sock_filter)insn)

__attribute__((constructor)) static void install(void) {
    ctl_path = getenv("OBJSTORE_FAULT_CTL");
    log_path = getenv("OBJSTORE_FAULT_LOG");
    const char *no_tmpfile = getenv("OBJSTORE_FAULT_NO_TMPFILE");
    int refuse_tmpfile = no_tmpfile && strcmp(no_tmpfile, "1") == 0;
    if (!ctl_path && !refuse_tmpfile) return;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigsys;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, NULL) != 0) die("sigaction(SIGSYS)");

    struct sock_filter filter[32];
    unsigned short len = 0;
    PUSH(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)));
    PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SHIM_AUDIT_ARCH, 1, 0));
    PUSH(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    PUSH(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)));
    if (refuse_tmpfile) {
        /* openat(..., O_TMPFILE): EOPNOTSUPP, as on a file system without unnamed temp files. */
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 0, 4));
        PUSH(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[2])));
        PUSH(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, TMPFILE_BIT, 0, 1));
        PUSH(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EOPNOTSUPP & SECCOMP_RET_DATA)));
        PUSH(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    }
    if (ctl_path) {
        /* Trapped: the five calls, unless their sixth argument is PASS (the handler's own). */
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fsync, 5, 0));
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_fdatasync, 4, 0));
#ifdef SYS_rename
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_rename, 3, 0));
#else
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_renameat, 3, 0));
#endif
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_renameat, 2, 0));
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_renameat2, 1, 0));
        PUSH(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        PUSH(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[5])));
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PASS_LO, 0, 3));
        PUSH(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[5]) + 4));
        PUSH(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PASS_HI, 0, 1));
        PUSH(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
        PUSH(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP));
    } else {
        PUSH(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    }
    struct sock_fprog prog = {.len = len, .filter = filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) die("seccomp(SECCOMP_SET_MODE_FILTER)");
}
