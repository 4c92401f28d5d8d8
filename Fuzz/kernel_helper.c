/*
 * kernel_helper.c - the kernel side of the differential syscall fuzzer (Fuzz/).
 *
 * Reads cases from standard input and runs each in a forked child, so a call
 * that clobbers the process loses only its case. Input lines (numbers in hex):
 *
 *   case                       starts a case; the calls follow, one a line
 *   mmap ADDR LEN PROT FLAGS USEFILE OFFSET
 *   munmap ADDR LEN | mprotect ADDR LEN PROT | madvise ADDR LEN ADVICE
 *   mlock ADDR LEN | munlock ADDR LEN | touch ADDR LEN
 *   mremap OLDADDR OLDLEN NEWLEN FLAGS NEWADDR | brk VALUE
 *   name ADDR LEN WHICH        PR_SET_VMA_ANON_NAME (0: NULL, 1: "a", 2: "b")
 *   fault ADDR WRITE           a user-space load (0) or store (1)
 *   end                        runs the case
 *
 * Output: first `ready START_BRK MMAP_MIN_ADDR DAC_MMAP_MIN_ADDR`, the three zones as
 * `START END` pairs and ZERO_PAGE (1 when a read fault maps the zero page), then per case the child's lines (`= RESULT ERRNO` per
 * call, then for each zone `maps`, its VMAs as `START-END PERMS PGOFF NAME
 * FLAGS` in pages from the zone's start, and `end`, then `counters TOTAL
 * LOCKED PINNED DATA EXEC STACK`: how many pages VmSize, VmLck, VmPin,
 * VmData, VmExe + VmLib and VmStk of /proc/self/status grew since the case
 * began, in decimal, negative with a '-') and the parent's `done` or
 * `lost SIGNAL`. The zones are address ranges where the helper has nothing
 * of its own: [0, 1 MiB), [2 GiB, its lowest mapping above that - 1 GiB)
 * and the top MiB below TASK_SIZE unless the stack reaches it (then empty).
 * Nothing allocates after startup, so the helper's own layout stays put.
 *
 * The child drops CAP_SYS_RAWIO so that mmap_min_addr applies, as it does to
 * the task the engine models (privileged for mlock, not for low addresses).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#define PAGE 4096ULL
#define TASK_SIZE 0x7ffffffff000ULL
#define LOW_END (1ULL << 20)
#define EMPTY_START (2ULL << 30)
#define TOP_START (TASK_SIZE - (1ULL << 20))
#define FILE_BYTES (1ULL << 30)
#define MAX_CALLS 4096
#define OUT_BYTES (8 << 20)

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
#ifndef PR_SET_VMA_ANON_NAME
#define PR_SET_VMA_ANON_NAME 0
#endif

struct call {
    char op[12];
    uint64_t a[6];
};

static struct call calls[MAX_CALLS];
static int n_calls;
static char out[OUT_BYTES];
static size_t out_len;
static int memfd = -1;
static uint64_t memfd_ino;
static char inbuf[1 << 16];
static size_t in_len, in_pos;
static char line[4096];

/* The zones compared: [0, 1 MiB), [2 GiB, first mapping above it - 1 GiB) and the top MiB below TASK_SIZE when
 * the stack leaves it free. Nothing of the helper's own lies in them. */
static uint64_t zone_start[3], zone_end[3];

static void out_mem(const char *s, size_t n)
{
    if (out_len + n > sizeof(out))
        _exit(97);
    memcpy(out + out_len, s, n);
    out_len += n;
}
static void out_str(const char *s) { out_mem(s, strlen(s)); }
static void out_ch(char c) { out_mem(&c, 1); }
/* Writes v in hex (no leading zeros) at the end of b[17]; returns where it starts. */
static const char *format_hex(char b[17], uint64_t v)
{
    int i = 16;
    b[i] = 0;
    do {
        b[--i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    return b + i;
}
static void out_hex(uint64_t v)
{
    char b[17];
    out_str(format_hex(b, v));
}
static void out_dec(uint64_t v)
{
    char b[21];
    int i = 20;
    b[i] = 0;
    do {
        b[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    out_str(b + i);
}
static void flush_out(void)
{
    size_t done = 0;
    while (done < out_len) {
        ssize_t n = write(1, out + done, out_len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            _exit(96);
        }
        done += (size_t)n;
    }
    out_len = 0;
}

static int read_line(void)
{
    size_t n = 0;
    for (;;) {
        if (in_pos == in_len) {
            ssize_t r = read(0, inbuf, sizeof(inbuf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                return n ? (line[n] = 0, 1) : 0;
            in_len = (size_t)r;
            in_pos = 0;
        }
        char c = inbuf[in_pos++];
        if (c == '\n') {
            line[n] = 0;
            return 1;
        }
        if (n < sizeof(line) - 1)
            line[n++] = c;
    }
}

static uint64_t parse_hex(const char **s)
{
    uint64_t v = 0;
    while (**s == ' ')
        (*s)++;
    for (;;) {
        char c = **s;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            return v;
        v = (v << 4) | (uint64_t)d;
        (*s)++;
    }
}

/* ---- the window's layout, from /proc/self/smaps ---- */

static char smaps_buf[1 << 20];
static const char *kept[] = { "rd", "wr", "ex", "sh", "mr", "mw", "me", "ms", "gd", "lo", "dc", "de",
                              "ac", "nr", "ht", "nh", "hg", "dd", "wf", "sr", "rr", "lf", "mg", "sl" };

static int is_kept(const char *f)
{
    for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
        if (kept[i][0] == f[0] && kept[i][1] == f[1])
            return 1;
    return 0;
}

static size_t read_smaps(void)
{
    int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
    size_t len = 0;
    if (fd < 0)
        _exit(95);
    for (;;) {
        ssize_t n = read(fd, smaps_buf + len, sizeof(smaps_buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len == sizeof(smaps_buf) - 1)
            _exit(94);
    }
    close(fd);
    smaps_buf[len] = 0;
    return len;
}

static void emit_vma(uint64_t origin, uint64_t start, uint64_t end, const char *perms, uint64_t off, uint64_t ino,
                     const char *path, const char *flags)
{
    char fl[64][3];
    int n = 0;
    out_dec((start - origin) / PAGE);
    out_ch('-');
    out_dec((end - origin) / PAGE);
    out_ch(' ');
    out_mem(perms, 4);
    out_ch(' ');
    if (ino) {
        out_dec(off / PAGE);
        out_str(ino == memfd_ino ? " f " : !strncmp(path, "/dev/zero", 9) ? " [anon_shared] " : " ? ");
    } else {
        out_str(*path && *path != '\n' ? "- ? " : "- - ");
    }
    while (*flags && *flags != '\n') {
        while (*flags == ' ')
            flags++;
        if (flags[0] && flags[1] && (flags[2] == ' ' || flags[2] == '\n' || !flags[2]) && n < 64) {
            fl[n][0] = flags[0];
            fl[n][1] = flags[1];
            fl[n][2] = 0;
            if (is_kept(fl[n]))
                n++;
        }
        while (*flags && *flags != ' ' && *flags != '\n')
            flags++;
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(fl[j - 1], fl[j]) > 0; j--) {
            char t[3];
            memcpy(t, fl[j], 3);
            memcpy(fl[j], fl[j - 1], 3);
            memcpy(fl[j - 1], t, 3);
        }
    if (!n)
        out_ch('-');
    for (int i = 0; i < n; i++) {
        if (i)
            out_ch(',');
        out_mem(fl[i], 2);
    }
    out_ch('\n');
}

/* Calls visit(start, end, ...) for every VMA in /proc/self/smaps, with its VmFlags text. */
typedef void (*vma_visitor)(uint64_t start, uint64_t end, const char *perms, uint64_t off, uint64_t ino,
                            const char *path, const char *flags, void *arg);

static void walk_smaps(vma_visitor visit, void *arg)
{
    size_t len = read_smaps();
    char *p = smaps_buf, *limit = smaps_buf + len;
    while (p < limit) {
        char *eol = strchr(p, '\n');
        if (!eol)
            eol = limit;
        const char *s = p;
        uint64_t start = parse_hex(&s);
        if (*s == '-' && p[0] != 'V') {
            s++;
            uint64_t end = parse_hex(&s);
            const char *perms = s + 1;
            s = perms + 4;
            uint64_t off = parse_hex(&s);
            while (*s == ' ')
                s++;
            while (*s && *s != ' ')
                s++; /* device */
            uint64_t ino = 0;
            while (*s == ' ')
                s++;
            while (*s >= '0' && *s <= '9')
                ino = ino * 10 + (uint64_t)(*s++ - '0');
            while (*s == ' ')
                s++;
            const char *path = s;
            const char *flags = "";
            for (char *q = eol; q < limit;) {
                if (!strncmp(q + 1, "VmFlags:", 8)) {
                    flags = q + 9;
                    break;
                }
                char *next = strchr(q + 1, '\n');
                if (!next)
                    break;
                q = next;
            }
            visit(start, end, perms, off, ino, path, flags, arg);
        }
        p = eol + 1;
    }
}

static void emit_if_in_zone(uint64_t start, uint64_t end, const char *perms, uint64_t off, uint64_t ino,
                            const char *path, const char *flags, void *arg)
{
    int z = *(int *)arg;
    if (end > zone_start[z] && start < zone_end[z])
        emit_vma(zone_start[z], start, end, perms, off, ino, path, flags);
}

/* Prints one maps block per zone. */
static void emit_zones(void)
{
    for (int z = 0; z < 3; z++) {
        out_str("maps\n");
        walk_smaps(emit_if_in_zone, &z);
        out_str("end\n");
    }
}

/* At startup: the lowest mapping at or above 2 GiB, and whether one lies in the top MiB. */
static uint64_t lowest_above_empty_start = TASK_SIZE;
static int top_taken;

static void survey(uint64_t start, uint64_t end, const char *perms, uint64_t off, uint64_t ino,
                   const char *path, const char *flags, void *arg)
{
    (void)perms, (void)off, (void)ino, (void)path, (void)flags, (void)arg;
    if (end > EMPTY_START && start < lowest_above_empty_start)
        lowest_above_empty_start = start < EMPTY_START ? EMPTY_START : start;
    if (end > TOP_START && start < TASK_SIZE)
        top_taken = 1;
    if (start < LOW_END)
        top_taken |= 2;
}

/* ---- the calls ---- */

static sigjmp_buf fault_jmp;
static volatile int fault_code;

static void on_fault(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    fault_code = sig == SIGBUS ? 3 : info->si_code == SEGV_ACCERR ? 2 : 1;
    siglongjmp(fault_jmp, 1);
}

/* 0 ok, 1 SEGV_MAPERR, 2 SEGV_ACCERR, 3 SIGBUS */
static int access_page(uint64_t addr, int write)
{
    fault_code = 0;
    if (sigsetjmp(fault_jmp, 1) == 0) {
        volatile char *p = (volatile char *)(uintptr_t)addr;
        if (write)
            *p = 1;
        else
            (void)*p;
    }
    return fault_code;
}

static const char *fault_names[] = { "Ok", "SegvMapErr", "SegvAccErr", "SigBus" };

static void report(uint64_t result, int err)
{
    out_str("= ");
    out_hex(result);
    out_ch(' ');
    out_dec((uint64_t)err);
    out_ch('\n');
}

static void run_call(const struct call *c)
{
    const uint64_t *a = c->a;
    long r;
    errno = 0;
    if (!strcmp(c->op, "mmap")) {
        r = syscall(SYS_mmap, a[0], a[1], a[2], a[3], a[4] ? memfd : -1, a[5]);
    } else if (!strcmp(c->op, "munmap")) {
        r = syscall(SYS_munmap, a[0], a[1]);
    } else if (!strcmp(c->op, "mprotect")) {
        r = syscall(SYS_mprotect, a[0], a[1], a[2]);
    } else if (!strcmp(c->op, "madvise")) {
        r = syscall(SYS_madvise, a[0], a[1], a[2]);
    } else if (!strcmp(c->op, "mlock")) {
        r = syscall(SYS_mlock, a[0], a[1]);
    } else if (!strcmp(c->op, "munlock")) {
        r = syscall(SYS_munlock, a[0], a[1]);
    } else if (!strcmp(c->op, "mremap")) {
        r = syscall(SYS_mremap, a[0], a[1], a[2], a[3], a[4]);
    } else if (!strcmp(c->op, "brk")) {
        r = syscall(SYS_brk, a[0]);
    } else if (!strcmp(c->op, "name")) {
        const char *name = a[2] == 1 ? "a" : a[2] == 2 ? "b" : NULL;
        r = prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, a[0], a[1], name);
    } else if (!strcmp(c->op, "fault")) {
        out_str("= ");
        out_str(fault_names[access_page(a[0], a[1] != 0)]);
        out_str(" 0\n");
        return;
    } else if (!strcmp(c->op, "touch")) {
        uint64_t page, last;
        int err = 0;
        if (a[1]) {
            last = a[0] + a[1] - 1;
            if (last < a[0]) {
                err = EFAULT;
            } else {
                for (page = a[0] & ~(PAGE - 1); !err; page += PAGE) {
                    if (access_page(page, 1))
                        err = EFAULT;
                    if (page >= (last & ~(PAGE - 1)))
                        break;
                }
            }
        }
        report(err ? (uint64_t)-1 : 0, err);
        return;
    } else {
        _exit(93);
    }
    report((uint64_t)r, r == -1 ? errno : 0);
}

/* The mm counters of /proc/self/status, in pages: VmSize, VmLck, VmPin, VmData, VmExe + VmLib (exec_vm, split
 * by the text segment's bounds), VmStk. */
#define N_COUNTERS 6
static size_t read_small_file(const char *path, char *buf, size_t size);
static const char *const counter_keys[N_COUNTERS + 1] = { "VmSize:", "VmLck:", "VmPin:", "VmData:", "VmExe:", "VmStk:", "VmLib:" };
static int64_t case_counters[N_COUNTERS];

static void read_counters(int64_t *counters)
{
    char buf[4096];
    read_small_file("/proc/self/status", buf, sizeof(buf));
    memset(counters, 0, N_COUNTERS * sizeof(*counters));
    for (int k = 0; k <= N_COUNTERS; k++) {
        const char *s = strstr(buf, counter_keys[k]);
        int64_t kb = 0;
        if (!s)
            continue;
        s += strlen(counter_keys[k]);
        while (*s == ' ' || *s == '\t')
            s++;
        while (*s >= '0' && *s <= '9')
            kb = kb * 10 + (*s++ - '0');
        counters[k == N_COUNTERS ? 4 : k] += kb / (int64_t)(PAGE / 1024);
    }
}

static void emit_counters(void)
{
    int64_t now[N_COUNTERS];
    read_counters(now);
    out_str("counters");
    for (int k = 0; k < N_COUNTERS; k++) {
        int64_t delta = now[k] - case_counters[k];
        out_str(delta < 0 ? " -" : " ");
        out_dec((uint64_t)(delta < 0 ? -delta : delta));
    }
    out_ch('\n');
}

static void drop_rawio(void)
{
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data))
        return; /* not privileged: nothing to drop */
    data[CAP_SYS_RAWIO / 32].effective &= ~(1U << (CAP_SYS_RAWIO % 32));
    data[CAP_SYS_RAWIO / 32].permitted &= ~(1U << (CAP_SYS_RAWIO % 32));
    data[CAP_SYS_RAWIO / 32].inheritable &= ~(1U << (CAP_SYS_RAWIO % 32));
    if (syscall(SYS_capset, &hdr, data))
        _exit(92);
}

static void run_case(void)
{
    out_len = 0;
    read_counters(case_counters);
    for (int i = 0; i < n_calls; i++) {
        run_call(&calls[i]);
        emit_zones();
        emit_counters();
    }
    flush_out();
}

/* Reads a small file whole into buf (NUL-terminated); returns its length, 0 if it cannot be read. */
static size_t read_small_file(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
    if (fd >= 0)
        close(fd);
    n = n < 0 ? 0 : n;
    buf[n] = 0;
    return (size_t)n;
}

/* Whether a read fault of private anonymous memory maps the shared zero page: smaps then counts no
 * Anonymous memory for the page (as the oracle's `-E` decides it). */
static int has_zero_page(void)
{
    volatile char *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char key[32], tmp[17], *hit, *anon;
    int zero = 1;
    if (p == MAP_FAILED)
        return 1;
    (void)p[0];
    strcpy(key, format_hex(tmp, (uint64_t)(uintptr_t)p));
    strcat(key, "-");
    read_smaps();
    hit = strstr(smaps_buf, key);
    anon = hit ? strstr(hit, "\nAnonymous:") : NULL;
    if (anon) {
        anon += 11;
        while (*anon == ' ')
            anon++;
        zero = *anon == '0';
    }
    munmap((void *)p, PAGE);
    return zero;
}

static uint64_t read_start_brk(void)
{
    char buf[4096];
    if (!read_small_file("/proc/self/stat", buf, sizeof(buf)))
        return 0;
    /* start_brk is field 47; the command (field 2) may contain spaces, so count from its closing ')' */
    const char *s = strrchr(buf, ')');
    for (int field = 2; s && *s; s++) {
        if (*s == ' ' && ++field == 47) {
            uint64_t v = 0;
            s++;
            while (*s >= '0' && *s <= '9')
                v = v * 10 + (uint64_t)(*s++ - '0');
            return v;
        }
    }
    return 0;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) || sigaction(SIGBUS, &sa, NULL))
        return 3;
    memfd = (int)syscall(SYS_memfd_create, "f", 0);
    if (memfd < 0 || ftruncate(memfd, (off_t)FILE_BYTES))
        return 3;
    /* the memfd's inode, as smaps shows it: map a page of it and look */
    {
        uint64_t ino = 0;
        void *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, memfd, 0);
        if (p == MAP_FAILED)
            return 3;
        char key[32], tmp[17], *hit;
        strcpy(key, format_hex(tmp, (uint64_t)(uintptr_t)p));
        strcat(key, "-");
        read_smaps();
        hit = strstr(smaps_buf, key);
        if (!hit)
            return 3;
        const char *s = strchr(hit, ' ') + 1; /* perms */
        s += 5;
        parse_hex(&s);
        while (*s == ' ')
            s++;
        while (*s && *s != ' ')
            s++;
        while (*s == ' ')
            s++;
        while (*s >= '0' && *s <= '9')
            ino = ino * 10 + (uint64_t)(*s++ - '0');
        memfd_ino = ino;
        munmap(p, PAGE);
    }
    drop_rawio();
    walk_smaps(survey, NULL);
    if ((top_taken & 2) || lowest_above_empty_start < EMPTY_START + (4ULL << 30) ||
        syscall(SYS_brk, 0) != (long)read_start_brk())
        return 4;
    zone_start[0] = 0;
    zone_end[0] = LOW_END;
    zone_start[1] = EMPTY_START;
    zone_end[1] = lowest_above_empty_start - (1ULL << 30);
    zone_start[2] = top_taken ? 0 : TOP_START;
    zone_end[2] = top_taken ? 0 : TASK_SIZE;
    {
        char buf[64];
        uint64_t min = 0;
        read_small_file("/proc/sys/vm/mmap_min_addr", buf, sizeof(buf));
        for (const char *c = buf; *c >= '0' && *c <= '9'; c++)
            min = min * 10 + (uint64_t)(*c - '0');
        /* The kernel's mmap_min_addr is the larger of the sysctl (dac_mmap_min_addr, which the capability
         * check uses) and CONFIG_LSM_MMAP_MIN_ADDR; a hint below it is raised to it, which shows it. */
        uint64_t effective = min;
        void *probe = mmap((void *)(uintptr_t)(min ? min : PAGE), PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (probe != MAP_FAILED) {
            if ((uint64_t)(uintptr_t)probe < LOW_END && (uint64_t)(uintptr_t)probe > effective)
                effective = (uint64_t)(uintptr_t)probe;
            munmap(probe, PAGE);
        }
        out_str("ready ");
        out_hex(read_start_brk());
        out_ch(' ');
        out_hex(effective);
        out_ch(' ');
        out_hex(min);
        for (int z = 0; z < 3; z++) {
            out_ch(' ');
            out_hex(zone_start[z]);
            out_ch(' ');
            out_hex(zone_end[z]);
        }
        out_str(has_zero_page() ? " 1" : " 0");
        out_ch('\n');
        flush_out();
    }
    while (read_line()) {
        if (!strcmp(line, "case")) {
            n_calls = 0;
        } else if (!strcmp(line, "end")) {
            pid_t pid = fork();
            int status;
            if (pid < 0)
                return 3;
            if (pid == 0) {
                run_case();
                _exit(0);
            }
            while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                    return 3;
            if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                out_str("done\n");
            } else {
                out_str("lost ");
                out_dec(WIFSIGNALED(status) ? (uint64_t)WTERMSIG(status) : 1000 + (uint64_t)WEXITSTATUS(status));
                out_ch('\n');
            }
            flush_out();
        } else if (n_calls < MAX_CALLS && line[0]) {
            struct call *c = &calls[n_calls++];
            const char *s = line;
            int k = 0;
            while (*s && *s != ' ' && k < (int)sizeof(c->op) - 1)
                c->op[k++] = *s++;
            c->op[k] = 0;
            for (int i = 0; i < 6; i++)
                c->a[i] = parse_hex(&s);
        }
    }
    return 0;
}
