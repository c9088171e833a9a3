// Process facts on Windows. There is no /proc: a pid file is checked against the live
// process's creation time instead of its command line.
#include <windows.h>

#include <cstdlib>

#include "os/process_probe.hpp"
#include "text_file.hpp"

namespace carbon {

std::optional<int> live_runtime_pid(const std::filesystem::path& pid_file,
                                    const std::filesystem::path&) {
    std::string error;
    const auto text = read_text_file(pid_file, error);
    if (!text) {
        return std::nullopt;
    }
    const int pid = std::atoi(text->c_str());  // stops at the NUL padding
    if (pid <= 0) {
        return std::nullopt;
    }
    HANDLE process = ::OpenProcess(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                                   static_cast<DWORD>(pid));
    if (process == nullptr) {
        return std::nullopt;
    }
    FILETIME created{}, exited{}, kernel{}, user{};
    const bool alive = ::WaitForSingleObject(process, 0) == WAIT_TIMEOUT &&
                       ::GetProcessTimes(process, &created, &exited, &kernel, &user);
    ::CloseHandle(process);
    if (!alive) {
        return std::nullopt;
    }
    // The JVM writes its pid file after it starts. A live process created after the file was
    // last written cannot have written it: Windows reused a stale file's pid.
    WIN32_FILE_ATTRIBUTE_DATA attributes{};
    if (!::GetFileAttributesExW(pid_file.wstring().c_str(), GetFileExInfoStandard, &attributes) ||
        ::CompareFileTime(&created, &attributes.ftLastWriteTime) > 0) {
        return std::nullopt;
    }
    return pid;
}

std::optional<FileStamp> file_stamp(const std::filesystem::path& file) {
    WIN32_FILE_ATTRIBUTE_DATA attributes{};
    if (!::GetFileAttributesExW(file.wstring().c_str(), GetFileExInfoStandard, &attributes) ||
        (attributes.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0) {
        return std::nullopt;
    }
    const auto join = [](DWORD high, DWORD low) {
        return static_cast<std::int64_t>((static_cast<std::uint64_t>(high) << 32) | low);
    };
    return FileStamp{join(attributes.ftLastWriteTime.dwHighDateTime,
                          attributes.ftLastWriteTime.dwLowDateTime) *
                         100,  // 100 ns units
                     join(attributes.nFileSizeHigh, attributes.nFileSizeLow)};
}

std::optional<ProcStat> read_proc_stat(int) {
    return std::nullopt;  // no /proc; instance records are for Linux's leftover check only
}

bool become_child_subreaper() {
    return true;  // every instance's Job Object already holds all its descendants
}

}  // namespace carbon
