/*
 * loadgen: the sockservice benchmark's load generator.
 *
 * One process, one thread, one epoll loop.  Every mode sends lowercase ASCII
 * letters and checks every byte of every reply against the expected
 * upper-case letters; a reply that differs counts as an error.  At the end it
 * prints exactly one JSON line on stdout with the results and its own CPU use
 * (getrusage), so the harness can show that the generator is not the
 * bottleneck.
 *
 * Modes (see bench/README.md):
 *   tcp-rr      --conns N persistent connections, one request outstanding each
 *   tcp-crr     --conns N clients doing connect, send, receive, close, from
 *               --sources S loopback addresses (127.0.0.1 onwards) in turn
 *   tcp-stream  bulk data through one connection, verified at every offset
 *   udp-rr      --outstanding W datagrams in flight, lost ones time out
 *   idle        open --conns N connections, one verified round trip each, print
 *               the JSON line, then hold them open until stdin closes
 *
 * Build: cc -O2 -o loadgen loadgen.c   (bench/run.py does this)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAXEV 512
#define STREAM_CHUNK 65536
#define STREAM_WINDOW (4 * 1024 * 1024)
#define PATTERN_LEN (STREAM_CHUNK * 4 + 64)

/* ---- options ----------------------------------------------------------- */

static const char *optMode = NULL;
static const char *optHost = "127.0.0.1";
static int optPort = 0;
static int optConns = 1;
static int optOutstanding = 1;
static int optSize = 64;
static double optDuration = 2.0;
static double optWarmup = 0.5;
static double optTimeout = 0.2;  /* udp-rr: a datagram unanswered this long is lost */
static double optHold = 120.0;   /* idle: longest time to hold the connections */
static double optConnectTimeout = 60.0;
static int optSources = 16;      /* tcp-crr: source addresses 127.0.0.1 onwards */
static int spreadSources = 0;
static uint32_t sourceTurn = 0;

static struct sockaddr_in serverAddr;
static char lowerPattern[PATTERN_LEN];
static char upperPattern[PATTERN_LEN];

/* ---- results ----------------------------------------------------------- */

static uint64_t nOk, nErrors, nConnErrors, nBytes, nSent, nLost, nLate;
static uint64_t *lat;      /* latency samples, nanoseconds */
static size_t latN, latCap;

static int measuring;
static double measureStart, measureEnd, tStart;
static struct rusage ruStart, ruEnd;
static double wallStart, wallEnd;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t nowNs(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(2);
}

static void addLatency(uint64_t ns) {
    if (!measuring) return;
    if (latN == latCap) {
        latCap = latCap ? latCap * 2 : 65536;
        lat = realloc(lat, latCap * sizeof(*lat));
        if (!lat) die("realloc");
    }
    lat[latN++] = ns;
}

static int cmpU64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile in microseconds, or -1 without samples. */
static double percentile(double p) {
    if (latN == 0) return -1;
    size_t rank = (size_t)(p / 100.0 * latN + 0.999999999);
    if (rank < 1) rank = 1;
    if (rank > latN) rank = latN;
    return lat[rank - 1] / 1000.0;
}

/* Start and stop the measured window: counters only count inside it. */
static void tick(double t) {
    if (!measuring && t >= measureStart && t < measureEnd) {
        measuring = 1;
        wallStart = t;
        getrusage(RUSAGE_SELF, &ruStart);
    }
    if (measuring && t >= measureEnd) {
        measuring = 0;
        wallEnd = t;
        getrusage(RUSAGE_SELF, &ruEnd);
    }
}

/* Close the measured window now (or make an empty one if it never opened). */
static void finishWindow(void) {
    double t = now();
    if (measuring) {
        measuring = 0;
        wallEnd = t;
        getrusage(RUSAGE_SELF, &ruEnd);
    } else if (wallStart == 0) {
        wallStart = wallEnd = t;
        getrusage(RUSAGE_SELF, &ruStart);
        ruEnd = ruStart;
    }
}

static double tvSec(struct timeval tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

static void printCommon(const char *extra) {
    double wall = wallEnd - wallStart;
    double user = tvSec(ruEnd.ru_utime) - tvSec(ruStart.ru_utime);
    double sys = tvSec(ruEnd.ru_stime) - tvSec(ruStart.ru_stime);
    if (wall <= 0) wall = 1e-9;
    if (latN) qsort(lat, latN, sizeof(*lat), cmpU64);
    printf("{\"mode\": \"%s\", \"duration_s\": %.4f, \"ok\": %llu, \"errors\": %llu, "
           "\"conn_errors\": %llu, \"rate\": %.1f, \"p50_us\": %.1f, \"p99_us\": %.1f, "
           "\"cpu_user_s\": %.4f, \"cpu_sys_s\": %.4f, \"cpu_pct\": %.1f%s}\n",
           optMode, wall, (unsigned long long)nOk, (unsigned long long)nErrors,
           (unsigned long long)nConnErrors, nOk / wall, percentile(50), percentile(99),
           user, sys, 100.0 * (user + sys) / wall, extra);
    fflush(stdout);
}

/* ---- sockets ----------------------------------------------------------- */

/* A non-blocking TCP socket with a connect() under way (or done), or -1. */
static int startConnect(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (spreadSources) {
        /* Thousands of connections a second leave as many TIME_WAIT sockets on
         * the client side; with one source address the kernel's search for a
         * free ephemeral port then costs the generator a third of its CPU.
         * Rotating the source over 127.0.0.1..N keeps that search short. */
        struct sockaddr_in src = {.sin_family = AF_INET};
        src.sin_addr.s_addr = htonl(0x7f000001u + sourceTurn++ % optSources);
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
        if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
            close(fd);
            return -1;
        }
    }
    if (connect(fd, (struct sockaddr *)&serverAddr, sizeof(serverAddr)) < 0 &&
        errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connectError(int fd) {
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

/* Wait until a fresh connection is established; 0 on success. */
static int blockingConnect(int *out) {
    int fd = startConnect();
    if (fd < 0) return -1;
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, (int)(optConnectTimeout * 1000)) != 1 || connectError(fd)) {
        close(fd);
        return -1;
    }
    *out = fd;
    return 0;
}

static void epAdd(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl add");
}

static void epMod(int ep, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) < 0) die("epoll_ctl mod");
}

/* Milliseconds until the next phase boundary, at most 50. */
static int waitMs(double t) {
    double next = t < measureStart ? measureStart : measureEnd;
    double ms = (next - t) * 1000.0 + 1;
    if (ms > 50) ms = 50;
    if (ms < 0) ms = 0;
    return (int)ms;
}

/* ---- tcp-rr and tcp-crr ------------------------------------------------ */

/* The request for sequence number seq: size letters starting at seq % 26. */
#define REQUEST(seq) (lowerPattern + (seq) % 26)
#define EXPECTED(seq) (upperPattern + (seq) % 26)

typedef struct {
    int fd;
    int connecting;
    uint64_t seq;
    uint64_t sentNs;
    uint64_t startNs;  /* tcp-crr: when the connect began */
    int got;
    int written;
    char buf[65536];
} Conn;

static Conn *conns;

/* Send (the rest of) the current request; 0 if done, 1 if it must wait, -1 on error. */
static int sendRequest(int ep, int i) {
    Conn *c = &conns[i];
    while (c->written < optSize) {
        ssize_t n = write(c->fd, REQUEST(c->seq) + c->written, optSize - c->written);
        if (n < 0) {
            if (errno == EAGAIN) {
                epMod(ep, c->fd, EPOLLIN | EPOLLOUT, i);
                return 1;
            }
            return -1;
        }
        c->written += n;
    }
    return 0;
}

static void newRequest(int ep, int i, uint64_t seq) {
    Conn *c = &conns[i];
    c->seq = seq;
    c->got = 0;
    c->written = 0;
    c->sentNs = nowNs();
    if (sendRequest(ep, i) < 0) {
        nConnErrors++;
    }
}

static uint64_t nextSeq;

/* tcp-rr: open (or reopen) persistent connection i and send its first request. */
static void rrOpen(int ep, int i) {
    Conn *c = &conns[i];
    for (;;) {
        if (blockingConnect(&c->fd) == 0) break;
        nConnErrors++;
        if (now() >= measureEnd) exit(3);
        usleep(10000);
    }
    epAdd(ep, c->fd, EPOLLIN, i);
    newRequest(ep, i, nextSeq++);
}

/* tcp-crr: start a new connection in slot i. */
static void crrOpen(int ep, int i) {
    Conn *c = &conns[i];
    c->startNs = nowNs();
    c->fd = startConnect();
    if (c->fd < 0) {
        nConnErrors++;
        c->connecting = -1; /* retried by the main loop */
        return;
    }
    c->connecting = 1;
    c->seq = nextSeq++;
    c->got = 0;
    c->written = 0;
    epAdd(ep, c->fd, EPOLLOUT, i);
}

static int stopping; /* the window is over: finish what is in flight, start nothing */
static int active;   /* connections with a request in flight */

/* Slot i is finished with its exchange: start the next one, or retire the slot. */
static void nextExchange(int ep, int i, int crr, int closeIt) {
    Conn *c = &conns[i];
    if (closeIt || crr) {
        close(c->fd);
        c->fd = -1;
    }
    if (stopping) {
        active--;
        c->connecting = 0;
        return;
    }
    if (crr) crrOpen(ep, i);
    else if (closeIt) rrOpen(ep, i);
    else newRequest(ep, i, nextSeq++);
}

static void runRequestResponse(int crr) {
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    conns = calloc(optConns, sizeof(Conn));
    if (!conns) die("calloc");
    for (int i = 0; i < optConns; i++) {
        if (crr) crrOpen(ep, i);
        else rrOpen(ep, i);
    }
    active = optConns;
    struct epoll_event evs[MAXEV];
    double t = now(), drainEnd = 0;
    tick(t);
    while (!stopping || (active > 0 && t < drainEnd)) {
        int n = epoll_wait(ep, evs, MAXEV, stopping ? 10 : waitMs(t));
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u64;
            Conn *c = &conns[i];
            if (c->fd < 0) continue;
            if (crr && c->connecting == 1) {
                if (!(evs[k].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) continue;
                if (connectError(c->fd)) goto broken;
                c->connecting = 0;
                epMod(ep, c->fd, EPOLLIN, i);
                c->sentNs = nowNs();
                if (sendRequest(ep, i) < 0) goto broken;
                continue;
            }
            if (evs[k].events & EPOLLOUT) {
                int r = sendRequest(ep, i);
                if (r == 0) epMod(ep, c->fd, EPOLLIN, i);
                if (r < 0) goto broken;
            }
            if (!(evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            ssize_t got = read(c->fd, c->buf + c->got, optSize - c->got);
            if (got < 0 && errno == EAGAIN) continue;
            if (got <= 0) goto broken;
            c->got += got;
            if (c->got < optSize) continue;
            {
                uint64_t done = nowNs();
                int good = memcmp(c->buf, EXPECTED(c->seq), optSize) == 0;
                if (!good) nErrors++;
                if (good && measuring) {
                    nOk++;
                    addLatency(done - (crr ? c->startNs : c->sentNs));
                }
                /* A wrong reply leaves the stream out of step: start afresh. */
                nextExchange(ep, i, crr, !good);
            }
            continue;
        broken:
            nConnErrors++;
            nextExchange(ep, i, crr, 1);
        }
        t = now();
        if (crr) {
            for (int i = 0; i < optConns; i++) {
                if (conns[i].connecting != -1) continue;
                if (stopping) {
                    conns[i].connecting = 0;
                    active--;
                } else {
                    crrOpen(ep, i);
                }
            }
        }
        tick(t);
        if (!stopping && t >= measureEnd) {
            stopping = 1;
            drainEnd = t + 1.0;
        }
    }
    finishWindow();
    for (int i = 0; i < optConns; i++)
        if (conns[i].fd >= 0) close(conns[i].fd);
    char extra[128];
    snprintf(extra, sizeof(extra), ", \"conns\": %d, \"size\": %d", optConns, optSize);
    printCommon(extra);
}

/* ---- tcp-stream -------------------------------------------------------- */

static void runStream(void) {
    int fd;
    if (blockingConnect(&fd) < 0) die("connect");
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    epAdd(ep, fd, EPOLLIN | EPOLLOUT, 0);
    static char rbuf[STREAM_CHUNK * 4];
    uint64_t sent = 0, recvd = 0;
    int wantOut = 1, stopping = 0, drained = 0;
    struct epoll_event evs[4];
    double t = now(), drainEnd = 0;
    tick(t);
    while (!stopping || (!drained && t < drainEnd)) {
        int n = epoll_wait(ep, evs, 4, stopping ? 10 : waitMs(t));
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int k = 0; k < n && !drained; k++) {
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                ssize_t got = read(fd, rbuf, sizeof(rbuf));
                if (got == 0 || (got < 0 && errno != EAGAIN)) {
                    nConnErrors++;
                    goto done;
                }
                if (got > 0) {
                    const char *exp = upperPattern + recvd % 26;
                    uint64_t bad = 0;
                    if (memcmp(rbuf, exp, got) != 0) {
                        for (ssize_t j = 0; j < got; j++) bad += rbuf[j] != exp[j];
                    }
                    recvd += got;
                    nErrors += bad;
                    if (measuring) nBytes += got - bad;
                    if (stopping && recvd >= sent) {
                        drained = 1; /* everything sent has come back */
                        break;
                    }
                }
            }
            if (!stopping && (evs[k].events & EPOLLOUT)) {
                ssize_t w = write(fd, lowerPattern + sent % 26, STREAM_CHUNK);
                if (w < 0 && errno != EAGAIN) {
                    nConnErrors++;
                    goto done;
                }
                if (w > 0) sent += w;
            }
            /* Keep at most STREAM_WINDOW bytes in flight: measure throughput, not buffering. */
            int want = !stopping && sent - recvd < STREAM_WINDOW;
            if (want != wantOut) {
                wantOut = want;
                epMod(ep, fd, EPOLLIN | (want ? EPOLLOUT : 0), 0);
            }
        }
        t = now();
        tick(t);
        if (!stopping && t >= measureEnd) {
            /* Stop sending and read back everything still due, then close.
             * (Not a half-close: a bare Protocol drops its unsent replies on
             * EOF, and this mode measures throughput, not half-close.) */
            stopping = 1;
            drainEnd = t + 2.0;
            drained = recvd >= sent;
            wantOut = 0;
            epMod(ep, fd, EPOLLIN, 0);
        }
    }
    if (recvd < sent) nErrors += sent - recvd; /* bytes that never came back */
done:
    finishWindow();
    close(fd);
    nOk = nBytes;
    char extra[200];
    double wall = wallEnd - wallStart;
    snprintf(extra, sizeof(extra), ", \"bytes\": %llu, \"mb_per_s\": %.2f, \"drained\": %s",
             (unsigned long long)nBytes, wall > 0 ? nBytes / wall / 1e6 : 0.0,
             drained ? "true" : "false");
    printCommon(extra);
}

/* ---- udp-rr ------------------------------------------------------------ */

/* Datagram layout: 4 letters of slot, 10 letters of sequence, then filler. */
#define UDP_HEADER 14

static void makeDatagram(char *out, uint32_t slot, uint64_t seq) {
    uint32_t s = slot;
    for (int i = 3; i >= 0; i--) { out[i] = 'a' + s % 26; s /= 26; }
    uint64_t q = seq;
    for (int i = 13; i >= 4; i--) { out[i] = 'a' + q % 26; q /= 26; }
    memcpy(out + UDP_HEADER, lowerPattern + seq % 26, optSize - UDP_HEADER);
}

/* Decode an upper-cased header; -1 if it is not upper-case letters. */
static int parseHeader(const char *in, uint32_t *slot, uint64_t *seq) {
    uint32_t s = 0;
    uint64_t q = 0;
    for (int i = 0; i < UDP_HEADER; i++)
        if (in[i] < 'A' || in[i] > 'Z') return -1;
    for (int i = 0; i < 4; i++) s = s * 26 + (in[i] - 'A');
    for (int i = 4; i < UDP_HEADER; i++) q = q * 26 + (in[i] - 'A');
    *slot = s;
    *seq = q;
    return 0;
}

typedef struct {
    uint64_t seq;
    uint64_t sentNs;
    int pending;
} Slot;

static void runUdp(void) {
    if (optSize < UDP_HEADER + 2) {
        fprintf(stderr, "loadgen: udp-rr needs --size >= %d\n", UDP_HEADER + 2);
        exit(2);
    }
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&serverAddr, sizeof(serverAddr)) < 0) die("connect");
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    epAdd(ep, fd, EPOLLIN, 0);
    Slot *slots = calloc(optOutstanding, sizeof(Slot));
    char out[65536], in[65536], expect[65536];
    uint64_t seq = 0;
    uint64_t timeoutNs = (uint64_t)(optTimeout * 1e9);

#define SEND_SLOT(i)                                                          \
    do {                                                                      \
        slots[i].seq = seq++;                                                 \
        slots[i].sentNs = nowNs();                                            \
        slots[i].pending = 1;                                                 \
        makeDatagram(out, (i), slots[i].seq);                                 \
        if (send(fd, out, optSize, 0) < 0 && measuring) nConnErrors++;        \
        else if (measuring) nSent++;                                          \
    } while (0)

    for (int i = 0; i < optOutstanding; i++) SEND_SLOT(i);
    struct epoll_event ev;
    double t = now(), drainEnd = 0;
    uint64_t lastScan = nowNs();
    int stopping = 0, pending = optOutstanding;
    tick(t);
    while (!stopping || (pending > 0 && t < drainEnd)) {
        int n = epoll_wait(ep, &ev, 1, waitMs(t) < 10 ? waitMs(t) : 10);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        if (n > 0) {
            for (;;) {
                ssize_t got = recv(fd, in, sizeof(in), 0);
                if (got < 0) {
                    if (errno == EAGAIN) break;
                    if (measuring) nConnErrors++; /* e.g. ECONNREFUSED from ICMP */
                    break;
                }
                uint32_t slot;
                uint64_t rseq;
                if (got != optSize || parseHeader(in, &slot, &rseq) < 0 ||
                    slot >= (uint32_t)optOutstanding) {
                    nErrors++;
                    continue;
                }
                makeDatagram(expect, slot, rseq);
                for (int j = 0; j < optSize; j++) expect[j] -= 32;
                int good = memcmp(in, expect, optSize) == 0;
                if (!good) {
                    nErrors++;
                    continue;
                }
                if (rseq != slots[slot].seq || !slots[slot].pending) {
                    if (measuring) nLate++; /* answered after we gave up on it */
                    continue;
                }
                uint64_t done = nowNs();
                if (measuring) {
                    nOk++;
                    addLatency(done - slots[slot].sentNs);
                }
                slots[slot].pending = 0;
                if (stopping) pending--;
                else SEND_SLOT(slot);
            }
        }
        uint64_t tn = nowNs();
        if (tn - lastScan > 5000000ull) { /* every 5 ms: time out lost datagrams */
            lastScan = tn;
            for (int i = 0; i < optOutstanding; i++) {
                if (slots[i].pending && tn - slots[i].sentNs > timeoutNs) {
                    if (measuring) nLost++;
                    slots[i].pending = 0;
                    if (stopping) pending--;
                    else SEND_SLOT(i);
                }
            }
        }
        t = now();
        tick(t);
        if (!stopping && t >= measureEnd) {
            stopping = 1; /* wait for the replies still due, send nothing new */
            drainEnd = t + optTimeout;
        }
    }
    finishWindow();
    char extra[256];
    double answered = (double)nOk + nLost;
    snprintf(extra, sizeof(extra),
             ", \"outstanding\": %d, \"size\": %d, \"sent\": %llu, \"lost\": %llu, "
             "\"late\": %llu, \"loss_pct\": %.3f",
             optOutstanding, optSize, (unsigned long long)nSent, (unsigned long long)nLost,
             (unsigned long long)nLate, answered > 0 ? 100.0 * nLost / answered : 0.0);
    printCommon(extra);
}

/* ---- idle -------------------------------------------------------------- */

static void runIdle(void) {
    int ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1");
    conns = calloc(optConns, sizeof(Conn));
    if (!conns) die("calloc");
    int pending = 0, established = 0, next = 0, attempts = 0;
    const int maxPending = 256;
    double t0 = now(), deadline = t0 + optConnectTimeout;
    measureStart = t0;
    measureEnd = deadline;
    tick(t0);
    struct epoll_event evs[MAXEV];
    while (established < optConns && now() < deadline) {
        while (pending < maxPending && next < optConns && attempts < 2 * optConns + 100) {
            Conn *c = &conns[next];
            attempts++;
            c->fd = startConnect();
            if (c->fd < 0) {
                nConnErrors++;
                break;
            }
            c->connecting = 1;
            c->seq = next;
            c->got = 0;
            c->written = 0;
            epAdd(ep, c->fd, EPOLLOUT, next);
            next++;
            pending++;
        }
        int n = epoll_wait(ep, evs, MAXEV, 50);
        if (n < 0 && errno != EINTR) die("epoll_wait");
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u64;
            Conn *c = &conns[i];
            if (c->connecting) {
                if (connectError(c->fd)) goto failed;
                c->connecting = 0;
                epMod(ep, c->fd, EPOLLIN, i);
                if (sendRequest(ep, i) < 0) goto failed;
                continue;
            }
            if (evs[k].events & EPOLLOUT) {
                int r = sendRequest(ep, i);
                if (r == 0) epMod(ep, c->fd, EPOLLIN, i);
                if (r < 0) goto failed;
            }
            ssize_t got = read(c->fd, c->buf + c->got, optSize - c->got);
            if (got < 0 && errno == EAGAIN) continue;
            if (got <= 0) goto failed;
            c->got += got;
            if (c->got < optSize) continue;
            if (memcmp(c->buf, EXPECTED(c->seq), optSize) != 0) nErrors++;
            else nOk++;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL); /* idle from now on */
            established++;
            pending--;
            continue;
        failed:
            nConnErrors++;
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            pending--;
            /* Retry this slot: move it to the end of the queue. */
            c->fd = startConnect();
            if (c->fd < 0) continue;
            c->connecting = 1;
            c->got = 0;
            c->written = 0;
            epAdd(ep, c->fd, EPOLLOUT, i);
            pending++;
            attempts++;
        }
    }
    wallStart = t0;
    wallEnd = now();
    getrusage(RUSAGE_SELF, &ruEnd);
    measuring = 0;
    nOk = established;
    char extra[128];
    snprintf(extra, sizeof(extra), ", \"conns\": %d, \"established\": %d", optConns, established);
    printCommon(extra);
    /* Hold the connections until the harness closes our stdin (or optHold passes). */
    struct pollfd p = {0, POLLIN, 0};
    poll(&p, 1, (int)(optHold * 1000));
    for (int i = 0; i < next; i++)
        if (conns[i].fd > 0) close(conns[i].fd);
}

/* ---- main -------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: loadgen --mode tcp-rr|tcp-crr|tcp-stream|udp-rr|idle --port PORT\n"
            "               [--host 127.0.0.1] [--conns N] [--outstanding W] [--size 64]\n"
            "               [--duration 2] [--warmup 0.5] [--timeout 0.2] [--hold 120]\n"
            "               [--sources 16]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--mode")) optMode = v;
        else if (!strcmp(a, "--host")) optHost = v;
        else if (!strcmp(a, "--port")) optPort = atoi(v);
        else if (!strcmp(a, "--conns")) optConns = atoi(v);
        else if (!strcmp(a, "--outstanding")) optOutstanding = atoi(v);
        else if (!strcmp(a, "--size")) optSize = atoi(v);
        else if (!strcmp(a, "--duration")) optDuration = atof(v);
        else if (!strcmp(a, "--warmup")) optWarmup = atof(v);
        else if (!strcmp(a, "--timeout")) optTimeout = atof(v);
        else if (!strcmp(a, "--hold")) optHold = atof(v);
        else if (!strcmp(a, "--sources")) optSources = atoi(v);
        else usage();
    }
    if (!optMode || optPort <= 0 || optPort > 65535 || optConns < 1 || optOutstanding < 1 ||
        optOutstanding > 456976 || optSources < 1 || optSources > 250 || optSize < 1 || optSize > STREAM_CHUNK)
        usage();

    /* Thousands of sockets need more than the usual 1,024 descriptors. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    for (int i = 0; i < PATTERN_LEN; i++) {
        lowerPattern[i] = 'a' + i % 26;
        upperPattern[i] = 'A' + i % 26;
    }
    memset(&serverAddr, 0, sizeof(serverAddr));
    serverAddr.sin_family = AF_INET;
    serverAddr.sin_port = htons(optPort);
    if (inet_pton(AF_INET, optHost, &serverAddr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address\n");
        return 2;
    }

    tStart = now();
    measureStart = tStart + optWarmup;
    measureEnd = measureStart + optDuration;
    spreadSources = !strcmp(optMode, "tcp-crr") && optSources > 1 &&
                    (ntohl(serverAddr.sin_addr.s_addr) >> 24) == 127;
    if (!strcmp(optMode, "tcp-rr")) runRequestResponse(0);
    else if (!strcmp(optMode, "tcp-crr")) runRequestResponse(1);
    else if (!strcmp(optMode, "tcp-stream")) runStream();
    else if (!strcmp(optMode, "udp-rr")) runUdp();
    else if (!strcmp(optMode, "idle")) runIdle();
    else usage();
    return 0;
}
