#pragma once

#include <filesystem>

namespace carbon {

/// Where the package keeps the Ansible role, playbook and inventory:
/// <prefix>/share/carbon-launcher/ansible beside the binary (the build tree has the same layout).
std::filesystem::path find_shipped_ansible_dir();

/// `carbon-launcher export ansible --out DIR`: copies the shipped Ansible files from `shipped`
/// into `out_dir`. The role (roles/) belongs to the launcher: every export replaces it with this
/// version's. The playbook, inventory and host_vars are examples that the operator edits: once
/// they exist they are kept. Prints one line per file. ExitError (74) when the shipped files
/// are missing or a file cannot be read or written.
int export_ansible(const std::filesystem::path& shipped, const std::filesystem::path& out_dir);

}  // namespace carbon
