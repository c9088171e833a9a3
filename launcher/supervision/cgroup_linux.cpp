// cgroup v2 containment. Every path comes from /proc/self/mountinfo (where cgroup2 is mounted:
// /sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid system) and /proc/self/cgroup (the
// launcher's own cgroup); nothing is assumed.
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "cgroup_paths.hpp"
#include "supervision/cgroup.hpp"
#include "text_file.hpp"

namespace carbon {
namespace {

/// Without cgroup.kill: passes of "SIGKILL to every member not signalled yet". A SIGKILLed
/// process can no longer fork (the kernel refuses a fork with a fatal signal pending), so a
/// pass that finds no new member ends it; the bound stops a cgroup we cannot empty.
constexpr int kKillPasses = 16;

/// The controllers whose limits a profile can set ("limits": memory_max, pids_max).
const std::set<std::string> kLimitControllers = {"memory", "pids"};

std::string read_cgroup_file(const std::filesystem::path& file) {
    std::string error;
    return read_text_file(file, error).value_or("");
}

/// Writes `text` to a cgroup interface file in one write(), as the kernel wants; 0 or an errno.
int write_cgroup_file(const std::filesystem::path& file, const std::string& text) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    const ssize_t written = ::write(fd, text.data(), text.size());
    const int error = written < 0 ? errno : 0;
    ::close(fd);
    return error;
}

int make_directory(const std::filesystem::path& directory) {
    return ::mkdir(directory.c_str(), 0755) == 0 || errno == EEXIST ? 0 : errno;
}

std::string because(int error) {
    return std::strerror(error);
}

/// systemd marks a cgroup it delegates (Delegate=yes) with this extended attribute.
bool has_delegate_mark(const std::filesystem::path& cgroup) {
    for (const char* name : {"trusted.delegate", "user.delegate"}) {
        char value[8] = {};
        if (::getxattr(cgroup.c_str(), name, value, sizeof value - 1) > 0 && value[0] == '1') {
            return true;
        }
    }
    return false;
}

/// Delegated: marked so by systemd, or (for a user other than root, who can write anywhere)
/// owned by this user with cgroup.procs writable, which is what delegating a cgroup means.
bool is_delegated(const std::filesystem::path& cgroup) {
    if (has_delegate_mark(cgroup)) {
        return true;
    }
    struct stat info {};
    return ::geteuid() != 0 && ::stat(cgroup.c_str(), &info) == 0 && info.st_uid == ::geteuid() &&
           ::access(cgroup.c_str(), W_OK) == 0 &&
           ::access((cgroup / "cgroup.procs").c_str(), W_OK) == 0;
}

/// Turns on for the children of `cgroup` those of `wanted` its parent passes down; returns the
/// ones now on. A refusal (EBUSY: processes in `cgroup`) leaves that controller off.
std::set<std::string> enable_for_children(const std::filesystem::path& cgroup,
                                          const std::set<std::string>& wanted) {
    const auto available =
        parse_cgroup_controllers(read_cgroup_file(cgroup / "cgroup.controllers"));
    std::set<std::string> enabled;
    for (const auto& controller : wanted) {
        if (!available.count(controller)) {
            continue;
        }
        if (const int error =
                write_cgroup_file(cgroup / "cgroup.subtree_control", "+" + controller)) {
            spdlog::warn("cannot enable the {} controller in {}: {}", controller,
                         (cgroup / "cgroup.subtree_control").string(), because(error));
            continue;
        }
        enabled.insert(controller);
    }
    return enabled;
}

std::filesystem::path canonical_or_as_given(const std::filesystem::path& path) {
    std::error_code ec;
    auto canonical = std::filesystem::weakly_canonical(std::filesystem::absolute(path), ec);
    return ec ? path : canonical;
}

/// The no-internal-processes rule: a delegated cgroup can pass controllers down only once the
/// launcher has left it for a leaf of its own. Returns "" or what went wrong.
std::string move_into_leaf(const std::filesystem::path& own) {
    const std::filesystem::path leaf = own / kLauncherLeafName;
    int error = make_directory(leaf);
    if (error == 0) {
        error = write_cgroup_file(leaf / "cgroup.procs", "0");  // "0": the writer itself
    }
    return error == 0 ? "" : "cannot move itself into " + leaf.string() + ": " + because(error);
}

bool is_populated(const std::filesystem::path& cgroup) {
    if (const auto populated = parse_cgroup_populated(read_cgroup_file(cgroup / "cgroup.events"))) {
        return *populated;
    }
    return !parse_cgroup_procs(read_cgroup_file(cgroup / "cgroup.procs")).empty();
}

std::string joined(const std::set<std::string>& items) {
    std::string text;
    for (const auto& item : items) {
        text += (text.empty() ? "" : " ") + item;
    }
    return text;
}

/// Sends `signal` through a pidfd to each of `pids` that is still a member once its pidfd is
/// open: a pid that ended and was reused by a stranger in between is no longer listed.
int signal_if_still_member(const InstanceCgroup& cgroup, const std::vector<int>& pids, int signal) {
    std::vector<std::pair<int, int>> opened;  // pid, pidfd
    for (const int pid : pids) {
        const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (fd >= 0) {
            opened.emplace_back(pid, fd);
        }
    }
    const std::vector<int> now = cgroup.members();
    int signalled = 0;
    for (const auto& [pid, fd] : opened) {
        if (std::find(now.begin(), now.end(), pid) != now.end() &&
            ::syscall(SYS_pidfd_send_signal, fd, signal, nullptr, 0) == 0) {
            ++signalled;
        }
        ::close(fd);
    }
    return signalled;
}

int process_group_of(int pid) {
    const pid_t group = ::getpgid(pid);
    return group < 0 ? -1 : static_cast<int>(group);
}

}  // namespace

InstanceCgroup::InstanceCgroup(std::filesystem::path directory)
    : directory_(std::move(directory)) {}

InstanceCgroup::~InstanceCgroup() {
    if (procs_fd_ >= 0) {
        ::close(procs_fd_);
    }
    // Only an empty cgroup can be removed: one that still holds processes stays, and so does
    // its instance record, for the next launcher.
    if (::rmdir(directory_.c_str()) != 0 && errno != ENOENT && errno != EBUSY) {
        spdlog::warn("cannot remove cgroup {}: {}", directory_.string(), because(errno));
    }
}

void InstanceCgroup::open_procs_for_child() {
    const std::filesystem::path procs = directory_ / "cgroup.procs";
    procs_fd_ = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (procs_fd_ < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot open " + procs.string());
    }
}

std::vector<int> InstanceCgroup::members() const {
    return parse_cgroup_procs(read_cgroup_file(directory_ / "cgroup.procs"));
}

bool InstanceCgroup::populated() const {
    return is_populated(directory_);
}

bool InstanceCgroup::contains(int pid) const {
    const auto pids = members();
    return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

int InstanceCgroup::signal_members(int signal, int skip_group) const {
    std::vector<int> pids = members();
    if (skip_group > 0) {
        std::erase_if(pids, [skip_group](int pid) { return process_group_of(pid) == skip_group; });
    }
    return signal_if_still_member(*this, pids, signal);
}

std::string InstanceCgroup::kill() const {
    const std::filesystem::path kill_file = directory_ / "cgroup.kill";
    if (::access(kill_file.c_str(), F_OK) == 0) {
        if (const int error = write_cgroup_file(kill_file, "1"); error == 0) {
            return "cgroup.kill";
        } else {
            spdlog::warn("cannot write {}: {}; signalling each member instead", kill_file.string(),
                         because(error));
        }
    }
    std::set<int> signalled;
    for (int pass = 0; pass < kKillPasses; ++pass) {
        std::vector<int> fresh;
        for (const int pid : members()) {
            if (signalled.insert(pid).second) {
                fresh.push_back(pid);
            }
        }
        if (fresh.empty()) {
            break;
        }
        signal_if_still_member(*this, fresh, SIGKILL);
    }
    return "no cgroup.kill: SIGKILL to each of its " + std::to_string(signalled.size()) +
           " processes";
}

Containment::Containment(ContainmentMode mode, std::string reason)
    : mode_(mode), reason_(std::move(reason)) {}

std::shared_ptr<Containment> Containment::set_up(const std::filesystem::path& state_dir) {
    std::shared_ptr<Containment> containment(new Containment());
    containment->state_dir_ = canonical_or_as_given(state_dir);
    containment->mode_ = ContainmentMode::ProcessGroup;
    containment->reason_ = containment->try_cgroups();
    if (containment->mode_ != ContainmentMode::Cgroup) {
        containment->subtree_.clear();  // a subtree it could not create is not one
    }
    return containment;
}

// Cgroup mode, or why not (then the mode stays ProcessGroup). In cgroup mode the text returned
// says why limits cannot apply, when they cannot.
std::string Containment::try_cgroups() {
    const auto mounts = parse_cgroup2_mounts(read_cgroup_file("/proc/self/mountinfo"));
    if (mounts.empty()) {
        return "no cgroup2 file system is mounted (/proc/self/mountinfo)";
    }
    const auto own = parse_unified_cgroup(read_cgroup_file("/proc/self/cgroup"));
    if (!own) {
        return "the launcher has no cgroup v2 path (no \"0::\" line in /proc/self/cgroup)";
    }
    const auto mount = choose_cgroup2_mount(mounts, *own);
    if (!mount) {
        return "its cgroup " + *own + " is not visible under any cgroup2 mount";
    }
    mount_point_ = mount->mount_point;
    if (mount->read_only) {
        return "the cgroup2 mount " + mount_point_.string() +
               " is read-only (in a systemd unit: ProtectControlGroups=)";
    }
    const std::filesystem::path own_dir = *cgroup_directory(*mount, *own);
    const bool delegated = is_delegated(own_dir);
    if (!delegated && ::geteuid() != 0) {
        return "its cgroup " + own_dir.string() +
               " is not delegated to it and it does not run as root; run it as a systemd "
               "service with Delegate=yes (as the shipped unit does), or as root";
    }
    std::set<std::string> passed_down = kLimitControllers;
    if (delegated) {
        if (std::string problem = move_into_leaf(own_dir); !problem.empty()) {
            return problem;
        }
        passed_down = enable_for_children(own_dir, kLimitControllers);
    }
    subtree_ = own_dir / launcher_cgroup_name(state_dir_);
    if (const int error = make_directory(subtree_)) {
        return "cannot create " + subtree_.string() + ": " + because(error);
    }
    mode_ = ContainmentMode::Cgroup;
    controllers_ = enable_for_children(subtree_, passed_down);
    if (controllers_ == kLimitControllers) {
        return "";
    }
    return own_dir.string() + " does not pass down the controllers " +
           (delegated ? "" : "(cgroup.subtree_control) ") + "that \"limits\" need" +
           (delegated ? "" : "; run the launcher in a unit with Delegate=yes");
}

Containment::~Containment() {
    remove_empty_subtree();
}

void Containment::remove_empty_subtree() const {
    if (mode_ != ContainmentMode::Cgroup) {
        return;
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(subtree_, ec)) {
        if (entry.is_directory(ec)) {
            ::rmdir(entry.path().c_str());  // fails, as it should, for one with processes
        }
    }
    ::rmdir(subtree_.c_str());
}

std::string Containment::describe() const {
    switch (mode_) {
        case ContainmentMode::Cgroup:
            return "one cgroup per instance under " + subtree_.string() +
                   (controllers_.empty()
                        ? ""
                        : " (controllers for limits: " + joined(controllers_) + ")") +
                   (reason_.empty() ? "" : "; " + reason_);
        case ContainmentMode::ProcessGroup:
            return "one process group per instance (a process that calls setsid() escapes a "
                   "stop), because " +
                   reason_;
        case ContainmentMode::JobObject:
            return "one job object per instance";
    }
    return "";
}

nlohmann::json Containment::status() const {
    return {
        {"mode", to_string(mode_)},
        {"cgroup", subtree_.empty() ? nlohmann::json(nullptr) : nlohmann::json(subtree_.string())},
        {"controllers", std::vector<std::string>(controllers_.begin(), controllers_.end())},
        {"reason", reason_}};
}

std::shared_ptr<InstanceCgroup> Containment::create(const std::string& name,
                                                    const ResourceLimits& limits) {
    if (mode_ != ContainmentMode::Cgroup) {
        if (!limits.empty() && limits_warned_.insert(name).second) {
            spdlog::warn("{}: \"limits\" are not applied: they need a cgroup, and {}", name,
                         reason_);
        }
        return nullptr;
    }
    const std::filesystem::path directory = subtree_ / name;
    if (const int error = make_directory(directory)) {
        throw std::system_error(error, std::generic_category(),
                                "cannot create cgroup " + directory.string());
    }
    auto cgroup = std::make_shared<InstanceCgroup>(directory);
    if (const auto left = cgroup->members(); !left.empty()) {
        throw std::system_error(
            EBUSY, std::generic_category(),
            "cgroup " + directory.string() + " still holds " + std::to_string(left.size()) +
                " processes of an earlier run (pid " + std::to_string(left.front()) + ")");
    }
    apply_limits(*cgroup, name, limits);
    cgroup->open_procs_for_child();
    return cgroup;
}

void Containment::apply_limits(const InstanceCgroup& cgroup, const std::string& name,
                               const ResourceLimits& limits) {
    struct Limit {
        const char* field;
        const char* controller;
        const char* file;
        std::optional<std::uint64_t> value;
    };
    for (const Limit& limit : {Limit{"memory_max", "memory", "memory.max", limits.memory_max},
                               Limit{"pids_max", "pids", "pids.max", limits.pids_max}}) {
        if (!limit.value) {
            continue;
        }
        if (!controllers_.count(limit.controller)) {
            if (limits_warned_.insert(name + "/" + limit.field).second) {
                spdlog::warn(
                    "{}: limits.{} is not applied: the {} controller is not enabled in {} ({})",
                    name, limit.field, limit.controller, subtree_.string(), reason_);
            }
            continue;
        }
        const auto file = cgroup.directory() / limit.file;
        if (const int error = write_cgroup_file(file, std::to_string(*limit.value))) {
            throw std::system_error(
                error, std::generic_category(),
                "cannot write " + std::to_string(*limit.value) + " into " + file.string());
        }
    }
}

bool Containment::may_hold(const std::filesystem::path& directory, const std::string& name) const {
    return !mount_point_.empty() &&
           is_instance_cgroup_of(directory, name, mount_point_, state_dir_);
}

std::vector<std::filesystem::path> Containment::populated_instance_cgroups() const {
    std::vector<std::filesystem::path> populated;
    if (mode_ != ContainmentMode::Cgroup) {
        return populated;
    }
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(subtree_, ec)) {
        if (entry.is_directory(ec) && is_populated(entry.path())) {
            populated.push_back(entry.path());
        }
    }
    std::sort(populated.begin(), populated.end());
    return populated;
}

}  // namespace carbon
