#include "planning/start_guard.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "diagnostics.hpp"

#ifdef _WIN32
#include <windows.h>
#endif

namespace fs = std::filesystem;

namespace carbon {
namespace {

enum class TmpKind { Missing, Folder, File, Link, Other, Unreadable };

struct TmpState {
    TmpKind kind;
    std::string detail;  // a link's target, or why the folder could not be checked
};

std::string lower(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return text;
}

fs::path tmp_of(const Profile& profile) {
    return profile.home / "tmp";
}

std::string link_target(const fs::path& link) {
    std::error_code ec;
    const fs::path target = fs::read_symlink(link, ec);
    return ec ? std::string() : " to " + target.string();
}

TmpState inspect(const fs::path& tmp) {
#ifdef _WIN32
    // A junction or a directory symlink: std::filesystem does not always call a junction a
    // symlink, but the file system marks both as reparse points.
    const DWORD attributes = ::GetFileAttributesW(tmp.wstring().c_str());
    if (attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
        return {TmpKind::Link, link_target(tmp)};
    }
#endif
    std::error_code ec;
    const fs::file_status status = fs::symlink_status(tmp, ec);
    switch (status.type()) {
        case fs::file_type::not_found:
            return {TmpKind::Missing, ""};
        case fs::file_type::directory:
            return {TmpKind::Folder, ""};
        case fs::file_type::symlink:
            return {TmpKind::Link, link_target(tmp)};
        case fs::file_type::regular:
            return {TmpKind::File, ""};
        case fs::file_type::none:
            return {TmpKind::Unreadable, ec ? ec.message() : "unknown error"};
        default:
            return {TmpKind::Other, ""};
    }
}

/// What is wrong with `state`, or "" when the script may run.
std::string problem(const Profile& profile, const fs::path& tmp, const TmpState& state) {
    const std::string script = profile.script.filename().string();
    const std::string why = script + " enters " + tmp.string() +
                            " and deletes every file and folder under the folder it is in";
    const std::string untouched = "Nothing was started and nothing was deleted.";
    switch (state.kind) {
        case TmpKind::Missing:
        case TmpKind::Folder:
            return "";
        case TmpKind::File:
            return tmp.string() + " is a file, not a folder: " + why +
                   ", so it would delete the whole home " + profile.home.string() + ". " +
                   untouched + " Move the file " + tmp.string() +
                   " away and create an empty folder named tmp in " + "its place.";
        case TmpKind::Link:
            return tmp.string() + " is a link or junction" + state.detail +
                   ", not a plain folder: " + why +
                   ", so it would empty the folder the link points " + "to. " + untouched +
                   " Remove the link (rmdir \"" + tmp.string() +
                   "\" removes a junction, not its target) and create an empty folder named tmp "
                   "in " +
                   "its place.";
        case TmpKind::Other:
            return tmp.string() + " is neither a folder nor a file: " + why + ". " + untouched +
                   " Replace it with an empty folder named tmp.";
        case TmpKind::Unreadable:
            return "cannot check " + tmp.string() + " (" + state.detail + "): " + why +
                   ", and a tmp that is not a folder would make that the whole home. " + untouched +
                   " Make the folder readable by the launcher.";
    }
    return "";
}

}  // namespace

bool starts_through_batch_file(const Profile& profile) {
    const std::string extension = lower(profile.script.extension().string());
    return extension == ".bat" || extension == ".cmd";
}

std::string check_home_before_run(const Profile& profile) {
    if (!starts_through_batch_file(profile)) {
        return "";
    }
    const fs::path tmp = tmp_of(profile);
    return problem(profile, tmp, inspect(tmp));
}

std::string prepare_home_for_start(const Profile& profile) {
    if (!starts_through_batch_file(profile)) {
        return "";
    }
    const fs::path tmp = tmp_of(profile);
    TmpState state = inspect(tmp);
    if (state.kind == TmpKind::Missing) {
        std::error_code ec;
        fs::create_directory(tmp, ec);
        if (ec) {
            return "cannot create " + tmp.string() + " (" + ec.message() +
                   "): " + profile.script.filename().string() +
                   " enters it and deletes everything " +
                   "under the folder it is in, so without it the whole home " +
                   profile.home.string() + " would be deleted. Nothing was started and nothing " +
                   "was deleted. Create the folder by hand.";
        }
        spdlog::info("{}: created {} (the folder {} empties at each start)", profile.name,
                     tmp.string(), profile.script.filename().string());
        state = inspect(tmp);  // what is there now, whoever made it
        if (state.kind == TmpKind::Missing) {
            return tmp.string() + " is still missing after it was created. Nothing was started " +
                   "and nothing was deleted.";
        }
    }
    return problem(profile, tmp, state);
}

void require_homes_safe_to_start(const std::vector<Profile>& profiles) {
    std::vector<Diagnostic> diagnostics;
    for (const auto& profile : profiles) {
        if (std::string why = check_home_before_run(profile); !why.empty()) {
            diagnostics.push_back({profile.source, "/home", std::move(why)});
        }
    }
    if (!diagnostics.empty()) {
        throw ConfigError(std::move(diagnostics));
    }
}

}  // namespace carbon
