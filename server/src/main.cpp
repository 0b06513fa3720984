// The `flashsale` command line: parses the subcommand and --config, maps failures to exit codes.
#include <algorithm>
#include <cstdlib>
#include <flashsale/nats/contract.hpp>
#include <flashsale/pg/migrations.hpp>
#include <iostream>
#include <optional>

#include "app.hpp"
#include "cli/events.hpp"
#include "cli/stream.hpp"
#include "event_bus.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "plugin_host.hpp"
#include "version.hpp"

namespace {

constexpr const char* kUsage =
    "usage: flashsale <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve [--config FILE]   run the service; with no database.url it starts a private\n"
    "                          PostgreSQL\n"
    "  migrate [--config FILE] apply the database migrations, then exit\n"
    "  check-plugin PLUGIN [--config FILE]\n"
    "                          load PLUGIN (a path, or a name looked up in plugins.dir) as serve\n"
    "                          would, make its object with its plugin.<name> settings, print\n"
    "                          what it is (exit 0) or the refusal (exit 2); starts nothing\n"
    "  stream [--user ID] [--since EVENT_ID] [--count N] [--url URL] [--header NAME]\n"
    "                          print a WebSocket event stream, a frame a line: a user's own\n"
    "                          events (default URL ws://127.0.0.1:8080/v1/stream, --user needed),\n"
    "                          or every event with --url ws://127.0.0.1:8081/admin/stream;\n"
    "                          --since replays what came after that event, --count stops after\n"
    "                          N frames (the first is stream.ready or the snapshot)\n"
    "  events tail [--item ID] [--since SEQ] [--count N] [--servers URLS] [--stream NAME]\n"
    "              [--config FILE]\n"
    "                          print the NATS JetStream event stream (docs/events.md), an event\n"
    "                          a line with its stream sequence as \"seq\": new events, or from\n"
    "                          sequence SEQ; servers and stream default to plugin.nats's settings\n"
    "  version                 print the version\n"
    "\n"
    "Settings come from the built-in defaults, then FILE, then FLASHSALE_* environment\n"
    "variables (docs/operations.md lists them all). Exit codes: 0 done, 1 runtime failure,\n"
    "2 refused start-up (bad usage, bad config, refused required plugin, migration conflict).\n";

// Loads one plugin with the host's own loader and checks, without a database or listeners.
int check_plugin(const flashsale::Config& config, const std::string& file) {
  using namespace flashsale;
  Metrics metrics;
  EventBus events(1);
  PluginHost host(config, config.database_url, metrics, events);
  try {
    const auto& p = host.load({file, true});
    std::cout << "plugin " << p.path << " accepted: " << p.kind << " '" << p.name << "' "
              << p.version << " (SDK ABI " << kSdkAbi << ")\n";
    return kExitOk;
  } catch (const PluginRefused& e) {
    std::cerr << e.what() << "\n";
    return kExitRefused;
  }
}

int usage_error(const std::string& message) {
  std::cerr << "flashsale: " << message << "\n\n" << kUsage;
  return flashsale::kExitRefused;
}

// `value` as a positive number, or nullopt.
std::optional<long long> positive(const std::string& value) {
  char* end = nullptr;
  const long long n = std::strtoll(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || n < 1) return std::nullopt;
  return n;
}

// `flashsale stream [options]`.
int stream_command(const std::vector<std::string>& args) {
  flashsale::cli::StreamOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (i + 1 == args.size()) return usage_error("stream: " + flag + " needs a value");
    const std::string& value = args[++i];
    if (flag == "--user") {
      options.user = value;
    } else if (flag == "--since") {
      options.since = value;
    } else if (flag == "--url") {
      options.url = value;
    } else if (flag == "--header") {
      options.header = value;
    } else if (flag == "--count") {
      const auto n = positive(value);
      if (!n) return usage_error("stream: --count needs a positive number");
      options.count = *n;
    } else {
      return usage_error("stream: unknown option '" + flag + "'");
    }
  }
  return flashsale::cli::stream(options);
}

// `flashsale events tail [options]`.
int events_command(const std::vector<std::string>& args) {
  using namespace flashsale;
  if (args.empty() || args[0] != "tail") return usage_error("events: the command is 'events tail'");
  cli::EventsOptions options;
  std::optional<std::filesystem::path> config_file;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (i + 1 == args.size()) return usage_error("events tail: " + flag + " needs a value");
    const std::string& value = args[++i];
    if (flag == "--item") {
      options.item = value;
    } else if (flag == "--servers") {
      options.servers = value;
    } else if (flag == "--stream") {
      options.stream = value;
    } else if (flag == "--config") {
      config_file = value;
    } else if (flag == "--since" || flag == "--count") {
      const auto n = positive(value);
      if (!n) return usage_error("events tail: " + flag + " needs a positive number");
      if (flag == "--since") {
        options.since = static_cast<std::uint64_t>(*n);
      } else {
        options.count = *n;
      }
    } else {
      return usage_error("events tail: unknown option '" + flag + "'");
    }
  }
  nlohmann::json settings;
  try {
    settings = load_config(config_file, flashsale_environment()).plugin_config("nats");
  } catch (const ConfigError& e) {
    std::cerr << "flashsale: config error: " << e.what() << "\n";
    return kExitRefused;
  }
  const auto setting = [&settings](const char* key, const char* fallback) {
    const auto it = settings.is_object() ? settings.find(key) : settings.end();
    return it != settings.end() && it->is_string() ? it->get<std::string>() : fallback;
  };
  namespace contract = nats::contract;
  if (options.servers.empty()) options.servers = setting("servers", contract::kDefaultServers);
  if (options.stream.empty()) options.stream = setting("stream", contract::kDefaultStream);
  options.subject_prefix = setting("subject_prefix", contract::kDefaultSubjectPrefix);
  return cli::events_tail(options);
}

}  // namespace

// The command line's work; main() only guards it.
int run(const std::vector<std::string>& args) {
  using namespace flashsale;
  if (args.empty()) return usage_error("a command is needed");
  const bool help = args[0] == "help" || std::any_of(args.begin(), args.end(), [](const auto& a) {
                      return a == "--help" || a == "-h";
                    });
  if (help) {
    std::cout << kUsage;
    return kExitOk;
  }
  const std::string& command = args[0];
  if (command == "version" || command == "--version") {
    std::cout << "flashsale " << kVersion << " (plugin SDK ABI " << kSdkAbi << ")\n";
    return kExitOk;
  }
  if (command == "stream") return stream_command({args.begin() + 1, args.end()});
  if (command == "events") return events_command({args.begin() + 1, args.end()});
  if (command != "serve" && command != "migrate" && command != "check-plugin") {
    return usage_error("unknown command '" + command + "'");
  }
  std::size_t first_option = 1;
  std::string plugin_file;
  if (command == "check-plugin") {
    if (args.size() < 2 || args[1].rfind("--", 0) == 0) {
      return usage_error("check-plugin needs a PLUGIN");
    }
    plugin_file = args[1];
    first_option = 2;
  }
  std::optional<std::filesystem::path> config_file;
  for (std::size_t i = first_option; i < args.size(); ++i) {
    if (args[i] == "--config" && i + 1 < args.size()) {
      config_file = args[++i];
    } else {
      return usage_error("unknown argument '" + args[i] + "'");
    }
  }
  Config config;
  try {
    config = load_config(config_file, flashsale_environment());
  } catch (const ConfigError& e) {
    std::cerr << "flashsale: config error: " << e.what() << "\n";
    return kExitRefused;
  }
  try {
    if (command == "check-plugin") return check_plugin(config, plugin_file);
    return command == "serve" ? serve(config) : migrate(config);
  } catch (const PluginRefused& e) {
    log::error(e.what());
    return kExitRefused;
  } catch (const pg::MigrationError& e) {
    log::error(std::string("migrations: ") + e.what());
    return kExitRefused;
  } catch (const std::exception& e) {
    log::error(e.what());
    return kExitFailure;
  }
}

int main(int argc, char** argv) {
  try {
    return run({argv + 1, argv + argc});
  } catch (const std::exception& e) {  // what the commands do not map to an exit code themselves
    std::cerr << "flashsale: " << e.what() << "\n";
    return flashsale::kExitFailure;
  }
}
