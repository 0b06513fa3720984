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

sdk::OrderQuery order_query(const std::map<std::string, std::string>& query, std::string user_id,
                            const std::set<std::string>& also_known) {
  static const std::set<std::string> kStatuses = {"waiting", "reserved", "confirmed", "cancelled",
                                                  "expired"};
  for (const auto& [key, value] : query) {
    if (key != "item" && key != "status" && !also_known.count(key)) {
      throw BadRequest("unknown query parameter '" + key + "'");
    }
  }
  const auto value = [&](const char* key) {
    const auto it = query.find(key);
    return it == query.end() ? std::string() : it->second;
  };
  sdk::OrderQuery q{
      .user_id = std::move(user_id), .item_id = value("item"), .status = value("status")};
  if (!q.item_id.empty() && !is_item_id(q.item_id)) {
    throw BadRequest("item must match [a-z0-9-]{1,64}");
  }
  if (!q.status.empty() && !kStatuses.count(q.status)) {
    throw BadRequest("status must be waiting, reserved, confirmed, cancelled or expired");
  }
  return q;
}

std::optional<std::int64_t> rfc3339_unix_us(const std::string& s) {
  static const std::regex pattern(
      R"(([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?([Zz]|([+-])([0-9]{2}):([0-9]{2})))");
  std::smatch m;
  if (s.size() > 40 || !std::regex_match(s, m, pattern)) return std::nullopt;
  const auto num = [&m](int i) { return std::stoi(m[i].str()); };
  const int year = num(1), month = num(2), day = num(3);
  const int hour = num(4), minute = num(5), second = num(6);
  // A real date and time: no month 13, no 30 February, no hour 24, no leap second (PostgreSQL
  // would roll 24:00 and :60 forward; an operator who typed them meant something else).
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1 || month < 1 || month > 12) return std::nullopt;
  if (day < 1 || day > kDays[month - 1] + (month == 2 && leap ? 1 : 0)) return std::nullopt;
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
  int offset_minutes = 0;
  if (m[9].matched) {
    if (num(10) > 23 || num(11) > 59) return std::nullopt;
    offset_minutes = (num(10) * 60 + num(11)) * (m[9].str() == "-" ? -1 : 1);
  }
  // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = y / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = std::int64_t{era} * 146097 + doe - 719468;
  std::int64_t us = ((days * 24 + hour) * 60 + minute - offset_minutes) * 60 + second;
  us *= 1'000'000;
  if (m[7].matched) {
    std::string fraction = m[7].str().substr(1);
    fraction.resize(6, '0');
    us += std::stoll(fraction);
  }
  return us;
}

bool is_rfc3339(const std::string& s) { return rfc3339_unix_us(s).has_value(); }

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
    throw BadRequest("field '" + name +
                     "' must be an RFC 3339 time like 2026-11-24T10:00:00Z, a real one (month "
                     "1-12, a day of that month, hour 0-23, second 0-59, offset up to 23:59)");
  }
  return v.get<std::string>();
}

}  // namespace flashsale::api
