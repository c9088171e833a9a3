// Times `plan` for many auto instances with the real host probe: profile loading, the /proc
// scan and the planner, each as a median over several runs. Prints figures; never fails on speed.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "offset_planner.hpp"
#include "os/host_ports.hpp"
#include "os/paths.hpp"
#include "profile.hpp"

namespace {

using Clock = std::chrono::steady_clock;

double median_ms(std::vector<double> samples) {
    std::sort(samples.begin(), samples.end());
    return samples[samples.size() / 2];
}

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void write(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
}

}  // namespace

int main(int argc, char** argv) {
    const int instances = argc > 1 ? std::stoi(argv[1]) : 1000;
    const int runs = argc > 2 ? std::stoi(argv[2]) : 7;
    std::string pattern = (std::filesystem::temp_directory_path() / "carbon-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
        std::perror("mkdtemp");
        return 1;
    }
    const std::filesystem::path root = pattern;
    for (int i = 0; i < instances; ++i) {
        const std::string name = "apim-" + std::to_string(i);
        write(root / "homes" / name / "bin/api-manager.sh", "#!/bin/sh\n");
        write(root / "profiles" / (name + ".json"), R"({"name":")" + name +
                                                        R"(","runtime":"api-manager","home":")" +
                                                        (root / "homes" / name).string() + "\"}");
    }
    const auto catalog = carbon::RuntimeCatalog::load(carbon::find_runtimes_dir(""));
    std::vector<double> load, probe, plan, total;
    std::size_t conflicts = 0;
    for (int run = 0; run < runs; ++run) {
        const auto start = Clock::now();
        const auto profiles = carbon::load_profiles(root / "profiles", catalog);
        load.push_back(ms_since(start));
        const auto probe_start = Clock::now();
        const carbon::HostPorts host;
        probe.push_back(ms_since(probe_start));
        const auto plan_start = Clock::now();
        const carbon::Plan result = carbon::plan_offsets(profiles, {}, host);
        plan.push_back(ms_since(plan_start));
        total.push_back(ms_since(start));
        conflicts = result.conflicts.size();
    }
    std::printf("plan of %d auto api-manager instances, median of %d runs:\n", instances, runs);
    std::printf("  load profiles   %8.2f ms\n", median_ms(load));
    std::printf("  host probe      %8.2f ms\n", median_ms(probe));
    std::printf("  planner         %8.2f ms\n", median_ms(plan));
    std::printf("  total           %8.2f ms  (target < 100 ms)\n", median_ms(total));
    std::printf("  conflicts       %zu\n", conflicts);
    std::filesystem::remove_all(root);
    return 0;
}
