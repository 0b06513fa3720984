// See embedded_postgres.hpp.
#include "embedded_postgres.hpp"

#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <flashsale/pg/connection.hpp>
#include <fstream>
#include <functional>
#include <optional>
#include <stdexcept>

#include "log.hpp"
#include "process.hpp"

namespace flashsale {
namespace fs = std::filesystem;
namespace {

constexpr const char* kOwner = "postgres";

fs::path find_bin_dir() {
  fs::path best;
  int best_version = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const int version = std::atoi(entry.path().filename().c_str());
    if (version > best_version && fs::exists(entry.path() / "bin" / "initdb")) {
      best_version = version;
      best = entry.path() / "bin";
    }
  }
  if (best.empty()) {
    throw std::runtime_error(
        "embedded PostgreSQL: no initdb under /usr/lib/postgresql/*/bin (apt-get install "
        "postgresql, or set database.embedded.bin_dir, or database.url for an existing server)");
  }
  return best;
}

std::uint16_t free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    throw std::runtime_error("embedded PostgreSQL: cannot find a free local port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

bool writable_by_owner(const fs::path& dir) {
  std::string output;
  return process::run({"runuser", "-u", kOwner, "--", "test", "-w", dir.string()}, output) == 0;
}

// Settings rewritten at every start, so an upgrade of the service updates old clusters too.
std::string settings(std::uint16_t port) {
  return "# Written by flashsale at each start; edits are lost.\n"
         "port = " +
         std::to_string(port) +
         "\n"
         "listen_addresses = '127.0.0.1'\n"
         "unix_socket_directories = ''\n"
         "wal_level = logical\n"
         "max_wal_senders = 10\n"
         "max_replication_slots = 10\n"
         "max_connections = 200\n"
         // A stalled event source must not fill the disk with WAL (docs/operations.md).
         "max_slot_wal_keep_size = 1GB\n"
         "shared_buffers = 256MB\n";
}

// Who runs the cluster in a data folder: "<pid> <port>" in flashsale.owner, written at start.
constexpr const char* kOwnerFile = "flashsale.owner";

// The port of the cluster in `dir` if the flashsale process that started it still runs.
std::optional<std::uint16_t> live_owner_port(const fs::path& dir) {
  std::ifstream in(dir / kOwnerFile);
  pid_t pid = 0;
  unsigned port = 0;
  if (!(in >> pid >> port) || pid <= 0 || pid == getpid() || port == 0 || port > 65535) {
    return std::nullopt;
  }
  // The program's name, not /proc/<pid>/comm: that is the name of its main thread, which runs
  // a listener.
  std::error_code error;
  const auto exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", error);
  if (error || exe.filename().string().rfind("flashsale", 0) != 0) return std::nullopt;
  return static_cast<std::uint16_t>(port);
}

}  // namespace

EmbeddedPostgres::EmbeddedPostgres(const Options& options)
    : bin_dir_(options.bin_dir.empty() ? find_bin_dir() : options.bin_dir) {
  dir_ = fs::absolute(options.dir).lexically_normal();
  if (geteuid() == 0) {
    const passwd* pw = getpwnam(kOwner);
    if (pw == nullptr) {
      throw std::runtime_error(
          "embedded PostgreSQL: running as root needs the 'postgres' system user to own the "
          "cluster (apt-get install postgresql creates it)");
    }
    run_as_ = kOwner;
    fs::create_directories(dir_);
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0 || !writable_by_owner(dir_)) {
      // A private parent folder such as /root keeps the postgres user out: use a folder it can
      // reach.
      const fs::path fallback = fs::path("/var/lib/flashsale") /
                                ("pg-" + std::to_string(std::hash<std::string>{}(dir_.string())));
      log::warn("embedded PostgreSQL: the postgres user cannot reach " + dir_.string() +
                " (a parent folder is private); using " + fallback.string() + " instead");
      dir_ = fallback;
      fs::create_directories(dir_);
      if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("embedded PostgreSQL: cannot give " + dir_.string() +
                                 " to postgres");
      }
    }
  } else {
    fs::create_directories(dir_);
  }
  fs::permissions(dir_, fs::perms::owner_all);  // initdb and postgres insist on 0700

  if (!fs::exists(dir_ / "PG_VERSION")) {
    log::info("embedded PostgreSQL: initializing a new cluster in " + dir_.string());
    run_tool({(bin_dir_ / "initdb").string(), "-D", dir_.string(), "-U", "flashsale", "-A", "trust",
              "-E", "UTF8", "--no-locale", "--no-instructions"});
    std::ofstream(dir_ / "postgresql.conf", std::ios::app) << "\ninclude 'flashsale.conf'\n";
  }
  // Another replica's cluster: using it is fine, taking it over is not.
  if (const auto port = live_owner_port(dir_);
      port && tool_succeeds({(bin_dir_ / "pg_ctl").string(), "-D", dir_.string(), "status"})) {
    throw std::runtime_error(
        "embedded PostgreSQL: " + dir_.string() +
        " belongs to a flashsale that is running; to run another replica on its database, give "
        "this one database.url (FLASHSALE_DATABASE_URL=" +
        url_for(*port) +
        ") and listen ports of its own (FLASHSALE_HTTP_LISTEN, FLASHSALE_ADMIN_LISTEN)");
  }
  const std::uint16_t port = free_port();
  {
    std::ofstream conf(dir_ / "flashsale.conf", std::ios::trunc);
    conf << settings(port);
    if (!conf)
      throw std::runtime_error("embedded PostgreSQL: cannot write " +
                               (dir_ / "flashsale.conf").string());
  }
  // A cluster left running by a flashsale that was killed holds the data folder: stop it.
  if (tool_succeeds({(bin_dir_ / "pg_ctl").string(), "-D", dir_.string(), "status"})) {
    log::warn("embedded PostgreSQL: a cluster from an earlier run is still up; stopping it");
    run_tool({(bin_dir_ / "pg_ctl").string(), "-D", dir_.string(), "-m", "fast", "-w", "stop"});
  }
  run_tool({(bin_dir_ / "pg_ctl").string(), "-D", dir_.string(), "-l",
            (dir_ / "server.log").string(), "-w", "-t", "60", "start"});

  try {
    pg::Connection admin("postgresql://flashsale@127.0.0.1:" + std::to_string(port) +
                         "/postgres?connect_timeout=5");
    if (admin.exec("SELECT 1 FROM pg_database WHERE datname = 'flashsale'").rows() == 0) {
      admin.exec("CREATE DATABASE flashsale");
    }
  } catch (...) {
    // The destructor will not run for a half-built object: do not leave the cluster behind.
    tool_succeeds({(bin_dir_ / "pg_ctl").string(), "-D", dir_.string(), "-m", "fast", "stop"});
    throw;
  }
  url_ = url_for(port);
  std::ofstream(dir_ / kOwnerFile, std::ios::trunc) << getpid() << ' ' << port << '\n';
  log::info("embedded PostgreSQL: running at " + url_ + ", data in " + dir_.string());
}

std::string EmbeddedPostgres::url_for(std::uint16_t port) {
  return "postgresql://flashsale@127.0.0.1:" + std::to_string(port) +
         "/flashsale?connect_timeout=5";
}

EmbeddedPostgres::~EmbeddedPostgres() {
  try {
    run_tool({(bin_dir_ / "pg_ctl").string(), "-D", dir_.string(), "-m", "fast", "-w", "stop"});
    log::info("embedded PostgreSQL: stopped");
  } catch (const std::exception& e) {
    log::error(e.what());
  }
}

void EmbeddedPostgres::restart() {
  run_tool({(bin_dir_ / "pg_ctl").string(), "-D", dir_.string(), "-l",
            (dir_ / "server.log").string(), "-m", "fast", "-w", "-t", "60", "restart"});
}

void EmbeddedPostgres::kill_now() const noexcept {
  std::ifstream pid_file(dir_ / "postmaster.pid");
  pid_t pid = 0;
  if (pid_file >> pid && pid > 0) ::kill(pid, SIGQUIT);
}

bool EmbeddedPostgres::tool_succeeds(const std::vector<std::string>& argv) const {
  std::string output;
  return process::run(as_owner(argv), output) == 0;
}

std::vector<std::string> EmbeddedPostgres::as_owner(const std::vector<std::string>& argv) const {
  std::vector<std::string> command;
  if (!run_as_.empty()) command = {"runuser", "-u", run_as_, "--"};
  command.insert(command.end(), argv.begin(), argv.end());
  return command;
}

void EmbeddedPostgres::run_tool(const std::vector<std::string>& argv) const {
  const auto command = as_owner(argv);
  std::string output;
  const int code = process::run(command, output);
  if (code != 0) {
    throw std::runtime_error("embedded PostgreSQL: `" + process::describe(command) +
                             "` failed (exit " + std::to_string(code) + "): " + output +
                             " (server log: " + (dir_ / "server.log").string() + ")");
  }
}

}  // namespace flashsale
