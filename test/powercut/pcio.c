/*
 * pcio - the writer, scanner and golden-image generator of the power-cut test (test/powercut).
 *
 *   pcio golden FILE SIZE GSEED
 *       writes a golden image: every 512-byte sector is a "golden stamp" (magic, own LBA, the
 *       golden seed, pseudo-random filler, CRC32C), so any sector can be recognised on its own.
 *   pcio write --dir DIR --round R --seed S [--threads T] [--max-seconds N] [--sync-permille P]
 *              [--sabotage] [--final-sync] DEV:NAME [DEV:NAME...]
 *       writes stamped sectors to the block devices with O_DIRECT until killed (or N seconds),
 *       T threads per device; each operation is a fdatasync with probability P/1000, else a
 *       write (55% plain, 25% RWF_DSYNC, 20% SG_IO FUA). Each thread logs to DIR/log-NAME-T.txt:
 *         I <ev> <wid> <lba> <nsect> <kind>   intent, written (and returned from the 9p write)
 *                                             BEFORE the write is issued
 *         A <ev> <wid> <rc>                   acknowledgement, AFTER the write returned
 *         S <ev> <sid>                        SYNCHRONIZE CACHE (fdatasync) start, BEFORE the call
 *         D <ev> <sid> <rc>                   its completion, AFTER it returned
 *       ev is one event counter shared by all threads (atomic, so "ack ev < sync-start ev" proves
 *       the write returned before the fdatasync was called). kind: P plain pwrite, F pwritev2
 *       RWF_DSYNC (the kernel sends WRITE with FUA, then may flush), G SG_IO WRITE(16) with the
 *       FUA bit and nothing else. --sabotage issues every write plain and never syncs, but logs
 *       them as F and logs fake S/D pairs: a writer that claims durability early.
 *       Creates DIR/first-ack after the first acknowledgement (the host starts its cut timer).
 *       --final-sync: after the last write of every thread returned, one logged fdatasync per
 *       device (exit 4 when it fails), so every acknowledged write of the run is durable.
 *   pcio scan DEV NAME OUT GSEED
 *       reads the whole device (O_DIRECT) and writes a run-length summary of what every sector
 *       holds: Z (zeroes), G (golden stamp of this LBA), W <wid> (write stamp of this LBA whose
 *       whole content matches), or X/M lines for garbage and misplaced stamps.
 *
 * Stamp (512 bytes, little-endian):
 *   0  magic[8]  "PCUTW001" (write) or "PCUTG001" (golden)
 *   8  u64 lba        the sector's own LBA (512-byte units)
 *  16  u64 wid        write id (round << 32 | n); golden: 0
 *  24  u64 ev         event number of the write's intent (its sequence number); golden: 0
 *  32  u32 round      u32 dev (index of the device in the command line); golden: 0 0
 *  40  u64 wlba       first LBA of the whole write; golden: gseed
 *  48  u32 wsect      sectors in the whole write   u32 kind ('P','F','G')
 *  56  u64 seed       the writer's seed; golden: gseed
 *  64  filler         splitmix64 stream from (wid, lba, seed) up to byte 508
 * 508  u32 crc32c of bytes 0..507
 * The scanner recomputes the whole 512 bytes from the header and compares them byte for byte.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <scsi/sg.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SECT 512
#define CHUNK (64 * 1024)           /* thread ownership unit: chunk c belongs to thread c % T */
#define CHUNK_SECT (CHUNK / SECT)
#define MAX_WRITE (64 * 1024)

static const char MAGIC_W[8] = {'P', 'C', 'U', 'T', 'W', '0', '0', '1'};
static const char MAGIC_G[8] = {'P', 'C', 'U', 'T', 'G', '0', '0', '1'};

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "pcio: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* ------------------------------------------------------------------ crc32c, prng */
static uint32_t crc_table[256];
static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}
static uint32_t crc32c(const uint8_t *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    while (n--) c = crc_table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}
static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

struct stamp {
    int golden;
    uint64_t lba, wid, ev, wlba, seed;
    uint32_t round, dev, wsect, kind;
};

static void make_sector(uint8_t *b, const struct stamp *s) {
    memset(b, 0, SECT);
    memcpy(b, s->golden ? MAGIC_G : MAGIC_W, 8);
    put64(b + 8, s->lba);
    put64(b + 16, s->wid);
    put64(b + 24, s->ev);
    put32(b + 32, s->round);
    put32(b + 36, s->dev);
    put64(b + 40, s->wlba);
    put32(b + 48, s->wsect);
    put32(b + 52, s->kind);
    put64(b + 56, s->seed);
    uint64_t st = s->wid * 0xD1B54A32D192ED03ull ^ s->lba * 0x9E3779B97F4A7C15ull ^ s->seed ^ (s->golden ? 0x60 : 0x57);
    for (int off = 64; off < 504; off += 8) put64(b + off, splitmix64(&st));
    put32(b + 504, (uint32_t) splitmix64(&st));
    put32(b + 508, crc32c(b, 508));
}

static void parse_sector(const uint8_t *b, struct stamp *s) {
    s->golden = memcmp(b, MAGIC_G, 8) == 0;
    s->lba = get64(b + 8);
    s->wid = get64(b + 16);
    s->ev = get64(b + 24);
    s->round = get32(b + 32);
    s->dev = get32(b + 36);
    s->wlba = get64(b + 40);
    s->wsect = get32(b + 48);
    s->kind = get32(b + 52);
    s->seed = get64(b + 56);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t parse_size(const char *s) {
    char *end;
    uint64_t v = strtoull(s, &end, 10);
    switch (*end) {
        case 'K': case 'k': v <<= 10; break;
        case 'M': case 'm': v <<= 20; break;
        case 'G': case 'g': v <<= 30; break;
        case 0: break;
        default: die("bad size %s", s);
    }
    return v;
}

/* ------------------------------------------------------------------ golden */
static int cmd_golden(int argc, char **argv) {
    if (argc != 5) die("usage: pcio golden FILE SIZE GSEED");
    uint64_t size = parse_size(argv[3]);
    uint64_t gseed = strtoull(argv[4], NULL, 0);
    if (size % CHUNK) die("size must be a multiple of 64K");
    FILE *f = fopen(argv[2], "wb");
    if (!f) die("cannot create %s: %s", argv[2], strerror(errno));
    static uint8_t buf[CHUNK];
    for (uint64_t off = 0; off < size; off += CHUNK) {
        for (int i = 0; i < CHUNK_SECT; i++) {
            struct stamp s = {.golden = 1, .lba = off / SECT + i, .wlba = gseed, .seed = gseed};
            make_sector(buf + i * SECT, &s);
        }
        if (fwrite(buf, 1, CHUNK, f) != CHUNK) die("write %s: %s", argv[2], strerror(errno));
    }
    if (fclose(f)) die("close %s: %s", argv[2], strerror(errno));
    return 0;
}

/* ------------------------------------------------------------------ writer */
struct dev {
    const char *path, *name;
    int fd;
    uint64_t sectors;
    int index;
};

static atomic_uint_fast64_t g_ev = 1;
static atomic_uint_fast64_t g_wid = 1;
static atomic_uint_fast64_t g_sid = 1;
static atomic_int g_first_ack = 0;
static atomic_uint_fast64_t g_writes_acked = 0, g_syncs_done = 0, g_errors = 0;
static const char *g_dir;
static uint32_t g_round;
static uint64_t g_seed;
static int g_threads = 3;
static int g_sabotage = 0;
static int g_sync_permille = 50;
static int g_final_sync = 0;
static double g_deadline;
static struct dev g_devs[8];
static int g_ndev;

struct worker {
    struct dev *d;
    int t;
    int logfd;
    uint64_t rng;
    uint8_t *buf;
    char line[256];
};

/* one line, one write(2); a short write on a 9p file is retried; a failing log aborts the writer
 * (a write must never be issued without its intent on the host) */
static void logline(struct worker *w, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(w->line, sizeof w->line, fmt, ap);
    va_end(ap);
    const char *p = w->line;
    while (n > 0) {
        ssize_t r = write(w->logfd, p, n);
        if (r < 0) {
            if (errno == EINTR) continue;
            fprintf(stderr, "pcio: log write failed: %s\n", strerror(errno));
            _exit(3);
        }
        p += r;
        n -= (int) r;
    }
}

static void first_ack(void) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&g_first_ack, &expected, 1)) {
        char path[512];
        snprintf(path, sizeof path, "%s/first-ack", g_dir);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) close(fd);
    }
}

static int sg_write_fua(int fd, uint64_t lba, uint32_t nsect, uint8_t *buf) {
    uint8_t cdb[16] = {0x8a, 0x08};   /* WRITE(16), FUA */
    for (int i = 0; i < 8; i++) cdb[2 + i] = (uint8_t) (lba >> (56 - 8 * i));
    for (int i = 0; i < 4; i++) cdb[10 + i] = (uint8_t) (nsect >> (24 - 8 * i));
    uint8_t sense[64];
    sg_io_hdr_t h;
    memset(&h, 0, sizeof h);
    h.interface_id = 'S';
    h.dxfer_direction = SG_DXFER_TO_DEV;
    h.cmd_len = 16;
    h.cmdp = cdb;
    h.dxferp = buf;
    h.dxfer_len = nsect * SECT;
    h.sbp = sense;
    h.mx_sb_len = sizeof sense;
    h.timeout = 120000;
    if (ioctl(fd, SG_IO, &h) < 0) return -errno;
    if (h.status != 0 || h.host_status != 0 || (h.driver_status & 0x0f) != 0 || h.resid != 0)
        return -EIO;
    return 0;
}

static uint64_t rnd(struct worker *w, uint64_t n) { return splitmix64(&w->rng) % n; }

static void *worker_main(void *arg) {
    struct worker *w = arg;
    struct dev *d = w->d;
    uint64_t nchunks = d->sectors / CHUNK_SECT;
    uint64_t owned = (nchunks - w->t + g_threads - 1) / g_threads;   /* chunks c with c % T == t */
    /* hot windows: the first 4 MiB and 4 MiB in the middle, so blocks are overwritten often */
    uint64_t hot0 = 0, hot1 = nchunks / 2, hotn = 64;
    if (hotn * 2 > nchunks) hotn = nchunks / 2;
    while (now_s() < g_deadline) {
        if ((int) rnd(w, 1000) < g_sync_permille) {   /* SYNCHRONIZE CACHE */
            uint64_t sid = atomic_fetch_add(&g_sid, 1);
            uint64_t ev = atomic_fetch_add(&g_ev, 1);
            logline(w, "S %" PRIu64 " %" PRIu64 "\n", ev, sid);
            int rc = 0;
            if (!g_sabotage && fdatasync(d->fd) != 0) rc = errno;
            ev = atomic_fetch_add(&g_ev, 1);
            logline(w, "D %" PRIu64 " %" PRIu64 " %d\n", ev, sid, rc);
            if (rc) atomic_fetch_add(&g_errors, 1); else atomic_fetch_add(&g_syncs_done, 1);
            continue;
        }
        /* pick an owned chunk */
        uint64_t chunk;
        if (rnd(w, 2) == 0) {
            uint64_t base = rnd(w, 2) ? hot0 : hot1;
            uint64_t k = rnd(w, hotn / g_threads);
            chunk = (base / g_threads + k) * g_threads + w->t;
        } else {
            chunk = rnd(w, owned) * g_threads + w->t;
        }
        if (chunk >= nchunks) continue;
        uint64_t off_s, nsect;
        if (rnd(w, 10) < 7) {   /* 4K-aligned, 4K..32K */
            off_s = rnd(w, CHUNK_SECT / 8) * 8;
            nsect = (1 + rnd(w, 8)) * 8;
        } else {                /* sector-granular, 512 B..8K */
            off_s = rnd(w, CHUNK_SECT);
            nsect = 1 + rnd(w, 16);
        }
        if (off_s + nsect > CHUNK_SECT) nsect = CHUNK_SECT - off_s;
        uint64_t lba = chunk * CHUNK_SECT + off_s;
        char kind;
        uint64_t k = rnd(w, 100);
        if (k < 55) kind = 'P'; else if (k < 80) kind = 'F'; else kind = 'G';
        char logged_kind = g_sabotage ? 'F' : kind;
        if (g_sabotage) kind = 'P';
        uint64_t wid = ((uint64_t) g_round << 32) | atomic_fetch_add(&g_wid, 1);
        uint64_t ev = atomic_fetch_add(&g_ev, 1);
        for (uint64_t i = 0; i < nsect; i++) {
            struct stamp s = {.lba = lba + i, .wid = wid, .ev = ev, .round = g_round, .dev = d->index,
                              .wlba = lba, .wsect = (uint32_t) nsect, .kind = (uint32_t) logged_kind, .seed = g_seed};
            make_sector(w->buf + i * SECT, &s);
        }
        logline(w, "I %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %c\n", ev, wid, lba, nsect, logged_kind);
        int rc = 0;
        if (kind == 'G') {
            rc = -sg_write_fua(d->fd, lba, (uint32_t) nsect, w->buf);
        } else {
            struct iovec iov = {.iov_base = w->buf, .iov_len = nsect * SECT};
            ssize_t n = pwritev2(d->fd, &iov, 1, (off_t) (lba * SECT), kind == 'F' ? RWF_DSYNC : 0);
            if (n < 0) rc = errno; else if ((uint64_t) n != nsect * SECT) rc = EIO;
        }
        ev = atomic_fetch_add(&g_ev, 1);
        logline(w, "A %" PRIu64 " %" PRIu64 " %d\n", ev, wid, rc);
        if (rc) atomic_fetch_add(&g_errors, 1); else { atomic_fetch_add(&g_writes_acked, 1); first_ack(); }
    }
    return NULL;
}

static int cmd_write(int argc, char **argv) {
    double max_seconds = 600;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--dir") && i + 1 < argc) g_dir = argv[++i];
        else if (!strcmp(argv[i], "--round") && i + 1 < argc) g_round = (uint32_t) strtoul(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) g_seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) g_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc) max_seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--sabotage")) g_sabotage = 1;
        else if (!strcmp(argv[i], "--final-sync")) g_final_sync = 1;
        else if (!strcmp(argv[i], "--sync-permille") && i + 1 < argc) g_sync_permille = atoi(argv[++i]);
        else if (argv[i][0] != '-' && strchr(argv[i], ':') && g_ndev < 8) {
            struct dev *d = &g_devs[g_ndev];
            char *c = strchr(argv[i], ':');
            *c = 0;
            d->path = argv[i];
            d->name = c + 1;
            d->index = g_ndev++;
        } else die("bad argument %s", argv[i]);
    }
    if (!g_dir || !g_round || !g_ndev || g_threads < 1 || g_threads > 16) die("usage: pcio write --dir DIR --round R --seed S DEV:NAME...");
    for (int i = 0; i < g_ndev; i++) {
        struct dev *d = &g_devs[i];
        d->fd = open(d->path, O_RDWR | O_DIRECT);
        if (d->fd < 0) die("open %s: %s", d->path, strerror(errno));
        int ssz = 0;
        uint64_t bytes = 0;
        if (ioctl(d->fd, BLKSSZGET, &ssz) || ioctl(d->fd, BLKGETSIZE64, &bytes)) die("ioctl %s: %s", d->path, strerror(errno));
        if (ssz != SECT) die("%s: logical block size %d, need 512", d->path, ssz);
        d->sectors = bytes / SECT;
        if (d->sectors < (uint64_t) CHUNK_SECT * 128 * g_threads) die("%s too small", d->path);
    }
    g_deadline = now_s() + max_seconds;
    int nw = g_ndev * g_threads;
    struct worker *ws = calloc(nw, sizeof *ws);
    pthread_t *th = calloc(nw, sizeof *th);
    for (int i = 0; i < nw; i++) {
        struct worker *w = &ws[i];
        w->d = &g_devs[i / g_threads];
        w->t = i % g_threads;
        w->rng = g_seed ^ ((uint64_t) g_round << 40) ^ ((uint64_t) i * 0x9E3779B97F4A7C15ull);
        if (posix_memalign((void **) &w->buf, 4096, MAX_WRITE)) die("no memory");
        char path[512];
        snprintf(path, sizeof path, "%s/log-%s-%d.txt", g_dir, w->d->name, w->t);
        w->logfd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (w->logfd < 0) die("open %s: %s", path, strerror(errno));
    }
    fprintf(stderr, "pcio: round %u seed %" PRIu64 " %d device(s) x %d threads, syncs %d per mille of operations%s\n",
            g_round, g_seed, g_ndev, g_threads, g_sync_permille, g_sabotage ? " SABOTAGE (plain writes logged as FUA, no syncs)" : "");
    for (int i = 0; i < nw; i++) pthread_create(&th[i], NULL, worker_main, &ws[i]);
    for (int i = 0; i < nw; i++) pthread_join(th[i], NULL);
    int frc = 0;
    if (g_final_sync) {   /* one SYNCHRONIZE CACHE per device after every write returned, logged by its thread 0 */
        for (int i = 0; i < g_ndev; i++) {
            struct worker *w = &ws[i * g_threads];
            uint64_t sid = atomic_fetch_add(&g_sid, 1);
            logline(w, "S %" PRIu64 " %" PRIu64 "\n", (uint64_t) atomic_fetch_add(&g_ev, 1), sid);
            int rc = g_sabotage ? 0 : (fdatasync(w->d->fd) != 0 ? errno : 0);
            logline(w, "D %" PRIu64 " %" PRIu64 " %d\n", (uint64_t) atomic_fetch_add(&g_ev, 1), sid, rc);
            if (rc) frc = 4; else atomic_fetch_add(&g_syncs_done, 1);
        }
    }
    fprintf(stderr, "pcio: done: %" PRIu64 " writes acknowledged, %" PRIu64 " syncs, %" PRIu64 " errors\n",
            (uint64_t) g_writes_acked, (uint64_t) g_syncs_done, (uint64_t) g_errors);
    return frc;
}

/* ------------------------------------------------------------------ scan */
struct run {
    char type;          /* Z G W */
    uint64_t start, count, wid;
};

static void flush_run(FILE *o, struct run *r) {
    if (!r->count) return;
    if (r->type == 'W') fprintf(o, "W %" PRIu64 " %" PRIu64 " %" PRIu64 "\n", r->start, r->count, r->wid);
    else fprintf(o, "%c %" PRIu64 " %" PRIu64 "\n", r->type, r->start, r->count);
    r->count = 0;
}

static int cmd_scan(int argc, char **argv) {
    if (argc != 6) die("usage: pcio scan DEV NAME OUT GSEED");
    uint64_t gseed = strtoull(argv[5], NULL, 0);
    int fd = open(argv[2], O_RDONLY | O_DIRECT);
    if (fd < 0) die("open %s: %s", argv[2], strerror(errno));
    uint64_t bytes;
    if (ioctl(fd, BLKGETSIZE64, &bytes)) die("ioctl: %s", strerror(errno));
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", argv[4]);
    FILE *o = fopen(tmp, "w");
    if (!o) die("create %s: %s", tmp, strerror(errno));
    fprintf(o, "# scan %s %s sectors=%" PRIu64 "\n", argv[3], argv[2], bytes / SECT);
    const size_t BUF = 1 << 20;
    uint8_t *buf;
    if (posix_memalign((void **) &buf, 4096, BUF)) die("no memory");
    uint8_t exp[SECT];
    struct run run = {0};
    uint64_t nz = 0, ng = 0, nw = 0, nx = 0;
    double t0 = now_s();
    for (uint64_t off = 0; off < bytes; off += BUF) {
        size_t want = bytes - off < BUF ? bytes - off : BUF;
        ssize_t n = pread(fd, buf, want, (off_t) off);
        if (n != (ssize_t) want) {
            fprintf(o, "E %" PRIu64 " read-error %s\n", off / SECT, n < 0 ? strerror(errno) : "short");
            die("read %s at %" PRIu64 ": %s", argv[2], off, n < 0 ? strerror(errno) : "short read");
        }
        for (size_t i = 0; i < want / SECT; i++) {
            const uint8_t *b = buf + i * SECT;
            uint64_t lba = off / SECT + i;
            char type = 0;
            uint64_t wid = 0;
            struct stamp s;
            if (memcmp(b, MAGIC_W, 8) == 0 || memcmp(b, MAGIC_G, 8) == 0) {
                parse_sector(b, &s);
                make_sector(exp, &s);
                if (memcmp(exp, b, SECT) != 0) {
                    flush_run(o, &run);
                    fprintf(o, "X %" PRIu64 " bad-content %s lba=%" PRIu64 " wid=%" PRIu64 "\n", lba,
                            s.golden ? "golden" : "write", s.lba, s.wid);
                    nx++;
                    continue;
                }
                if (s.lba != lba) {
                    flush_run(o, &run);
                    fprintf(o, "M %" PRIu64 " %s stamped-lba=%" PRIu64 " wid=%" PRIu64 "\n", lba,
                            s.golden ? "golden" : "write", s.lba, s.wid);
                    nx++;
                    continue;
                }
                if (s.golden) {
                    if (s.seed != gseed) {
                        flush_run(o, &run);
                        fprintf(o, "X %" PRIu64 " golden-of-another-seed %" PRIu64 "\n", lba, s.seed);
                        nx++;
                        continue;
                    }
                    type = 'G';
                    ng++;
                } else {
                    type = 'W';
                    wid = s.wid;
                    nw++;
                }
            } else {
                int zero = 1;
                for (int k = 0; k < SECT; k++) if (b[k]) { zero = 0; break; }
                if (!zero) {
                    flush_run(o, &run);
                    char hex[33];
                    for (int k = 0; k < 16; k++) sprintf(hex + 2 * k, "%02x", b[k]);
                    fprintf(o, "X %" PRIu64 " garbage %s\n", lba, hex);
                    nx++;
                    continue;
                }
                type = 'Z';
                nz++;
            }
            if (run.count && run.type == type && run.wid == wid && run.start + run.count == lba) {
                run.count++;
            } else {
                flush_run(o, &run);
                run.type = type; run.start = lba; run.count = 1; run.wid = wid;
            }
        }
    }
    flush_run(o, &run);
    fprintf(o, "# end zero=%" PRIu64 " golden=%" PRIu64 " written=%" PRIu64 " bad=%" PRIu64 " seconds=%.1f\n", nz, ng, nw, nx, now_s() - t0);
    if (fclose(o)) die("close: %s", strerror(errno));
    if (rename(tmp, argv[4])) die("rename: %s", strerror(errno));
    fprintf(stderr, "pcio: scan %s: zero=%" PRIu64 " golden=%" PRIu64 " written=%" PRIu64 " bad=%" PRIu64 " in %.1f s\n",
            argv[3], nz, ng, nw, nx, now_s() - t0);
    return 0;
}

int main(int argc, char **argv) {
    crc_init();
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) die("usage: pcio golden|write|scan ...");
    if (!strcmp(argv[1], "golden")) return cmd_golden(argc, argv);
    if (!strcmp(argv[1], "write")) return cmd_write(argc, argv);
    if (!strcmp(argv[1], "scan")) return cmd_scan(argc, argv);
    die("unknown command %s", argv[1]);
    return 2;
}
