#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "split_topology.hpp"

namespace carbon {

/// A TOML table by its dotted path ({"apim", "event_hub"}), or an element of an array of
/// tables ([[apim.throttling.url_group]]).
struct TomlPlace {
    std::vector<std::string> table;
    bool array_of_tables = false;
    std::size_t element = 0;  // arrays of tables: which element, 0-based
    /// "[apim.event_hub]" or "[[apim.throttling.url_group]] #2": how messages name it.
    std::string describe() const;
};

/// "apim.event_hub" -> {"apim", "event_hub"} (bare keys only, as the runtime tables write them).
std::vector<std::string> split_toml_path(const std::string& dotted);

/// A value found in a TOML file.
struct TomlFound {
    std::optional<WiringValue> value;  // nullopt: a type a wiring setting never holds
    std::string text;                  // as a plan shows it
};

/// A parsed TOML file, read only (toml++ stays inside toml_edit.cpp).
class TomlDocument {
  public:
    /// Throws ConfigError naming `source` when `text` is not valid TOML.
    TomlDocument(const std::string& text, const std::filesystem::path& source);
    ~TomlDocument();
    TomlDocument(TomlDocument&&) noexcept;
    TomlDocument& operator=(TomlDocument&&) noexcept;

    /// The value of `key` at `place`, or nullopt when the table, the element or the key is
    /// absent. A table below an array of tables is its last element's, as in TOML.
    std::optional<TomlFound> find(const TomlPlace& place, const std::string& key) const;
    /// How many elements the array of tables `table` has (0 when absent).
    std::size_t array_size(const std::vector<std::string>& table) const;
    /// True when the table exists (a plain table or an array of tables).
    bool has_table(const std::vector<std::string>& table) const;

  private:
    struct Tree;
    std::unique_ptr<Tree> tree_;
};

/// One value to write.
struct TomlAssignment {
    TomlPlace place;
    std::string key;
    WiringValue value;
};

/// The number of elements an array of tables must have after the edit.
struct TomlArrayShape {
    std::vector<std::string> table;
    std::size_t count = 0;
    bool create = true;  // false: the file must already have exactly `count` elements
    std::string why;     // for a refusal: "one per traffic manager: tm-1, tm-2"
};

/// Writes every assignment into `text` with the smallest change: an active key's value is
/// replaced (the rest of its line kept); a key that is absent or commented out in its table
/// (`#key = ...`) is uncommented in place or inserted after the table's last key; a table that
/// is absent is uncommented (`#[table]` with only comments below it) or appended at the end. An
/// array of tables without elements gets `count` of them the same way. The result is re-parsed
/// with toml++ and compared with the original tree with exactly these assignments made; anything
/// else is refused. Refused too, naming the table and the fix: a table written inline
/// (`key_manager = {...}`) or by dotted keys, an array of tables with another number of
/// elements than wanted, a multi-line string value. Throws ConfigError naming `source`;
/// nothing is half done: the text comes back complete or not at all.
std::string apply_toml_assignments(const std::string& text,
                                   const std::vector<TomlArrayShape>& shapes,
                                   const std::vector<TomlAssignment>& assignments,
                                   const std::filesystem::path& source);

}  // namespace carbon
