#pragma once

#include <string>

namespace carbon {

/// UTF-8 <-> UTF-16 for the Win32 W functions (Windows only).
std::wstring widen(const std::string& text);
std::string narrow(const std::wstring& text);
/// An environment variable of this process, "" when unset.
std::wstring environment_variable(const wchar_t* name);
/// The message Windows has for an error code, without the trailing line break.
std::string windows_error_text(unsigned long code);

}  // namespace carbon
