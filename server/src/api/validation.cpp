// See validation.hpp.
#include "api/validation.hpp"

#include <algorithm>
#include <regex>

namespace flashsale::api {

bool is_item_id(const std::string& s) {
  return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool is_uuid(const std::string& s) {
  static const std::regex pattern(
      "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");
  return s.size() == 36 && std::regex_match(s, pattern);
}

bool is_printable(const std::string& s, std::size_t max) {
  return !s.empty() && s.size() <= max &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool is_rfc3339(const std::string& s) {
  static const std::regex pattern(
      R"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?([Zz]|[+-][0-9]{2}:[0-9]{2}))");
  return s.size() <= 40 && std::regex_match(s, pattern);
}

Fields::Fields(const nlohmann::json& body, const std::set<std::string>& allowed) : body_(body) {
  for (const auto& [key, value] : body.items()) {
    if (!allowed.count(key)) throw BadRequest("unknown field '" + key + "'");
  }
}

std::optional<std::string> Fields::text(const std::string& name, std::size_t min, std::size_t max,
                                        bool required) const {
  if (!has(name)) {
    if (required) throw BadRequest("field '" + name + "' is required");
    return std::nullopt;
  }
  const auto& v = body_.at(name);
  if (!v.is_string()) throw BadRequest("field '" + name + "' must be a string");
  const auto s = v.get<std::string>();
  if (std::any_of(s.begin(), s.end(), [](char c) { return c >= 0 && c < 0x20; })) {
    throw BadRequest("field '" + name + "' must not contain control characters");
  }
  if (s.size() < min || s.size() > max) {
    throw BadRequest("field '" + name + "' must have " + std::to_string(min) + " to " +
                     std::to_string(max) + " characters");
  }
  return s;
}

std::optional<long long> Fields::integer(const std::string& name, long long min, long long max,
                                         bool required) const {
  if (!has(name)) {
    if (required) throw BadRequest("field '" + name + "' is required");
    return std::nullopt;
  }
  const auto& v = body_.at(name);
  if (!v.is_number_integer()) throw BadRequest("field '" + name + "' must be an integer");
  const bool negative = v.is_number_unsigned() ? false : v.get<long long>() < 0;
  const long long n = v.is_number_unsigned() && v.get<unsigned long long>() > 1'000'000'000'000ULL
                          ? max + 1
                          : v.get<long long>();
  if ((negative && min >= 0) || n < min || n > max) {
    throw BadRequest("field '" + name + "' must be between " + std::to_string(min) + " and " +
                     std::to_string(max));
  }
  return n;
}

std::optional<bool> Fields::boolean(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  if (!body_.at(name).is_boolean()) throw BadRequest("field '" + name + "' must be true or false");
  return body_.at(name).get<bool>();
}

std::optional<std::string> Fields::time(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  const auto& v = body_.at(name);
  if (!v.is_string() || !is_rfc3339(v.get<std::string>())) {
    throw BadRequest("field '" + name + "' must be an RFC 3339 time like 2026-11-24T10:00:00Z");
  }
  return v.get<std::string>();
}

}  // namespace flashsale::api
