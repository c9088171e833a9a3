#pragma once
// Linux only (spawn_posix.cpp includes it on Linux).
//
// vfork() that starts the child in its cgroup: clone3 with CLONE_VM | CLONE_VFORK |
// CLONE_INTO_CGROUP (Linux 5.7+).
//
// Why: a child that moves itself in by writing cgroup.procs makes the kernel take the write side
// of the cgroup threadgroup lock, which waits for an RCU grace period: 1.8 ms of each spawn on
// the reference VM, against 0.35 ms for a child born in its cgroup (README, "Restart latency").
//
// Use, inside the frame that must stay the child's until it execs:
//     clone_args args = vfork_into_cgroup_args(cgroup_directory_fd);
//     pid_t pid = pid_or_errno(carbon_vfork_into_cgroup(&args, sizeof args));
// Same contract as vfork(): it returns twice, 0 in the child, which borrows the caller's memory
// and stack until it execs or _exits and must never return from that frame. (GCC will not
// inline a function that calls one that returns twice, hence no wrapper around the call.)

#include <linux/sched.h>
#include <signal.h>
#include <sys/types.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

/// Returns the child's pid, 0 in the child, or -errno: -ENOSYS where this build has no such
/// call (other than x86-64) or the kernel has none; the caller then vforks and the child writes
/// cgroup.procs itself.
extern "C" __attribute__((returns_twice)) long carbon_vfork_into_cgroup(struct clone_args* args,
                                                                        std::size_t size);

#if defined(__SANITIZE_ADDRESS__)
// AddressSanitizer's own vfork() calls this in the parent: the child ran on the parent's stack
// and left its shadow memory poisoned below the parent's frame.
extern "C" void __asan_handle_vfork(void* stack_pointer);
#endif

namespace carbon {

inline struct clone_args vfork_into_cgroup_args(int cgroup_directory_fd) {
    struct clone_args args {};
    args.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
    args.exit_signal = SIGCHLD;
    args.cgroup = static_cast<std::uint64_t>(cgroup_directory_fd);
    return args;
}

/// carbon_vfork_into_cgroup's result as vfork() gives it: -1 and errno on failure.
inline pid_t pid_or_errno(long result) {
    if (result < 0) {
        errno = static_cast<int>(-result);
        return -1;
    }
#if defined(__SANITIZE_ADDRESS__)
    if (result > 0) {
        __asan_handle_vfork(__builtin_frame_address(0));
    }
#endif
    return static_cast<pid_t>(result);
}

}  // namespace carbon
