// See pgoutput.hpp. Byte layouts: PostgreSQL 15 docs, "Streaming Replication Protocol" and
// "Logical Replication Message Formats" (src/backend/replication/logical/proto.c).
#include "pgoutput.hpp"

#include <cstddef>
#include <limits>

namespace flashsale::plugins::pg_wal {
namespace {

// 946684800 s between 1970-01-01 and 2000-01-01.
constexpr std::int64_t kPgEpochOffsetUs = 946'684'800'000'000;

// A type or kind byte for an error message: 'x' (0x78), or just 0x01 when not printable.
std::string describe(char byte) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto u = static_cast<unsigned char>(byte);
  std::string hex = {'0', 'x', kHex[u >> 4], kHex[u & 0xF]};
  if (u >= 0x20 && u < 0x7F) return std::string("'") + byte + "' (" + hex + ")";
  return hex;
}

// Bounds-checked big-endian reads; every failure names the field and where it started.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  [[noreturn]] void fail(const std::string& what, std::size_t at) const {
    throw DecodeError("pgoutput: " + what + " at offset " + std::to_string(at));
  }
  [[noreturn]] void fail(const std::string& what) const { fail(what, pos_); }

  [[nodiscard]] std::size_t pos() const { return pos_; }
  [[nodiscard]] std::size_t remaining() const { return data_.size() - pos_; }

  std::uint64_t uint(std::size_t bytes, const char* field) {
    if (remaining() < bytes) {
      fail(std::string("truncated ") + field + " (" + std::to_string(remaining()) + " of " +
           std::to_string(bytes) + " bytes)");
    }
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      value = (value << 8) | static_cast<unsigned char>(data_[pos_ + i]);
    }
    pos_ += bytes;
    return value;
  }
  std::uint8_t u8(const char* field) { return static_cast<std::uint8_t>(uint(1, field)); }
  std::uint32_t u32(const char* field) { return static_cast<std::uint32_t>(uint(4, field)); }
  std::uint64_t u64(const char* field) { return uint(8, field); }
  std::int16_t i16(const char* field) {
    return static_cast<std::int16_t>(static_cast<std::uint16_t>(uint(2, field)));
  }
  std::int32_t i32(const char* field) { return static_cast<std::int32_t>(u32(field)); }
  std::int64_t i64(const char* field) { return static_cast<std::int64_t>(u64(field)); }

  // A count or length that is negative is corrupt, not "none".
  std::size_t count16(const char* field) {
    const std::size_t at = pos_;
    const std::int16_t n = i16(field);
    if (n < 0) fail(std::string("negative ") + field + " " + std::to_string(n), at);
    return static_cast<std::size_t>(n);
  }
  std::size_t count32(const char* field) {
    const std::size_t at = pos_;
    const std::int32_t n = i32(field);
    if (n < 0) fail(std::string("negative ") + field + " " + std::to_string(n), at);
    return static_cast<std::size_t>(n);
  }

  std::string bytes(std::size_t n, const char* field) {
    if (remaining() < n) {
      fail(std::string(field) + " of " + std::to_string(n) + " bytes runs past the end (" +
           std::to_string(remaining()) + " left)");
    }
    std::string out(data_.substr(pos_, n));
    pos_ += n;
    return out;
  }

  std::string cstring(const char* field) {
    const std::size_t nul = data_.find('\0', pos_);
    if (nul == std::string_view::npos) fail(std::string("unterminated ") + field);
    std::string out(data_.substr(pos_, nul - pos_));
    pos_ = nul + 1;
    return out;
  }

  void expect_end(const char* message) const {
    if (remaining() != 0) {
      fail(std::to_string(remaining()) + " trailing bytes after " + message + " message");
    }
  }

 private:
  std::string_view data_;
  std::size_t pos_ = 0;
};

Tuple read_tuple(Reader& in) {
  const std::size_t ncols = in.count16("tuple column count");
  // Every column takes at least its kind byte.
  if (in.remaining() < ncols) {
    in.fail("tuple column count " + std::to_string(ncols) + " runs past the end");
  }
  Tuple tuple(ncols);
  for (auto& value : tuple) {
    const std::size_t at = in.pos();
    switch (const char kind = static_cast<char>(in.u8("tuple column kind")); kind) {
      case 'n':
        value.kind = Value::Kind::null;
        break;
      case 'u':
        value.kind = Value::Kind::unchanged_toast;
        break;
      case 't':
        value.kind = Value::Kind::text;
        value.text = in.bytes(in.count32("text value length"), "text value");
        break;
      case 'b':
        in.fail("binary column value, but binary mode is not enabled", at);
      default:
        in.fail("unknown tuple column kind " + describe(kind), at);
    }
  }
  return tuple;
}

// The byte before an old tuple or a new tuple: 'K' (key), 'O' (old row) or 'N' (new row).
char tuple_marker(Reader& in, std::string_view allowed) {
  const std::size_t at = in.pos();
  const char marker = static_cast<char>(in.u8("tuple marker"));
  if (allowed.find(marker) == std::string_view::npos) {
    in.fail("expected tuple marker [" + std::string(allowed) + "], got " + describe(marker), at);
  }
  return marker;
}

Relation read_relation(Reader& in) {
  Relation r;
  r.oid = in.u32("relation oid");
  r.nspname = in.cstring("relation namespace");
  r.relname = in.cstring("relation name");
  const std::size_t at = in.pos();
  r.replica_identity = static_cast<char>(in.u8("replica identity"));
  if (std::string_view("dnfi").find(r.replica_identity) == std::string_view::npos) {
    in.fail("unknown replica identity " + describe(r.replica_identity), at);
  }
  const std::size_t ncols = in.count16("relation column count");
  // Every column takes at least flags, an empty name and two Int32s.
  if (in.remaining() / 10 < ncols) {
    in.fail("relation column count " + std::to_string(ncols) + " runs past the end");
  }
  r.columns.resize(ncols);
  for (auto& c : r.columns) {
    c.key = (in.u8("column flags") & 1) != 0;
    c.name = in.cstring("column name");
    c.type_oid = in.u32("column type oid");
    c.type_modifier = in.i32("column type modifier");
  }
  return r;
}

Truncate read_truncate(Reader& in) {
  const std::size_t count = in.count32("truncate relation count");
  Truncate t;
  t.options = in.u8("truncate options");
  // Checked before reserving, so a corrupt count cannot ask for gigabytes.
  if (in.remaining() / 4 < count) {
    in.fail("truncate relation count " + std::to_string(count) + " runs past the end");
  }
  t.relations.reserve(count);
  for (std::size_t i = 0; i < count; ++i) t.relations.push_back(in.u32("truncated relation oid"));
  return t;
}

}  // namespace

std::string format_lsn(Lsn lsn) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  auto half = [](std::uint32_t v) {
    std::string out;
    do {
      out.insert(out.begin(), kHex[v & 0xF]);
      v >>= 4;
    } while (v != 0);
    return out;
  };
  return half(static_cast<std::uint32_t>(lsn >> 32)) + "/" + half(static_cast<std::uint32_t>(lsn));
}

std::int64_t pg_to_unix_us(std::int64_t pg_us) {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  if (pg_us == kMin) return kMin;
  return pg_us > kMax - kPgEpochOffsetUs ? kMax : pg_us + kPgEpochOffsetUs;
}

std::int64_t unix_to_pg_us(std::int64_t unix_us) {
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  if (unix_us == kMax) return kMax;
  return unix_us < kMin + kPgEpochOffsetUs ? kMin : unix_us - kPgEpochOffsetUs;
}

std::variant<XLogData, Keepalive> parse_copy_data(std::string_view buffer) {
  Reader in(buffer);
  switch (const char type = static_cast<char>(in.u8("CopyData type")); type) {
    case 'w': {
      XLogData x{};
      x.data_start = in.u64("XLogData dataStart");
      x.wal_end = in.u64("XLogData walEnd");
      x.send_time = in.i64("XLogData sendTime");
      x.payload = buffer.substr(in.pos());
      return x;
    }
    case 'k': {
      Keepalive k{};
      k.wal_end = in.u64("keepalive walEnd");
      k.send_time = in.i64("keepalive sendTime");
      const std::size_t at = in.pos();
      const std::uint8_t reply = in.u8("keepalive replyRequested");
      if (reply > 1) in.fail("keepalive replyRequested is " + std::to_string(reply), at);
      k.reply_requested = reply == 1;
      in.expect_end("keepalive");
      return k;
    }
    default:
      in.fail("unknown CopyData type " + describe(type), 0);
  }
}

std::string status_update(Lsn write, Lsn flush, Lsn apply, std::int64_t now_pg_us,
                          bool reply_requested) {
  std::string out;
  out.reserve(34);
  out.push_back('r');
  for (const std::uint64_t v : {write, flush, apply, static_cast<std::uint64_t>(now_pg_us)}) {
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>(v >> shift));
  }
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

Message decode(std::string_view payload) {
  Reader in(payload);
  const char type = static_cast<char>(in.u8("message type"));
  switch (type) {
    case 'B': {
      Begin b{};
      b.final_lsn = in.u64("Begin final_lsn");
      b.commit_time = in.i64("Begin commit time");
      b.xid = in.u32("Begin xid");
      in.expect_end("Begin");
      return b;
    }
    case 'C': {
      Commit c{};
      c.flags = in.u8("Commit flags");
      c.commit_lsn = in.u64("Commit commit_lsn");
      c.end_lsn = in.u64("Commit end_lsn");
      c.commit_time = in.i64("Commit commit time");
      in.expect_end("Commit");
      return c;
    }
    case 'O': {
      Origin o{};
      o.commit_lsn = in.u64("Origin commit_lsn");
      o.name = in.cstring("Origin name");
      in.expect_end("Origin");
      return o;
    }
    case 'R': {
      Relation r = read_relation(in);
      in.expect_end("Relation");
      return r;
    }
    case 'Y': {
      TypeInfo t{};
      t.oid = in.u32("Type oid");
      t.nspname = in.cstring("Type namespace");
      t.name = in.cstring("Type name");
      in.expect_end("Type");
      return t;
    }
    case 'I': {
      Insert i{};
      i.relation = in.u32("Insert relation oid");
      tuple_marker(in, "N");
      i.new_tuple = read_tuple(in);
      in.expect_end("Insert");
      return i;
    }
    case 'U': {
      Update u{};
      u.relation = in.u32("Update relation oid");
      const char marker = tuple_marker(in, "KON");
      if (marker != 'N') {
        u.old_kind = marker;
        u.old_tuple = read_tuple(in);
        tuple_marker(in, "N");
      }
      u.new_tuple = read_tuple(in);
      in.expect_end("Update");
      return u;
    }
    case 'D': {
      Delete d{};
      d.relation = in.u32("Delete relation oid");
      d.old_kind = tuple_marker(in, "KO");
      d.old_tuple = read_tuple(in);
      in.expect_end("Delete");
      return d;
    }
    case 'T': {
      Truncate t = read_truncate(in);
      in.expect_end("Truncate");
      return t;
    }
    case 'M': {
      LogicalMessage m{};
      const std::size_t at = in.pos();
      const std::uint8_t flags = in.u8("Message flags");
      if (flags > 1) in.fail("unknown Message flags " + std::to_string(flags), at);
      m.transactional = flags == 1;
      m.lsn = in.u64("Message lsn");
      m.prefix = in.cstring("Message prefix");
      m.content = in.bytes(in.count32("Message content length"), "Message content");
      in.expect_end("Message");
      return m;
    }
    case 'S':
    case 'E':
    case 'c':
    case 'A':
      in.fail("streaming message " + describe(type) +
                  ", but streaming is not enabled (protocol version 1)",
              0);
    case 'b':
    case 'P':
    case 'K':
    case 'r':
    case 'p':
      in.fail("two-phase message " + describe(type) +
                  ", but two_phase is not enabled (protocol version 1)",
              0);
    default:
      in.fail("unknown message type " + describe(type), 0);
  }
}

}  // namespace flashsale::plugins::pg_wal
