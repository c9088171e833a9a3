#include "os/wait_status.hpp"

#include <sys/wait.h>

namespace carbon {

ExitStatus exit_status_from_wait(int status) {
    if (WIFSIGNALED(status)) {
        return {true, WTERMSIG(status)};
    }
    return {false, WEXITSTATUS(status)};
}

}  // namespace carbon
