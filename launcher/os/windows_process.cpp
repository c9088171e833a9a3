#include "os/windows_process.hpp"

#include <memory>
#include <vector>

namespace carbon {
namespace {

struct NullInputCloser {
    void operator()(HANDLE handle) const {
        if (handle != nullptr && handle != INVALID_HANDLE_VALUE) {
            ::CloseHandle(handle);
        }
    }
};
using NullInput = std::unique_ptr<void, NullInputCloser>;

NullInput open_inheritable_null_input() {
    SECURITY_ATTRIBUTES inheritable{sizeof(SECURITY_ATTRIBUTES), nullptr, TRUE};
    return NullInput(::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE,
                                   &inheritable, OPEN_EXISTING, 0, nullptr));
}

RedirectedProcess failed_at(RedirectedStartStep step, DWORD error) {
    RedirectedProcess failure;
    failure.failed_step = step;
    failure.error = error;
    return failure;
}

STARTUPINFOEXW redirected_startup(HANDLE input, HANDLE output,
                                  LPPROC_THREAD_ATTRIBUTE_LIST attributes) {
    STARTUPINFOEXW startup{};
    startup.StartupInfo.cb = sizeof startup;
    startup.StartupInfo.dwFlags = STARTF_USESTDHANDLES;
    startup.StartupInfo.hStdInput = input;
    startup.StartupInfo.hStdOutput = output;
    startup.StartupInfo.hStdError = output;
    startup.lpAttributeList = attributes;
    return startup;
}

}  // namespace

RedirectedProcess create_redirected_process(const wchar_t* application, std::wstring& command_line,
                                            DWORD flags, const wchar_t* environment,
                                            const wchar_t* cwd, HANDLE output) {
    const NullInput null_input = open_inheritable_null_input();
    if (null_input.get() == INVALID_HANDLE_VALUE) {
        return failed_at(RedirectedStartStep::OpenNullInput, ::GetLastError());
    }
    SIZE_T attributes_size = 0;
    ::InitializeProcThreadAttributeList(nullptr, 1, 0, &attributes_size);  // the size only
    std::vector<char> attributes_buffer(attributes_size);
    auto* attributes = reinterpret_cast<LPPROC_THREAD_ATTRIBUTE_LIST>(attributes_buffer.data());
    if (!::InitializeProcThreadAttributeList(attributes, 1, 0, &attributes_size)) {
        return failed_at(RedirectedStartStep::PrepareHandleList, ::GetLastError());
    }
    // The list points at this array: it has to outlive CreateProcessW.
    HANDLE inherited[] = {null_input.get(), output};
    RedirectedProcess result;
    if (!::UpdateProcThreadAttribute(attributes, 0, PROC_THREAD_ATTRIBUTE_HANDLE_LIST, inherited,
                                     sizeof inherited, nullptr, nullptr)) {
        result = failed_at(RedirectedStartStep::SetHandleList, ::GetLastError());
    } else {
        auto startup = redirected_startup(null_input.get(), output, attributes);
        // CreateProcessW only reads the environment block; its parameter is not const.
        result.started = ::CreateProcessW(application, command_line.data(), nullptr, nullptr, TRUE,
                                          flags | EXTENDED_STARTUPINFO_PRESENT,
                                          const_cast<wchar_t*>(environment), cwd,
                                          &startup.StartupInfo, &result.info);
        if (!result.started) {
            result = failed_at(RedirectedStartStep::StartProcess, ::GetLastError());
        }
    }
    ::DeleteProcThreadAttributeList(attributes);
    return result;
}

}  // namespace carbon
