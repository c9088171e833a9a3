#include "cgroup_paths.hpp"

#include <algorithm>
#include <charconv>
#include <limits>
#include <sstream>

namespace carbon {
namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    while (!text.empty()) {
        const std::size_t end = text.find('\n');
        lines.push_back(text.substr(0, end));
        if (end == std::string_view::npos) {
            break;
        }
        text.remove_prefix(end + 1);
    }
    return lines;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    std::size_t at = 0;
    while (at < line.size()) {
        const std::size_t start = line.find_first_not_of(' ', at);
        if (start == std::string_view::npos) {
            break;
        }
        const std::size_t end = std::min(line.find(' ', start), line.size());
        fields.push_back(line.substr(start, end - start));
        at = end;
    }
    return fields;
}

bool is_octal(char c) {
    return c >= '0' && c <= '7';
}

/// mountinfo writes a space, tab, newline and backslash in a path as \040, \011, \012, \134.
std::string unescape_mountinfo(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size() && is_octal(text[i + 1]) &&
            is_octal(text[i + 2]) && is_octal(text[i + 3])) {
            out += static_cast<char>((text[i + 1] - '0') * 64 + (text[i + 2] - '0') * 8 +
                                     (text[i + 3] - '0'));
            i += 3;
        } else {
            out += text[i];
        }
    }
    return out;
}

bool has_option(std::string_view options, std::string_view wanted) {
    while (!options.empty()) {
        const std::size_t comma = options.find(',');
        if (options.substr(0, comma) == wanted) {
            return true;
        }
        if (comma == std::string_view::npos) {
            break;
        }
        options.remove_prefix(comma + 1);
    }
    return false;
}

/// An absolute path of plain names: no empty, "." or ".." component ("/" itself is plain).
bool is_plain_absolute(const std::string& path) {
    if (path.empty() || path.front() != '/') {
        return false;
    }
    std::string_view rest(path);
    rest.remove_prefix(1);
    if (rest.empty()) {
        return true;
    }
    while (true) {
        const std::size_t slash = rest.find('/');
        const std::string_view part = rest.substr(0, slash);
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        if (slash == std::string_view::npos) {
            return true;
        }
        rest.remove_prefix(slash + 1);
    }
}

/// True when `inner` lies strictly below `outer` (both absolute, lexically normal).
bool strictly_below(const std::filesystem::path& inner, const std::filesystem::path& outer) {
    const auto [outer_end, inner_at] =
        std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end());
    return outer_end == outer.end() && inner_at != inner.end();
}

}  // namespace

std::vector<Cgroup2Mount> parse_cgroup2_mounts(std::string_view mountinfo) {
    std::vector<Cgroup2Mount> mounts;
    for (const std::string_view line : split_lines(mountinfo)) {
        // ID PARENT MAJ:MIN ROOT MOUNT_POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER_OPTIONS
        const auto fields = split_fields(line);
        const auto separator = std::find(fields.begin(), fields.end(), "-");
        if (fields.size() < 6 || separator - fields.begin() < 6 || fields.end() - separator < 2) {
            continue;
        }
        if (*(separator + 1) != "cgroup2") {
            continue;
        }
        Cgroup2Mount mount;
        mount.root = unescape_mountinfo(fields[3]);
        mount.mount_point = unescape_mountinfo(fields[4]);
        mount.read_only = has_option(fields[5], "ro");
        mounts.push_back(std::move(mount));
    }
    return mounts;
}

std::optional<std::string> parse_unified_cgroup(std::string_view proc_cgroup) {
    for (const std::string_view line : split_lines(proc_cgroup)) {
        if (line.substr(0, 3) == "0::") {
            return std::string(line.substr(3));
        }
    }
    return std::nullopt;
}

std::optional<std::filesystem::path> cgroup_directory(const Cgroup2Mount& mount,
                                                      const std::string& cgroup) {
    if (!is_plain_absolute(cgroup) || !is_plain_absolute(mount.root) ||
        !is_plain_absolute(mount.mount_point.generic_string())) {
        return std::nullopt;
    }
    std::string relative;
    if (mount.root == "/") {
        relative = cgroup.substr(1);
    } else if (cgroup == mount.root) {
        relative.clear();
    } else if (cgroup.rfind(mount.root + "/", 0) == 0) {
        relative = cgroup.substr(mount.root.size() + 1);
    } else {
        return std::nullopt;  // outside what this mount shows
    }
    return relative.empty() ? mount.mount_point : mount.mount_point / relative;
}

std::optional<Cgroup2Mount> choose_cgroup2_mount(const std::vector<Cgroup2Mount>& mounts,
                                                 const std::string& cgroup) {
    std::optional<Cgroup2Mount> chosen;
    for (const auto& mount : mounts) {
        if (!cgroup_directory(mount, cgroup)) {
            continue;
        }
        if (!chosen || (chosen->read_only && !mount.read_only)) {
            chosen = mount;
        }
    }
    return chosen;
}

std::vector<int> parse_cgroup_procs(std::string_view text) {
    std::vector<int> pids;
    for (const std::string_view line : split_lines(text)) {
        int pid = 0;
        const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), pid);
        if (error == std::errc() && end == line.data() + line.size() && pid > 0) {
            pids.push_back(pid);
        }
    }
    return pids;
}

std::optional<bool> parse_cgroup_populated(std::string_view events) {
    for (const std::string_view line : split_lines(events)) {
        const auto fields = split_fields(line);
        if (fields.size() == 2 && fields[0] == "populated") {
            if (fields[1] == "0" || fields[1] == "1") {
                return fields[1] == "1";
            }
        }
    }
    return std::nullopt;
}

std::set<std::string> parse_cgroup_controllers(std::string_view text) {
    std::set<std::string> controllers;
    for (const std::string_view line : split_lines(text)) {
        for (const std::string_view field : split_fields(line)) {
            controllers.emplace(field);
        }
    }
    return controllers;
}

std::string launcher_cgroup_name(const std::filesystem::path& state_dir) {
    // FNV-1a: stable across builds and platforms, which std::hash is not.
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (const char c : state_dir.lexically_normal().generic_string()) {
        hash ^= static_cast<unsigned char>(c);
        hash *= 0x100000001b3ULL;
    }
    std::ostringstream name;
    name << "carbon-launcher-" << std::hex;
    name.width(16);
    name.fill('0');
    name << hash;
    return name.str();
}

bool is_instance_cgroup_of(const std::filesystem::path& directory, const std::string& name,
                           const std::filesystem::path& mount_point,
                           const std::filesystem::path& state_dir) {
    // generic_string: '/' on every platform, so these pure checks read the same under Wine.
    if (name.empty() || !is_plain_absolute(directory.generic_string()) ||
        !is_plain_absolute(mount_point.generic_string()) || directory.filename() != name) {
        return false;
    }
    const std::filesystem::path parent = directory.parent_path();
    return strictly_below(parent, mount_point) &&
           parent.filename() == launcher_cgroup_name(state_dir);
}

std::optional<std::uint64_t> parse_memory_size(std::string_view text) {
    if (text.empty()) {
        return std::nullopt;
    }
    unsigned shift = 0;
    switch (text.back()) {
        case 'K':
            shift = 10;
            break;
        case 'M':
            shift = 20;
            break;
        case 'G':
            shift = 30;
            break;
        case 'T':
            shift = 40;
            break;
        default:
            break;
    }
    if (shift != 0) {
        text.remove_suffix(1);
    }
    std::uint64_t number = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    if (number > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
        return std::nullopt;
    }
    return number << shift;
}

}  // namespace carbon
