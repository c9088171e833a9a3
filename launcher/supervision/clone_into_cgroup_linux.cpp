// The one piece of assembly in the project (see clone_into_cgroup.hpp).
#include "supervision/clone_into_cgroup.hpp"

#include <sys/syscall.h>

#if defined(__x86_64__)

static_assert(SYS_clone3 == 435, "the number the assembly below uses");

// Written the way glibc writes vfork(): the return address is kept in a register across the
// system call. The child runs first on the same stack, returns through the same slot and then
// writes its own calls over it, so the parent, resumed later, must not read it from there.
// %rdx is not an argument of clone3 and the kernel restores it in both processes.
__asm__(
    ".text\n"
    ".globl carbon_vfork_into_cgroup\n"
    ".type carbon_vfork_into_cgroup, @function\n"
    "carbon_vfork_into_cgroup:\n"
    "    popq %rdx\n"
    "    movl $435, %eax\n"
    "    syscall\n"
    "    pushq %rdx\n"
    "    ret\n"
    ".size carbon_vfork_into_cgroup, .-carbon_vfork_into_cgroup\n");

#else

extern "C" long carbon_vfork_into_cgroup(struct clone_args*, std::size_t) {
    return -ENOSYS;
}

#endif
