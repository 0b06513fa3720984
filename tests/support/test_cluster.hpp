// A throwaway PostgreSQL cluster per test binary (wal_level=logical, started on first use,
// deleted at exit) and fresh databases in it, so tests never share state.
#pragma once

#include <filesystem>
#include <string>

namespace flashsale::test {

/// libpq URL of a new, empty database in this binary's private cluster.
std::string fresh_database();

/// A new empty folder, removed when the test binary exits.
std::filesystem::path temp_dir();

}  // namespace flashsale::test
