// A model of the `always` group commit, free of Swift: what median latency 64 closed-loop
// appenders get from one fdatasync'ing file on this disk when their own work costs `cost` µs.
//
//   cc -O2 -pthread group-commit-model.c -o group-commit-model
//   ./group-commit-model [clients=64] [cost_us=0.85] [policy=pipelined|gather] [seconds=3] [dir=.]
//
// Clients are virtual: one executor thread stands for Swift's cooperative pool. It "resumes"
// the clients a sync covered one by one, spending `cost` µs of CPU on each (resume + append),
// then stages a ~100-byte record for it. One sync thread stands for AppendFile's group commit:
// it pwrites every staged record (over zeros already on disk, as Spool's journal does) and
// fdatasyncs. `pipelined` starts the next sync as soon as one ends, covering whatever was staged
// meanwhile (what Spool does); `gather` waits first until every client has staged again (at most
// 1 ms). The floor is measured the way SpoolFigures measures it: pwrite 4 KiB at the end of a
// file + fdatasync, 40 samples after the run.
//
// What it shows (Benchmarks/README.md): pipelined p50 ≈ 2 syncs whatever the cost, even 0 —
// the clients a sync wakes stage during the next one and wait for the one after; gather p50 ≈
// one sync + the time for all clients to come back, which beats pipelining only when that is
// well under a sync (cost ≲ 0.4 µs per client with 64 clients).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int clients = 64, gather = 0;
static double cost = 0.85, seconds = 3;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t executorWake = PTHREAD_COND_INITIALIZER, syncWake = PTHREAD_COND_INITIALIZER;
// Records are numbered 1, 2, … in staging order; a sync covers every record staged before it.
static long staged = 0, written = 0, durable = 0, acked = 0, syncs = 0;
static double stagedAt[1 << 16];
static double *latencies;
static long latencyCount = 0;
static volatile int stop = 0;
static int fd;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}
static void spin(double us) { for (double t = now(); now() - t < us;) {} }

static void *syncThread(void *unused) {
    static char record[1 << 20];
    memset(record, 'r', sizeof record);
    off_t offset = 0;
    pthread_mutex_lock(&mu);
    while (!stop) {
        if (staged == written) { pthread_cond_wait(&syncWake, &mu); continue; }
        if (gather) {
            double t0 = now();
            while (!stop && staged - durable < clients && now() - t0 < 1000) {
                pthread_mutex_unlock(&mu);
                spin(1);
                pthread_mutex_lock(&mu);
            }
        }
        long end = staged, bytes = (end - written) * 100;
        written = end;
        syncs++;
        pthread_mutex_unlock(&mu);
        if (offset + bytes > (64 << 20)) offset = 0;
        if (pwrite(fd, record, bytes, offset) != bytes || fdatasync(fd) != 0) { perror("sync"); exit(1); }
        offset += bytes;
        pthread_mutex_lock(&mu);
        durable = end;
        pthread_cond_signal(&executorWake);
    }
    pthread_mutex_unlock(&mu);
    return unused;
}

static void stageOne(void) {  // with mu held
    pthread_mutex_unlock(&mu);
    spin(cost);
    pthread_mutex_lock(&mu);
    staged++;
    stagedAt[staged & 0xffff] = now();
    pthread_cond_signal(&syncWake);
}

static void *executorThread(void *unused) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < clients; i++) stageOne();
    while (!stop) {
        if (acked == durable) { pthread_cond_wait(&executorWake, &mu); continue; }
        long from = acked + 1, to = durable;
        acked = durable;
        for (long r = from; r <= to; r++) {
            latencies[latencyCount++] = now() - stagedAt[r & 0xffff];
            stageOne();
        }
    }
    pthread_mutex_unlock(&mu);
    return unused;
}

static int ascending(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc > 1) clients = atoi(argv[1]);
    if (argc > 2) cost = atof(argv[2]);
    if (argc > 3) gather = strcmp(argv[3], "gather") == 0;
    if (argc > 4) seconds = atof(argv[4]);
    const char *dir = argc > 5 ? argv[5] : ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/group-commit-model.%d.tmp", dir, getpid());
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    static char zeros[1 << 20];
    for (int i = 0; i < 64; i++) if (write(fd, zeros, sizeof zeros) != sizeof zeros) { perror(path); return 1; }
    fsync(fd);
    latencies = malloc(sizeof(double) * 50000000);

    pthread_t s, e;
    pthread_create(&s, 0, syncThread, 0);
    pthread_create(&e, 0, executorThread, 0);
    double t0 = now();
    usleep((useconds_t)(seconds * 1e6));
    pthread_mutex_lock(&mu);
    stop = 1;
    pthread_cond_broadcast(&executorWake);
    pthread_cond_broadcast(&syncWake);
    pthread_mutex_unlock(&mu);
    pthread_join(e, 0);
    pthread_join(s, 0);
    double elapsed = now() - t0;

    // The floor: 4 KiB appended to the end of a file, then fdatasync.
    double floor[40];
    if (ftruncate(fd, 0) != 0) { perror(path); return 1; }
    for (int i = 0; i < 40; i++) {
        double t = now();
        if (pwrite(fd, zeros, 4096, (off_t)i * 4096) != 4096 || fdatasync(fd) != 0) { perror(path); return 1; }
        floor[i] = now() - t;
    }
    close(fd);
    unlink(path);
    qsort(latencies, latencyCount, sizeof(double), ascending);
    qsort(floor, 40, sizeof(double), ascending);
    double p50 = latencies[latencyCount / 2];
    printf("clients=%d cost_us=%.2f policy=%s entries_per_s=%.0f per_sync=%.1f p50_us=%.0f floor_p50_us=%.0f ratio=%.2f\n",
           clients, cost, gather ? "gather" : "pipelined", latencyCount / elapsed * 1e6,
           (double)latencyCount / syncs, p50, floor[20], p50 / floor[20]);
    return 0;
}
