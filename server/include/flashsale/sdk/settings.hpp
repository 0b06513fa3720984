// Reading a plugin's settings: its `plugin.<name>` config object, into which the host has
// already merged the environment overrides FLASHSALE_PLUGIN_<NAME>_<KEY> (a value that reads as
// JSON is taken as JSON, anything else as a string). Typed, range- and pattern-checked; every
// message names plugin.<name>.<key>; keys nobody reads are refused.
//
//   sdk::Settings settings(host);
//   pool_size_ = settings.integer("pool_size", 8, 2, 1000);
//   slot_ = settings.text("slot", "", sdk::Settings::matching("[a-z0-9_]{1,63}"));
//   settings.done();  // "unknown key plugin.postgres.pool_sise"
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "flashsale/sdk/host_context.hpp"

namespace flashsale::sdk {
inline namespace v1 {

class Settings {
 public:
  /// What is wrong with a value ("must be ..."), or empty when it is fine.
  using Check = std::function<std::string(const std::string&)>;

  /// `config` is the plugin's section; throws std::invalid_argument unless it is an object.
  Settings(std::string plugin, nlohmann::json config)
      : prefix_("plugin." + std::move(plugin) + "."), config_(std::move(config)) {
    if (!config_.is_object()) {
      throw std::invalid_argument(prefix_.substr(0, prefix_.size() - 1) + " must be an object");
    }
  }
  explicit Settings(const HostContext& host) : Settings(host.plugin_name(), host.config()) {}

  /// An integer from `min` to `max`; `fallback` when absent.
  int integer(const std::string& key, int fallback, int min, int max) {
    const auto* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->is_number_integer() || value->get<long long>() < min ||
        value->get<long long>() > max) {
      throw invalid(
          key, "must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
    }
    return value->get<int>();
  }

  /// true or false; `fallback` when absent.
  bool boolean(const std::string& key, bool fallback) {
    const auto* value = find(key);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) throw invalid(key, "must be true or false");
    return value->get<bool>();
  }

  /// A string passing `check`; `fallback` (unchecked) when absent.
  std::string text(const std::string& key, std::string fallback, const Check& check = {}) {
    const auto* value = find(key);
    return value == nullptr ? std::move(fallback) : checked_text(key, *value, check);
  }

  /// A string that must be given; `hint` tells what it is, for the message when it is not.
  std::string required_text(const std::string& key, const std::string& hint,
                            const Check& check = {}) {
    const auto* value = find(key);
    if (value == nullptr) throw invalid(key, "is required: " + hint);
    return checked_text(key, *value, check);
  }

  /// One of `choices`; `fallback` when absent.
  std::string choice(const std::string& key, std::string fallback,
                     const std::vector<std::string>& choices) {
    const auto* value = find(key);
    if (value == nullptr) return fallback;
    for (const auto& c : choices) {
      if (*value == c) return c;
    }
    std::string list;
    for (std::size_t i = 0; i < choices.size(); ++i) {
      list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + ("\"" + choices[i] + "\"");
    }
    throw invalid(key, "must be " + list);
  }

  /// The full name of a key, for a message about several keys: "plugin.pg_queue.threads".
  [[nodiscard]] std::string name(const std::string& key) const { return prefix_ + key; }

  /// Refuses the first key nobody read ("unknown key plugin.<name>.<key>"). Call it once every
  /// setting is read.
  void done() const {
    for (const auto& [key, value] : config_.items()) {
      if (read_.count(key) == 0) throw std::invalid_argument("unknown key " + name(key));
    }
  }

  /// A check that the whole value matches `pattern` (ECMAScript), described as `description`
  /// in the message ("must match <pattern>" when empty).
  static Check matching(const std::string& pattern, std::string description = {}) {
    if (description.empty()) description = "must match " + pattern;
    return [re = std::regex(pattern), description](const std::string& value) {
      return std::regex_match(value, re) ? std::string() : description;
    };
  }

 private:
  const nlohmann::json* find(const std::string& key) {
    read_.insert(key);
    const auto it = config_.find(key);
    return it == config_.end() ? nullptr : &*it;
  }

  std::string checked_text(const std::string& key, const nlohmann::json& value,
                           const Check& check) const {
    if (!value.is_string()) throw invalid(key, "must be a string");
    std::string text = value.get<std::string>();
    if (check) {
      if (auto problem = check(text); !problem.empty()) throw invalid(key, problem);
    }
    return text;
  }

  [[nodiscard]] std::invalid_argument invalid(const std::string& key,
                                              const std::string& problem) const {
    return std::invalid_argument(name(key) + " " + problem);
  }

  std::string prefix_;
  nlohmann::json config_;
  std::set<std::string> read_;
};

}  // namespace v1
}  // namespace flashsale::sdk
