// Benchmark workload: appends "start <ns>" to a file, sleeps, appends "exit <ns>", exits 1.
// CLOCK_MONOTONIC from the workload itself, so both supervisors are timed the same way.
#include <cstdio>
#include <cstdlib>
#include <ctime>

static long long now_ns() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char** argv) {
    const char* file = getenv("CRASHER_FILE");
    const int run_ms = argc > 1 ? atoi(argv[1]) : 20;
    FILE* out = fopen(file, "a");
    if (out == nullptr) {
        return 2;
    }
    fprintf(out, "start %lld\n", now_ns());
    fflush(out);
    struct timespec pause = {run_ms / 1000, static_cast<long>(run_ms % 1000) * 1000000L};
    nanosleep(&pause, nullptr);
    fprintf(out, "exit %lld\n", now_ns());
    fclose(out);
    return 1;
}
