/*
 * rscni-py warm-mode shim: what the container runtime executes as the plugin.
 *
 * It hands the call to the warm-mode daemon (rscni_py/tools/serve.py, whose docstring describes the wire format):
 * the environment, umask, fds 0/1/2, working directory and network and mount namespaces go over a unix socket,
 * a child of the daemon runs the plugin on them, and the shim exits with that child's status. SIGTERM, SIGINT and
 * SIGHUP are forwarded to the child. When the daemon cannot be reached, the shim executes the fallback (a cold
 * build of the same plugin) if one was built in, else it answers with a CNI error (code 11) and exits 1.
 *
 * Built by `rscni-py shim build`: RSCNI_SOCKET (and RSCNI_FALLBACK, RSCNI_CNI_VERSION) are defined on the compiler
 * command line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef RSCNI_SOCKET
#error "define RSCNI_SOCKET as the daemon's socket path"
#endif
#ifndef RSCNI_CNI_VERSION
#define RSCNI_CNI_VERSION "1.1.0"
#endif

#define MAX_ENV_BYTES (1024 * 1024)
#define MAX_CONFIG_BYTES (16 * 1024 * 1024)
#define NROLES 6 /* stdin, stdout, stderr, cwd, netns, mntns: the bit order of the fd mask */
#define KIND_EXITED 0
#define KIND_SIGNALED 1
#define KIND_REFUSED 2
#define REFUSED_PEER 1
#define REFUSED_STOPPING 3

extern char **environ;

struct request_header {
    char magic[4];
    uint16_t version;
    uint16_t fd_mask;
    uint32_t umask;
    uint32_t env_bytes;
} __attribute__((packed));

struct status_frame {
    char magic[4];
    uint32_t kind;
    int32_t value;
} __attribute__((packed));

static int sock = -1;

static void forward(int signum) {
    int saved = errno;
    unsigned char byte = (unsigned char)signum;
    (void)send(sock, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    errno = saved;
}

static void put_json_string(const char *text) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20 || *p >= 0x7f)
            printf("\\u%04x", *p); /* our texts are ASCII; anything else is shown escaped, never raw */
        else
            putchar(*p);
    }
    putchar('"');
}

/* --- the configuration's cniVersion, for the error object (a missing or empty one means 0.1.0) --- */

static const char *skip_ws(const char *p, const char *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static const char *skip_string(const char *p, const char *end) { /* p at the opening quote */
    for (p++; p < end; p++) {
        if (*p == '\\')
            p++;
        else if (*p == '"')
            return p + 1;
    }
    return NULL;
}

static const char *skip_value(const char *p, const char *end) {
    int depth = 0;
    while (p < end) {
        if (*p == '"') {
            p = skip_string(p, end);
            if (!p)
                return NULL;
            if (depth == 0)
                return p;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if (*p == '}' || *p == ']') {
            if (depth == 0)
                return p;
            if (--depth == 0)
                return p + 1;
        } else if (depth == 0 && (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
            return p;
        p++;
    }
    return depth == 0 ? p : NULL;
}

/* Copies the top-level "cniVersion" into out; returns 0 when the document is not a readable object. */
static int config_version(const char *p, const char *end, char *out, size_t size) {
    snprintf(out, size, "0.1.0");
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return 0;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        return 1;
    while (p < end && *p == '"') {
        const char *key = p + 1, *after = skip_string(p, end);
        if (!after)
            return 0;
        int is_version = (size_t)(after - 1 - key) == strlen("cniVersion") && !memcmp(key, "cniVersion", 10);
        p = skip_ws(after, end);
        if (p >= end || *p != ':')
            return 0;
        p = skip_ws(p + 1, end);
        const char *value_end = skip_value(p, end);
        if (!value_end)
            return 0;
        if (is_version) {
            size_t len = (size_t)(value_end - p);
            if (*p == '"' && len >= 2 && len - 2 < size && !memchr(p + 1, '\\', len - 2)) {
                if (len > 2)
                    snprintf(out, size, "%.*s", (int)(len - 2), p + 1);
                else
                    snprintf(out, size, "0.1.0");
            } else if (!(len == 4 && !memcmp(p, "null", 4)))
                return 0; /* not a string: cold answers with the plugin's own version */
        }
        p = skip_ws(value_end, end);
        if (p < end && *p == ',')
            p = skip_ws(p + 1, end);
        else if (p < end && *p == '}')
            return 1;
        else
            return 0;
    }
    return 0;
}

static void fail(const char *msg, const char *details) {
    char version[64];
    snprintf(version, sizeof version, "%s", RSCNI_CNI_VERSION);
    const char *command = getenv("CNI_COMMAND");
    if (command && *command && strcmp(command, "VERSION") != 0) {
        static char config[MAX_CONFIG_BYTES];
        size_t got = 0;
        ssize_t n;
        while (got < sizeof config && ((n = read(0, config + got, sizeof config - got)) > 0 || (n < 0 && errno == EINTR)))
            if (n > 0)
                got += (size_t)n;
        if (!config_version(config, config + got, version, sizeof version))
            snprintf(version, sizeof version, "%s", RSCNI_CNI_VERSION);
    }
    printf("{\n    \"cniVersion\": ");
    put_json_string(version);
    printf(",\n    \"code\": 11,\n    \"msg\": ");
    put_json_string(msg);
    printf(",\n    \"details\": ");
    put_json_string(details);
    printf("\n}");
    fflush(stdout);
    exit(1);
}

static int present[3]; /* which of fds 0, 1 and 2 the runtime gave us */

static void close_placeholders(void) {
    for (int fd = 0; fd < 3; fd++)
        if (!present[fd])
            close(fd);
}

static void unreachable(const char *why, char **argv) {
    char details[512];
#ifdef RSCNI_FALLBACK
    close_placeholders();
    execv(RSCNI_FALLBACK, argv);
    snprintf(details, sizeof details, "%s: %s; fallback %s: %s", RSCNI_SOCKET, why, RSCNI_FALLBACK, strerror(errno));
#else
    (void)argv;
    snprintf(details, sizeof details, "%s: %s", RSCNI_SOCKET, why);
#endif
    fail("cannot reach the warm-mode daemon", details);
}

static int open_role(int role) {
    switch (role) {
    case 0:
    case 1:
    case 2:
        return present[role] ? role : -1;
    case 3:
        return open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    case 4:
        return open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    default:
        return open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    }
}

static int send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

int main(int argc, char **argv) {
    (void)argc;
    /* A closed standard fd is passed on as closed; until then /dev/null holds its number, so that the socket and
     * the other descriptors opened below cannot take it and be mistaken for it. */
    for (int fd = 0; fd < 3; fd++) {
        present[fd] = fcntl(fd, F_GETFD) != -1;
        if (!present[fd] && open("/dev/null", O_RDWR) != fd)
            return 1;
    }
    /* The environment block: KEY=VALUE\0 ... */
    size_t env_bytes = 0;
    for (char **e = environ; *e; e++)
        env_bytes += strlen(*e) + 1;
    if (env_bytes > MAX_ENV_BYTES)
        unreachable("the environment is larger than the daemon accepts", argv);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    _Static_assert(sizeof(RSCNI_SOCKET) <= sizeof addr.sun_path, "socket path too long");
    memcpy(addr.sun_path, RSCNI_SOCKET, sizeof(RSCNI_SOCKET));
    sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        unreachable(strerror(errno), argv);
    while (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0) {
        if (errno != EINTR) {
            const char *why = strerror(errno);
            close(sock);
            unreachable(why, argv);
        }
    }

    struct sigaction forwarding = {.sa_handler = forward, .sa_flags = SA_RESTART};
    sigemptyset(&forwarding.sa_mask);
    sigaction(SIGTERM, &forwarding, NULL);
    sigaction(SIGINT, &forwarding, NULL);
    sigaction(SIGHUP, &forwarding, NULL);

    int fds[NROLES], nfds = 0;
    mode_t mask = umask(0);
    umask(mask);
    struct request_header header = {
        .magic = {'R', 'S', 'C', 'Q'}, .version = 1, .umask = (uint32_t)mask, .env_bytes = (uint32_t)env_bytes};
    for (int role = 0; role < NROLES; role++) {
        int fd = open_role(role);
        if (fd >= 0) {
            fds[nfds++] = fd;
            header.fd_mask |= (uint16_t)(1u << role);
        }
    }
    char *block = malloc(env_bytes ? env_bytes : 1), *at = block;
    if (!block)
        fail("out of memory", "environment block");
    for (char **e = environ; *e; e++) {
        size_t len = strlen(*e) + 1;
        memcpy(at, *e, len);
        at += len;
    }

    union {
        char buf[CMSG_SPACE(sizeof(int) * NROLES)];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct iovec iov = {.iov_base = &header, .iov_len = sizeof header};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    }
    ssize_t sent;
    while ((sent = sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR)
        ;
    /* A failed send (the daemon refused us and closed) still leaves its status to read. */
    if (sent > 0 && send_all(sock, (const char *)&header + sent, sizeof header - (size_t)sent) == 0)
        (void)send_all(sock, block, env_bytes);
    free(block);
    for (int i = 0; i < nfds; i++)
        if (fds[i] > 2)
            close(fds[i]);

    struct status_frame status;
    size_t got = 0;
    while (got < sizeof status) {
        ssize_t n = read(sock, (char *)&status + got, sizeof status - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    if (got < sizeof status || memcmp(status.magic, "RSCS", 4) != 0) {
        fprintf(stderr, "rscni-py shim: the warm-mode call ended without a status (%s)\n", RSCNI_SOCKET);
        return 1;
    }
    switch (status.kind) {
    case KIND_EXITED:
        return status.value;
    case KIND_SIGNALED: {
        /* Die of the same signal, as the runtime would have seen the cold plugin die. */
        signal(status.value, SIG_DFL);
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, status.value);
        sigprocmask(SIG_UNBLOCK, &set, NULL);
        raise(status.value);
        return 128 + status.value;
    }
    default:
        if (status.value == REFUSED_STOPPING) { /* this call never started: as if the daemon were not there */
            close(sock);
            unreachable("the daemon is stopping", argv);
        }
        fail("the warm-mode daemon refused this call",
             status.value == REFUSED_PEER ? "the caller's user is not allowed (see the daemon's log)"
                               : "the request was malformed (see the daemon's log)");
    }
    return 1;
}
