/*
 * Escape probe for the VWMP escape suite (tests/tests/escape.rs).
 *
 * Usage: probe CASE [ARGS...]
 *
 * Each case makes one escape attempt and prints one line
 *     RESULT <case> ok
 * or  RESULT <case> errno <NAME>
 * then exits 0. Cases that expect the sandbox to kill the process just make
 * the call. Some cases also print "VALUE <name> <value>" lines before the
 * result, for the test to check one by one.
 *
 * Where a call is meant to be denied by seccomp, its arguments are chosen so
 * that the kernel itself would NOT return EPERM (it would succeed, or fail
 * with EFAULT, EINVAL, ENOENT or ENOTTY). An EPERM can then only come from the
 * filter, and a missing rule shows up as a different answer.
 *
 * The probe is an ordinary dynamically linked program (gcc -O1).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Raw syscall numbers (x86_64), so the probe needs no newer headers. */
#define NR_IO_URING_SETUP 425
#define NR_BPF 321
#define NR_PERF_EVENT_OPEN 298
#define NR_USERFAULTFD 323
#define NR_KEYCTL 250
#define NR_ADD_KEY 248
#define NR_CLONE3 435
#define NR_CAPGET 125
#define X32_SYSCALL_BIT 0x40000000UL

/* Stops a runaway fork bomb when no limit of the sandbox does: the machine's
 * pid space is shared, and a pid namespace does not enlarge it. */
#define FORK_BOMB_CAP 4000

/* Largest file the size-limit case writes before giving up, in bytes. */
#define FSIZE_CAP (4ULL << 30)

static const struct {
    int value;
    const char *name;
} ERRNO_NAMES[] = {
    {EPERM, "EPERM"},
    {ENOENT, "ENOENT"},
    {ESRCH, "ESRCH"},
    {EINTR, "EINTR"},
    {EIO, "EIO"},
    {ENXIO, "ENXIO"},
    {E2BIG, "E2BIG"},
    {ENOEXEC, "ENOEXEC"},
    {EBADF, "EBADF"},
    {ECHILD, "ECHILD"},
    {EAGAIN, "EAGAIN"},
    {ENOMEM, "ENOMEM"},
    {EACCES, "EACCES"},
    {EFAULT, "EFAULT"},
    {EBUSY, "EBUSY"},
    {EEXIST, "EEXIST"},
    {EXDEV, "EXDEV"},
    {ENODEV, "ENODEV"},
    {ENOTDIR, "ENOTDIR"},
    {EISDIR, "EISDIR"},
    {EINVAL, "EINVAL"},
    {ENFILE, "ENFILE"},
    {EMFILE, "EMFILE"},
    {ENOTTY, "ENOTTY"},
    {ETXTBSY, "ETXTBSY"},
    {EFBIG, "EFBIG"},
    {ENOSPC, "ENOSPC"},
    {EROFS, "EROFS"},
    {EMLINK, "EMLINK"},
    {EPIPE, "EPIPE"},
    {ERANGE, "ERANGE"},
    {ENAMETOOLONG, "ENAMETOOLONG"},
    {ENOSYS, "ENOSYS"},
    {ENOTEMPTY, "ENOTEMPTY"},
    {ELOOP, "ELOOP"},
    {ENOTSOCK, "ENOTSOCK"},
    {EPROTOTYPE, "EPROTOTYPE"},
    {EPROTONOSUPPORT, "EPROTONOSUPPORT"},
    {ESOCKTNOSUPPORT, "ESOCKTNOSUPPORT"},
    {EOPNOTSUPP, "EOPNOTSUPP"},
    {EAFNOSUPPORT, "EAFNOSUPPORT"},
    {EADDRINUSE, "EADDRINUSE"},
    {EADDRNOTAVAIL, "EADDRNOTAVAIL"},
    {ENETDOWN, "ENETDOWN"},
    {ENETUNREACH, "ENETUNREACH"},
    {ECONNABORTED, "ECONNABORTED"},
    {ECONNRESET, "ECONNRESET"},
    {ETIMEDOUT, "ETIMEDOUT"},
    {ECONNREFUSED, "ECONNREFUSED"},
    {EHOSTUNREACH, "EHOSTUNREACH"},
    {EINPROGRESS, "EINPROGRESS"},
    {EDQUOT, "EDQUOT"},
};

static const char *errno_name(int value) {
    static char unknown[32];
    for (size_t i = 0; i < sizeof ERRNO_NAMES / sizeof ERRNO_NAMES[0]; i++) {
        if (ERRNO_NAMES[i].value == value) {
            return ERRNO_NAMES[i].name;
        }
    }
    snprintf(unknown, sizeof unknown, "E%d", value);
    return unknown;
}

static void sleep_ms(long ms);

static void report_ok(const char *name) {
    printf("RESULT %s ok\n", name);
    fflush(stdout);
}

static void report_errno(const char *name, int value) {
    printf("RESULT %s errno %s\n", name, errno_name(value));
    fflush(stdout);
}

/* Reports a call's outcome: a negative return is a failure with errno. */
static void report(const char *name, long ret) {
    if (ret < 0) {
        report_errno(name, errno);
    } else {
        report_ok(name);
    }
}

static void value(const char *name, const char *format, ...) __attribute__((format(printf, 2, 3)));
static void value(const char *name, const char *format, ...) {
    va_list args;
    printf("VALUE %s ", name);
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
    printf("\n");
}

static void need_args(int argc, int wanted, const char *usage) {
    if (argc < wanted) {
        fprintf(stderr, "probe: usage: %s\n", usage);
        exit(2);
    }
}

/* ---- files ------------------------------------------------------------ */

static int case_read(int argc, char **argv) {
    need_args(argc, 3, "read PATH");
    int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        report_errno("read", errno);
        return 0;
    }
    char buffer[256];
    ssize_t got = read(fd, buffer, sizeof buffer - 1);
    if (got < 0) {
        report_errno("read", errno);
        return 0;
    }
    buffer[got] = '\0';
    buffer[strcspn(buffer, "\n")] = '\0';
    value("content", "%s", buffer);
    report_ok("read");
    return 0;
}

static int case_write(int argc, char **argv) {
    need_args(argc, 3, "write PATH");
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        report_errno("write", errno);
        return 0;
    }
    report("write", write(fd, "escaped\n", 8) == 8 ? 0 : -1);
    return 0;
}

static int case_list(int argc, char **argv) {
    need_args(argc, 3, "list DIR");
    DIR *dir = opendir(argv[2]);
    if (dir == NULL) {
        report_errno("list", errno);
        return 0;
    }
    int entries = 0;
    while (readdir(dir) != NULL) {
        entries++;
    }
    value("entries", "%d", entries);
    report_ok("list");
    return 0;
}

static int case_hardlink(int argc, char **argv) {
    need_args(argc, 4, "hardlink SOURCE TARGET");
    report("hardlink", link(argv[2], argv[3]));
    return 0;
}

static int case_rename(int argc, char **argv) {
    need_args(argc, 4, "rename SOURCE TARGET");
    report("rename", rename(argv[2], argv[3]));
    return 0;
}

static int case_exec(int argc, char **argv) {
    need_args(argc, 3, "exec PATH");
    char *child_argv[] = {argv[2], NULL};
    fflush(stdout);
    execv(argv[2], child_argv);
    report_errno("exec", errno);
    return 0;
}

/* ---- network ---------------------------------------------------------- */

static struct sockaddr_in loopback(const char *port) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons((uint16_t)atoi(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

/* Opens a socket; on failure reports it under `name` and returns -1. */
static int open_socket(const char *name, int domain, int type, int protocol) {
    int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        int saved = errno;
        value("failed_at", "socket");
        report_errno(name, saved);
    }
    return fd;
}

static int case_tcp_connect(int argc, char **argv) {
    need_args(argc, 3, "tcp_connect PORT");
    int fd = open_socket("tcp_connect", AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_in address = loopback(argv[2]);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        value("failed_at", "connect");
        report_errno("tcp_connect", saved);
        return 0;
    }
    report_ok("tcp_connect");
    return 0;
}

static int case_tcp_bind(int argc, char **argv) {
    need_args(argc, 3, "tcp_bind PORT");
    int fd = open_socket("tcp_bind", AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_in address = loopback(argv[2]);
    if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        value("failed_at", "bind");
        report_errno("tcp_bind", saved);
        return 0;
    }
    report("tcp_bind", listen(fd, 1));
    return 0;
}

static int case_udp_send(int argc, char **argv) {
    need_args(argc, 3, "udp_send PORT");
    int fd = open_socket("udp_send", AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_in address = loopback(argv[2]);
    if (sendto(fd, "escaped", 7, 0, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        value("failed_at", "sendto");
        report_errno("udp_send", saved);
        return 0;
    }
    report_ok("udp_send");
    return 0;
}

static int case_abstract_connect(int argc, char **argv) {
    need_args(argc, 3, "abstract_connect NAME");
    int fd = open_socket("abstract_connect", AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t length = strlen(argv[2]);
    if (length + 1 > sizeof address.sun_path) {
        fprintf(stderr, "probe: abstract name too long\n");
        return 2;
    }
    /* sun_path[0] stays NUL: an abstract address. */
    memcpy(address.sun_path + 1, argv[2], length);
    socklen_t size = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + length);
    if (connect(fd, (struct sockaddr *)&address, size) < 0) {
        int saved = errno;
        value("failed_at", "connect");
        report_errno("abstract_connect", saved);
        return 0;
    }
    report_ok("abstract_connect");
    return 0;
}

static int case_unix_connect(int argc, char **argv) {
    need_args(argc, 3, "unix_connect PATH");
    int fd = open_socket("unix_connect", AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    if (strlen(argv[2]) >= sizeof address.sun_path) {
        fprintf(stderr, "probe: socket path too long\n");
        return 2;
    }
    strcpy(address.sun_path, argv[2]);
    if (connect(fd, (struct sockaddr *)&address, sizeof address) < 0) {
        int saved = errno;
        value("failed_at", "connect");
        report_errno("unix_connect", saved);
        return 0;
    }
    report_ok("unix_connect");
    return 0;
}

static int case_raw_socket(int argc, char **argv) {
    (void)argc;
    (void)argv;
    if (open_socket("raw_socket", AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0) {
        report_ok("raw_socket");
    }
    return 0;
}

static int case_netlink_socket(int argc, char **argv) {
    (void)argc;
    (void)argv;
    if (open_socket("netlink_socket", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE) >= 0) {
        report_ok("netlink_socket");
    }
    return 0;
}

/* ---- other processes -------------------------------------------------- */

static int case_ptrace_parent(int argc, char **argv) {
    (void)argc;
    (void)argv;
    pid_t parent = getppid();
    value("target", "%d", parent);
    report("ptrace_parent", syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, parent, 0, 0));
    return 0;
}

/* Reads a word of the probe's own child: the same uid and a descendant, so
 * only the seccomp rule can deny it. */
static int case_process_vm_readv(int argc, char **argv) {
    (void)argc;
    (void)argv;
    static long secret = 0x5ec7e7;
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    if (child < 0) {
        report_errno("process_vm_readv_fork", errno);
        return 0;
    }
    long copy = 0;
    struct iovec local = {.iov_base = &copy, .iov_len = sizeof copy};
    struct iovec remote = {.iov_base = &secret, .iov_len = sizeof secret};
    long ret = syscall(SYS_process_vm_readv, child, &local, 1UL, &remote, 1UL, 0UL);
    int saved = errno;
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    errno = saved;
    report("process_vm_readv", ret);
    return 0;
}

static int case_kill(int argc, char **argv) {
    need_args(argc, 3, "kill PID");
    report("kill", kill((pid_t)atoi(argv[2]), SIGKILL));
    return 0;
}

/* Signals the probe's whole process group. The probe ignores the signal, so
 * only other members of the group (the sandbox's own processes, if they
 * share it) can feel it. */
static int case_kill_group(int argc, char **argv) {
    (void)argc;
    (void)argv;
    signal(SIGUSR1, SIG_IGN);
    long ret = kill(0, SIGUSR1);
    int saved = errno;
    value("pgid", "%d", (int)getpgrp());
    errno = saved;
    report("kill_group", ret);
    sleep_ms(200); /* let the signal land before the probe exits */
    return 0;
}

/* ---- denied system calls ---------------------------------------------- */

static int case_io_uring_setup(int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* A NULL params pointer: the kernel returns EFAULT. */
    report("io_uring_setup", syscall(NR_IO_URING_SETUP, 8, NULL));
    return 0;
}

static int case_bpf(int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* An unknown command: the kernel returns EINVAL. */
    char attr[128];
    memset(attr, 0, sizeof attr);
    report("bpf", syscall(NR_BPF, 0x7fff, attr, sizeof attr));
    return 0;
}

static int case_perf_event_open(int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* A NULL attribute pointer: the kernel returns EFAULT. */
    report("perf_event_open", syscall(NR_PERF_EVENT_OPEN, NULL, 0, -1, -1, 0UL));
    return 0;
}

static int case_userfaultfd(int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* UFFD_USER_MODE_ONLY is allowed to unprivileged callers. */
    report("userfaultfd", syscall(NR_USERFAULTFD, 1 /* UFFD_USER_MODE_ONLY */ | O_CLOEXEC));
    return 0;
}

static int case_keyctl(int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* KEYCTL_GET_KEYRING_ID of the session keyring succeeds unfiltered. */
    report("keyctl", syscall(NR_KEYCTL, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 1));
    return 0;
}

static int case_add_key(int argc, char **argv) {
    (void)argc;
    (void)argv;
    report("add_key", syscall(NR_ADD_KEY, "user", "vwmp-escape", "x", 1UL, -3 /* session */));
    return 0;
}

static int case_mount(int argc, char **argv) {
    (void)argc;
    (void)argv;
    /* A missing mount point: the kernel looks the path up before it checks
     * privileges, and returns ENOENT. */
    report("mount", syscall(SYS_mount, "none", "/nonexistent-vwmp-escape", "tmpfs", 0UL, NULL));
    return 0;
}

static int case_unshare_user(int argc, char **argv) {
    (void)argc;
    (void)argv;
    report("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER));
    return 0;
}

/* Runs a raw clone or clone3 call; a child that appears exits at once. */
static void report_clone(const char *name, long ret) {
    if (ret == 0) {
        syscall(SYS_exit, 0);
    }
    int saved = errno;
    if (ret > 0) {
        waitpid((pid_t)ret, NULL, 0);
    }
    errno = saved;
    report(name, ret);
}

static int case_clone_newuser(int argc, char **argv) {
    (void)argc;
    (void)argv;
    report_clone("clone_newuser", syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0UL, NULL, NULL, 0UL));
    return 0;
}

static int case_clone3(int argc, char **argv) {
    (void)argc;
    (void)argv;
    uint64_t args[11];
    memset(args, 0, sizeof args);
    args[4] = SIGCHLD; /* exit_signal */
    report_clone("clone3", syscall(NR_CLONE3, args, sizeof args));
    return 0;
}

/* Descriptor 0 is a pipe, so an unfiltered terminal ioctl returns ENOTTY. */
static int case_tiocsti(int argc, char **argv) {
    (void)argc;
    (void)argv;
    char c = 'x';
    report("tiocsti", syscall(SYS_ioctl, 0, (unsigned long)TIOCSTI, &c));
    return 0;
}

static int case_tioclinux(int argc, char **argv) {
    (void)argc;
    (void)argv;
    char subcode = 2; /* TIOCL_SETSEL */
    report("tioclinux", syscall(SYS_ioctl, 0, (unsigned long)TIOCLINUX, &subcode));
    return 0;
}

/* The kernel truncates the command to 32 bits; a filter must too. */
static int case_tiocsti_high(int argc, char **argv) {
    (void)argc;
    (void)argv;
    char c = 'x';
    report("tiocsti_high", syscall(SYS_ioctl, 0, (1UL << 32) | (unsigned long)TIOCSTI, &c));
    return 0;
}

static int case_personality32(int argc, char **argv) {
    (void)argc;
    (void)argv;
    long ret = syscall(SYS_personality, 0x0008UL /* PER_LINUX32 */);
    int saved = errno;
    if (ret >= 0) {
        syscall(SYS_personality, 0UL);
    }
    errno = saved;
    report("personality32", ret);
    return 0;
}

static int case_personality_query(int argc, char **argv) {
    (void)argc;
    (void)argv;
    long ret = syscall(SYS_personality, 0xffffffffUL);
    if (ret >= 0) {
        value("persona", "%#lx", ret);
    }
    report("personality_query", ret);
    return 0;
}

/* A 32-bit getpid through the i386 entry point. */
static int case_int80(int argc, char **argv) {
    (void)argc;
    (void)argv;
    long ret;
    fflush(stdout);
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory", "rcx", "r11");
    value("returned", "%ld", ret);
    report_ok("int80");
    return 0;
}

/* getpid with the x32 bit set. */
static int case_x32(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fflush(stdout);
    long ret = syscall(39 | X32_SYSCALL_BIT);
    report("x32", ret);
    return 0;
}

/* ---- identity and inherited state ------------------------------------- */

struct cap_header {
    uint32_t version;
    int pid;
};

struct cap_data {
    uint32_t effective;
    uint32_t permitted;
    uint32_t inheritable;
};

static int case_caps(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct cap_header header = {.version = 0x20080522, .pid = 0};
    struct cap_data data[2];
    memset(data, 0, sizeof data);
    if (syscall(NR_CAPGET, &header, data) < 0) {
        report_errno("caps", errno);
        return 0;
    }
    value("cap_eff", "%08x%08x", data[1].effective, data[0].effective);
    value("cap_prm", "%08x%08x", data[1].permitted, data[0].permitted);
    value("cap_inh", "%08x%08x", data[1].inheritable, data[0].inheritable);
    uint64_t bounding = 0;
    uint64_t ambient = 0;
    for (int cap = 0; cap < 64; cap++) {
        int in_bounding = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);
        if (in_bounding < 0) {
            break; /* EINVAL past the last capability */
        }
        if (in_bounding == 1) {
            bounding |= 1ULL << cap;
        }
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0) == 1) {
            ambient |= 1ULL << cap;
        }
    }
    value("cap_bnd", "%016llx", (unsigned long long)bounding);
    value("cap_amb", "%016llx", (unsigned long long)ambient);
    report_ok("caps");
    return 0;
}

static int case_ids(int argc, char **argv) {
    (void)argc;
    (void)argv;
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    getresuid(&ruid, &euid, &suid);
    getresgid(&rgid, &egid, &sgid);
    value("uid", "%u %u %u", ruid, euid, suid);
    value("gid", "%u %u %u", rgid, egid, sgid);
    gid_t groups[256];
    int count = getgroups(256, groups);
    if (count < 0) {
        report_errno("ids", errno);
        return 0;
    }
    printf("VALUE groups");
    for (int i = 0; i < count; i++) {
        printf(" %u", groups[i]);
    }
    printf("\n");
    value("group_count", "%d", count);
    report_ok("ids");
    return 0;
}

static int case_no_new_privs(int argc, char **argv) {
    (void)argc;
    (void)argv;
    int ret = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
    if (ret < 0) {
        report_errno("no_new_privs", errno);
        return 0;
    }
    value("no_new_privs", "%d", ret);
    report_ok("no_new_privs");
    return 0;
}

static void print_limit(const char *name, rlim_t limit) {
    if (limit == RLIM_INFINITY) {
        value(name, "unlimited");
    } else {
        value(name, "%llu", (unsigned long long)limit);
    }
}

static int case_core(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct rlimit limit;
    if (getrlimit(RLIMIT_CORE, &limit) < 0) {
        report_errno("core", errno);
        return 0;
    }
    print_limit("core_soft", limit.rlim_cur);
    print_limit("core_hard", limit.rlim_max);
    report_ok("core");
    return 0;
}

static int case_rlimit_raise(int argc, char **argv) {
    (void)argc;
    (void)argv;
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) < 0) {
        report_errno("rlimit_raise", errno);
        return 0;
    }
    print_limit("nofile_hard", limit.rlim_max);
    if (limit.rlim_max == RLIM_INFINITY) {
        /* Nothing above the hard limit to ask for. */
        printf("RESULT rlimit_raise unlimited\n");
        return 0;
    }
    struct rlimit raised = {.rlim_cur = limit.rlim_max + 1, .rlim_max = limit.rlim_max + 1};
    report("rlimit_raise", setrlimit(RLIMIT_NOFILE, &raised));
    return 0;
}

static int case_fds(int argc, char **argv) {
    (void)argc;
    (void)argv;
    int leaked = 0;
    for (int fd = 3; fd < 4096; fd++) {
        if (fcntl(fd, F_GETFD) != -1) {
            char link[64];
            char target[256];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t length = readlink(link, target, sizeof target - 1);
            target[length < 0 ? 0 : length] = '\0';
            value("open_fd", "%d %s", fd, target);
            leaked++;
        } else if (errno != EBADF) {
            value("fd_errno", "%d %s", fd, errno_name(errno));
            leaked++;
        }
    }
    value("leaked", "%d", leaked);
    report_ok("fds");
    return 0;
}

static int case_env(int argc, char **argv) {
    (void)argc;
    (void)argv;
    for (char **entry = environ; *entry != NULL; entry++) {
        value("env", "%s", *entry);
    }
    report_ok("env");
    return 0;
}

/* ---- resource limits -------------------------------------------------- */

static int case_memory(int argc, char **argv) {
    (void)argc;
    (void)argv;
    size_t size = 2ULL << 30;
    char *block = malloc(size);
    if (block == NULL) {
        report_errno("memory", errno);
        return 0;
    }
    /* Touch every page so the memory is really used. */
    for (size_t at = 0; at < size; at += 4096) {
        block[at] = 1;
    }
    report_ok("memory");
    return 0;
}

static int case_fsize(int argc, char **argv) {
    (void)argc;
    (void)argv;
    int fd = open("big-file", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        report_errno("fsize_open", errno);
        return 0;
    }
    static char chunk[1 << 20];
    memset(chunk, 'f', sizeof chunk);
    fflush(stdout);
    for (unsigned long long written = 0; written < FSIZE_CAP;) {
        ssize_t ret = write(fd, chunk, sizeof chunk);
        if (ret < 0) {
            report_errno("fsize", errno);
            return 0;
        }
        written += (unsigned long long)ret;
    }
    report_ok("fsize");
    return 0;
}

/* Forks until fork fails, reports, then keeps every child alive for
 * HOLD seconds so the test can check the rest of the machine meanwhile. */
static int case_forkbomb(int argc, char **argv) {
    need_args(argc, 3, "forkbomb HOLD_SECONDS");
    unsigned hold = (unsigned)atoi(argv[2]);
    int count = 0;
    for (;;) {
        pid_t pid = fork();
        if (pid == 0) {
            /* Children never outlive the bomb, with or without a sandbox. */
            prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
            alarm(hold + 30);
            pause();
            _exit(0);
        }
        if (pid < 0) {
            int saved = errno;
            value("forked", "%d", count);
            report_errno("forkbomb", saved);
            break;
        }
        count++;
        if (count >= FORK_BOMB_CAP) {
            value("forked", "%d", count);
            report_ok("forkbomb");
            break;
        }
    }
    /* The children die with the probe (PR_SET_PDEATHSIG). */
    sleep(hold);
    return 0;
}

static int case_spin(int argc, char **argv) {
    (void)argc;
    (void)argv;
    alarm(60); /* a bound for a sandbox that never kills */
    for (volatile unsigned long i = 0;; i++) {
    }
    return 0;
}

static void sleep_ms(long ms) {
    struct timespec delay = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&delay, NULL);
}

/* Leaves a daemon behind: fork, setsid, fork again; the grandchild appends a
 * line to FILE every 50 ms for up to a minute. */
static int case_daemon(int argc, char **argv) {
    need_args(argc, 3, "daemon FILE");
    pid_t child = fork();
    if (child < 0) {
        report_errno("daemon", errno);
        return 0;
    }
    if (child == 0) {
        setsid();
        pid_t grandchild = fork();
        if (grandchild != 0) {
            _exit(grandchild < 0 ? 1 : 0);
        }
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            dup2(null, 2);
        }
        for (int tick = 0; tick < 1200; tick++) {
            int fd = open(argv[2], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (fd >= 0) {
                if (write(fd, "tick\n", 5) < 0) {
                    _exit(1);
                }
                close(fd);
            }
            sleep_ms(50);
        }
        _exit(0);
    }
    waitpid(child, NULL, 0);
    sleep_ms(300); /* let the grandchild write a few lines */
    report_ok("daemon");
    return 0;
}

static int case_flood(int argc, char **argv) {
    (void)argc;
    (void)argv;
    alarm(60); /* a bound for a sandbox that never kills */
    static char chunk[1 << 16];
    memset(chunk, 'a', sizeof chunk);
    for (;;) {
        if (write(1, chunk, sizeof chunk) < 0 && errno != EINTR) {
            return 1;
        }
    }
}

/* ---- positive controls ------------------------------------------------ */

static int case_fork_wait(int argc, char **argv) {
    (void)argc;
    (void)argv;
    pid_t child = fork();
    if (child < 0) {
        report_errno("fork_wait", errno);
        return 0;
    }
    if (child == 0) {
        _exit(42);
    }
    int status = 0;
    if (waitpid(child, &status, 0) < 0) {
        report_errno("fork_wait", errno);
        return 0;
    }
    value("child_exit", "%d", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    report_ok("fork_wait");
    return 0;
}

static int case_pipe(int argc, char **argv) {
    (void)argc;
    (void)argv;
    int fds[2];
    if (pipe(fds) < 0) {
        report_errno("pipe", errno);
        return 0;
    }
    char buffer[8] = {0};
    if (write(fds[1], "through", 7) != 7 || read(fds[0], buffer, 7) != 7) {
        report_errno("pipe", errno);
        return 0;
    }
    value("pipe_data", "%s", buffer);
    report_ok("pipe");
    return 0;
}

static int case_devnull(int argc, char **argv) {
    (void)argc;
    (void)argv;
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        report_errno("devnull", errno);
        return 0;
    }
    report("devnull", write(fd, "discarded", 9) == 9 ? 0 : -1);
    return 0;
}

static int case_workspace_file(int argc, char **argv) {
    (void)argc;
    (void)argv;
    FILE *out = fopen("note.txt", "w");
    if (out == NULL) {
        report_errno("workspace_file", errno);
        return 0;
    }
    fputs("kept\n", out);
    if (fclose(out) != 0) {
        report_errno("workspace_file", errno);
        return 0;
    }
    FILE *in = fopen("note.txt", "r");
    if (in == NULL) {
        report_errno("workspace_file", errno);
        return 0;
    }
    char line[32] = {0};
    if (fgets(line, sizeof line, in) == NULL) {
        report_errno("workspace_file", errno);
        return 0;
    }
    fclose(in);
    line[strcspn(line, "\n")] = '\0';
    value("content", "%s", line);
    report_ok("workspace_file");
    return 0;
}

/* ---- dispatch --------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} CASES[] = {
    {"read", case_read},
    {"write", case_write},
    {"list", case_list},
    {"hardlink", case_hardlink},
    {"rename", case_rename},
    {"exec", case_exec},
    {"tcp_connect", case_tcp_connect},
    {"tcp_bind", case_tcp_bind},
    {"udp_send", case_udp_send},
    {"abstract_connect", case_abstract_connect},
    {"unix_connect", case_unix_connect},
    {"raw_socket", case_raw_socket},
    {"netlink_socket", case_netlink_socket},
    {"ptrace_parent", case_ptrace_parent},
    {"process_vm_readv", case_process_vm_readv},
    {"kill", case_kill},
    {"kill_group", case_kill_group},
    {"io_uring_setup", case_io_uring_setup},
    {"bpf", case_bpf},
    {"perf_event_open", case_perf_event_open},
    {"userfaultfd", case_userfaultfd},
    {"keyctl", case_keyctl},
    {"add_key", case_add_key},
    {"mount", case_mount},
    {"unshare_user", case_unshare_user},
    {"clone_newuser", case_clone_newuser},
    {"clone3", case_clone3},
    {"tiocsti", case_tiocsti},
    {"tioclinux", case_tioclinux},
    {"tiocsti_high", case_tiocsti_high},
    {"personality32", case_personality32},
    {"personality_query", case_personality_query},
    {"int80", case_int80},
    {"x32", case_x32},
    {"caps", case_caps},
    {"ids", case_ids},
    {"no_new_privs", case_no_new_privs},
    {"core", case_core},
    {"rlimit_raise", case_rlimit_raise},
    {"fds", case_fds},
    {"env", case_env},
    {"memory", case_memory},
    {"fsize", case_fsize},
    {"forkbomb", case_forkbomb},
    {"spin", case_spin},
    {"daemon", case_daemon},
    {"flood", case_flood},
    {"fork_wait", case_fork_wait},
    {"pipe", case_pipe},
    {"devnull", case_devnull},
    {"workspace_file", case_workspace_file},
};

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "probe: usage: probe CASE [ARGS...]\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        if (strcmp(CASES[i].name, argv[1]) == 0) {
            return CASES[i].run(argc, argv);
        }
    }
    fprintf(stderr, "probe: unknown case %s\n", argv[1]);
    return 2;
}
