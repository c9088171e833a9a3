// HotSpot's SIGQUIT output, shaped after what Debian's OpenJDK 17 prints (tools/SIMULATION.md
// [F17]): the local time, "Full thread dump <VM> (<release> <info>):", the threads class SMR
// info, one block per Java thread ("name" #n [daemon] prio=... tid=... nid=... <condition>, the
// java.lang.Thread.State line, its frames), the VM's own threads, "JNI global refs: ...", the
// deadlock report when there is one, and the heap summary. The threads are the simulation's own
// (names under carbon.sim), so nobody mistakes the dump for a real Carbon's.
#include "sim_thread_dump.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace carbon_sim {
namespace {

constexpr const char* kJavaBase = "java.base@17.0.15";

struct JavaThread {
    std::string name;
    int number = 0;
    bool daemon = false;
    int priority = 5;
    std::string condition;  // "waiting on condition", "runnable", "waiting for monitor entry"
    std::string state;      // after "java.lang.Thread.State: "
    std::vector<std::string> frames;  // each printed after a tab
};

std::string hex(unsigned long long value, int width) {
    char text[32];
    std::snprintf(text, sizeof text, "0x%0*llx", width, value);
    return text;
}

/// Addresses that look like a 64-bit JVM's and stay the same from one dump to the next.
std::string thread_address(int index) {
    return hex(0x00007f5a1c000000ULL + index * 0x1000ULL, 16);
}
std::string object_address(int index) {
    return hex(0x0000000700c10000ULL + index * 0x10ULL, 16);
}
std::string monitor_address(int index) {
    return hex(0x00007f5a08000000ULL + index * 0x100ULL, 16);
}

std::string header_line(const JavaThread& thread, int index, const DumpSubject& subject) {
    char timing[96];
    std::snprintf(timing, sizeof timing, "cpu=%.2fms elapsed=%.2fs", 1.0 + index * 0.5,
                  subject.uptime_s);
    std::string line = "\"" + thread.name + "\" #" + std::to_string(thread.number);
    line += thread.daemon ? " daemon" : "";
    line += " prio=" + std::to_string(thread.priority) + " os_prio=0 " + timing;
    line += " tid=" + thread_address(index) + " nid=" + hex(subject.pid + index, 0);
    line +=
        " " + thread.condition + "  [" + hex(0x00007f5a30000000ULL + index * 0x100000ULL, 16) + "]";
    return line;
}

std::string print_thread(const JavaThread& thread, int index, const DumpSubject& subject) {
    std::string text = header_line(thread, index, subject) + "\n";
    text += "   java.lang.Thread.State: " + thread.state + "\n";
    for (const auto& frame : thread.frames) {
        text += "\t" + frame + "\n";
    }
    return text + "\n";
}

/// The two threads of the simulated deadlock, each holding the monitor the other waits for.
std::vector<JavaThread> deadlocked_threads(int first_number) {
    const auto blocked = [&](const std::string& name, int number, int holds, int waits) {
        return JavaThread{
            name,
            number,
            false,
            5,
            "waiting for monitor entry",
            "BLOCKED (on object monitor)",
            {"at carbon.sim.Deployer.swap(Deployer.java:42)",
             "- waiting to lock <" + object_address(waits) + "> (a java.lang.Object)",
             "- locked <" + object_address(holds) + "> (a java.lang.Object)",
             "at java.lang.Thread.run(" + std::string(kJavaBase) + "/Thread.java:840)"}};
    };
    return {blocked("carbon-sim-deployer-1", first_number, 1, 2),
            blocked("carbon-sim-deployer-2", first_number + 1, 2, 1)};
}

std::vector<JavaThread> java_threads(const DumpSubject& subject) {
    const std::string base(kJavaBase);
    std::vector<JavaThread> threads{
        {"main",
         1,
         false,
         5,
         "waiting on condition",
         "WAITING (parking)",
         {"at jdk.internal.misc.Unsafe.park(" + base + "/Native Method)",
          "at java.util.concurrent.locks.LockSupport.park(" + base + "/LockSupport.java:341)",
          "at carbon.sim.Main.awaitShutdown(Main.java:88)"}},
        {"Reference Handler",
         2,
         true,
         10,
         "waiting on condition",
         "RUNNABLE",
         {"at java.lang.ref.Reference.waitForReferencePendingList(" + base + "/Native Method)"}},
        {"Signal Dispatcher", 4, true, 9, "waiting on condition", "RUNNABLE", {}},
    };
    int number = 20;
    for (const int port : subject.http_ports) {
        threads.push_back({"http-nio-" + std::to_string(port) + "-Acceptor",
                           number++,
                           true,
                           5,
                           "runnable",
                           "RUNNABLE",
                           {"at sun.nio.ch.Net.accept(" + base + "/Native Method)"}});
    }
    if (subject.deadlocked && !subject.http_ports.empty()) {
        // The request thread behind the cycle: why the health endpoints never answer.
        threads.push_back({"http-nio-" + std::to_string(subject.http_ports.front()) + "-exec-1",
                           number++,
                           true,
                           5,
                           "waiting for monitor entry",
                           "BLOCKED (on object monitor)",
                           {"at carbon.sim.VersionService.getVersion(VersionService.java:17)",
                            "- waiting to lock <" + object_address(1) + "> (a java.lang.Object)"}});
    }
    if (subject.deadlocked) {
        for (auto& thread : deadlocked_threads(number)) {
            threads.push_back(std::move(thread));
        }
    }
    return threads;
}

std::string smr_info(std::size_t count) {
    std::string text =
        "Threads class SMR info:\n_java_thread_list=" + hex(0x00007f5a1cff0000ULL, 16) +
        ", length=" + std::to_string(count) + ", elements={\n";
    for (std::size_t i = 0; i < count; ++i) {
        text += thread_address(static_cast<int>(i)) + (i + 1 < count ? ", " : "\n");
    }
    return text + "}\n\n";
}

/// HotSpot's own threads: no "#n", no Java state, no frames.
std::string vm_threads(const DumpSubject& subject) {
    std::string text;
    int index = 90;
    for (const char* name : {"VM Thread", "GC Thread#0"}) {
        char line[160];
        std::snprintf(line, sizeof line, "\"%s\" os_prio=0 cpu=1.00ms elapsed=%.2fs tid=", name,
                      subject.uptime_s);
        text += line + thread_address(index) + " nid=" + hex(subject.pid + index, 0) +
                " runnable  \n\n";
        ++index;
    }
    return text;
}

/// HotSpot's VM_FindDeadlocks report, printed after the threads when a cycle exists.
std::string deadlock_report(const std::vector<JavaThread>& cycle) {
    const auto& a = cycle[0];
    const auto& b = cycle[1];
    const auto waits = [](const JavaThread& t, int monitor, int object, const JavaThread& owner) {
        return "\"" + t.name + "\":\n  waiting to lock monitor " + monitor_address(monitor) +
               " (object " + object_address(object) +
               ", a java.lang.Object),\n  which is held by \"" + owner.name + "\"\n";
    };
    std::string text = "\nFound one Java-level deadlock:\n=============================\n";
    text += waits(a, 1, 2, b) + "\n" + waits(b, 2, 1, a);
    text +=
        "\nJava stack information for the threads listed above:\n"
        "===================================================\n";
    for (const auto& thread : cycle) {
        text += "\"" + thread.name + "\":\n";
        for (const auto& frame : thread.frames) {
            text += "\t" + frame + "\n";
        }
    }
    return text + "\nFound 1 deadlock.\n\n";
}

std::string heap_summary() {
    return "Heap\n garbage-first heap   total 262144K, used 65536K [0x00000000c0000000, "
           "0x0000000100000000)\n  region size 1024K, 8 young (8192K), 1 survivors (1024K)\n"
           " Metaspace       used 51200K, committed 52224K, reserved 1114112K\n\n";
}

}  // namespace

std::string thread_dump(const DumpSubject& subject, const std::string& local_time) {
    const auto threads = java_threads(subject);
    std::string text = local_time + "\n";
    text +=
        "Full thread dump OpenJDK 64-Bit Server VM (17.0.15+6-carbon-sim mixed mode, sharing):\n\n";
    text += smr_info(threads.size());
    for (std::size_t i = 0; i < threads.size(); ++i) {
        text += print_thread(threads[i], static_cast<int>(i), subject);
    }
    text += vm_threads(subject);
    text += "JNI global refs: 18, weak refs: 0\n\n";
    if (subject.deadlocked) {
        text += deadlock_report({threads.end() - 2, threads.end()});
    }
    return text + heap_summary();
}

std::string dump_local_time() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm local{};
#ifdef _WIN32
    local = *std::localtime(&now);  // one thread: no reentrancy to worry about
#else
    localtime_r(&now, &local);
#endif
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &local);
    return text;
}

}  // namespace carbon_sim
