#pragma once

// Windows only: starting a child whose standard handles are the only ones it inherits.
#include <windows.h>

#include <string>

namespace carbon {

/// The step at which create_redirected_process failed, so that each caller words it its own way.
enum class RedirectedStartStep {
    OpenNullInput,      // CreateFileW("NUL")
    PrepareHandleList,  // InitializeProcThreadAttributeList
    SetHandleList,      // UpdateProcThreadAttribute(PROC_THREAD_ATTRIBUTE_HANDLE_LIST)
    StartProcess,       // CreateProcessW
};

/// The started process (its two handles are the caller's to close), or the failed step and
/// Windows' error code for it.
struct RedirectedProcess {
    bool started = false;
    PROCESS_INFORMATION info{};
    RedirectedStartStep failed_step = RedirectedStartStep::StartProcess;
    DWORD error = 0;
};

/// CreateProcessW with stdin from NUL and stdout and stderr into `output`, and with those two as
/// the only handles the child inherits: any other inheritable handle the launcher holds at that
/// moment (another child's pipe end) stays out of it. `flags` are the caller's creation flags
/// (EXTENDED_STARTUPINFO_PRESENT is added); `environment` (a CREATE_UNICODE_ENVIRONMENT block)
/// and `cwd` may be null for the launcher's own. `command_line` is CreateProcessW's writable
/// buffer.
RedirectedProcess create_redirected_process(const wchar_t* application, std::wstring& command_line,
                                            DWORD flags, const wchar_t* environment,
                                            const wchar_t* cwd, HANDLE output);

}  // namespace carbon
