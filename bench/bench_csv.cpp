// matgrad_bench_csv FILE: reads FILE with io::read_csv (the one-pass reader) and prints one line,
// "rows cols seconds cpu_seconds peak_rss_mb", for bench/csv_read.py. The process does nothing else, so its
// peak RSS is the reader's (the matrix, the reader's window of the file, the program itself).
#include <nn/io.hpp>

#include <chrono>
#include <cstdio>

#include <sys/resource.h>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: matgrad_bench_csv FILE\n");
        return 2;
    }
    const auto start = std::chrono::steady_clock::now();
    const matgrad::io::CsvTable table = matgrad::io::read_csv(argv[1]);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rusage usage{};
    ::getrusage(RUSAGE_SELF, &usage);
    const auto cpu = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec); };
    std::printf("%zu %zu %.4f %.4f %.1f\n", table.values.shape(1), table.values.shape(0), seconds,
                cpu(usage.ru_utime) + cpu(usage.ru_stime), static_cast<double>(usage.ru_maxrss) / 1024.0);
}
