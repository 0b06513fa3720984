// A throwaway PostgreSQL cluster per test binary (wal_level=logical, started on first use,
// deleted at exit) and fresh databases in it, so tests never share state.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace flashsale::test {

/// libpq URL of a new, empty database in this binary's private cluster.
std::string fresh_database();

/// Loads the plugins `files` (names in the build's plugin folder) as `flashsale serve` would and
/// lets each apply its migrations to `url`, as start-up does.
void migrate_plugins(const std::string& url, const std::vector<std::string>& files);

/// A new empty folder, removed when the test binary exits.
std::filesystem::path temp_dir();

/// The whole of a file (a log, a config), or empty if it cannot be opened.
std::string read_file(const std::filesystem::path& path);

}  // namespace flashsale::test
