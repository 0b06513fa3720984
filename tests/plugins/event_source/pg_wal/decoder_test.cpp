// The pgoutput decoder against a stream captured from a real PostgreSQL 15
// (tests/fixtures/pgoutput, made by capture_fixtures.cpp), plus framing, status updates, LSN text,
// the epoch, and robustness: no truncated or corrupted buffer may crash or read out of bounds.
#include <catch2/catch.hpp>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>

#include "pgoutput.hpp"

using namespace flashsale::plugins::pg_wal;

namespace Catch {
template <>
struct StringMaker<Value> {
  static std::string convert(const Value& v) {
    switch (v.kind) {
      case Value::Kind::null:
        return "n";
      case Value::Kind::unchanged_toast:
        return "u";
      case Value::Kind::text:
        return "t'" + (v.text.size() > 40 ? v.text.substr(0, 40) + "..." : v.text) + "'";
    }
    return "?";
  }
};
}  // namespace Catch

namespace {

struct Frame {
  std::string label;  // the comment line before it: "w B", "k", ...
  std::string bytes;
};

std::string unhex(const std::string& line) {
  auto nibble = [&](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    FAIL("bad hex digit in fixture: " << c);
    return 0;
  };
  REQUIRE(line.size() % 2 == 0);
  std::string out;
  for (std::size_t i = 0; i < line.size(); i += 2) {
    out.push_back(static_cast<char>(nibble(line[i]) << 4 | nibble(line[i + 1])));
  }
  return out;
}

const std::vector<Frame>& frames() {
  static const std::vector<Frame> all = [] {
    std::ifstream in(FLASHSALE_PGOUTPUT_FIXTURES "/stream.hex");
    REQUIRE(in);
    std::vector<Frame> out;
    std::string line;
    std::string label;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      if (line[0] == '#') {
        label = line.substr(std::min<std::size_t>(2, line.size()));
      } else {
        out.push_back({label, unhex(line)});
      }
    }
    return out;
  }();
  return all;
}

struct Decoded {
  XLogData frame;
  Message message;
};

struct Transaction {
  Begin begin;
  XLogData begin_frame;
  std::vector<Decoded> body;  // between Begin and Commit
  Commit commit;
  XLogData commit_frame;
};

// The fixture split the way a consumer sees it: transactions, messages outside them, keepalives.
struct Stream {
  std::vector<Decoded> all;  // every XLogData, in order
  std::vector<Transaction> transactions;
  std::vector<LogicalMessage> outside;  // non-transactional 'M' between transactions
  std::vector<Keepalive> keepalives;
  std::string kinds;  // the pgoutput type byte of every XLogData, in order
};

const Stream& stream() {
  static const Stream s = [] {
    Stream out;
    std::optional<Transaction> open;
    for (const auto& f : frames()) {
      const auto parsed = parse_copy_data(f.bytes);
      if (const auto* k = std::get_if<Keepalive>(&parsed)) {
        out.keepalives.push_back(*k);
        continue;
      }
      const auto& x = std::get<XLogData>(parsed);
      out.kinds += x.payload.at(0);
      Decoded d{x, decode(x.payload)};
      out.all.push_back(d);
      if (const auto* b = std::get_if<Begin>(&d.message)) {
        REQUIRE_FALSE(open);
        open = Transaction{*b, x, {}, {}, {}};
      } else if (const auto* c = std::get_if<Commit>(&d.message)) {
        REQUIRE(open);
        open->commit = *c;
        open->commit_frame = x;
        out.transactions.push_back(std::move(*open));
        open.reset();
      } else if (open) {
        open->body.push_back(d);
      } else {
        REQUIRE(std::holds_alternative<LogicalMessage>(d.message));
        out.outside.push_back(std::get<LogicalMessage>(d.message));
      }
    }
    REQUIRE_FALSE(open);
    return out;
  }();
  return s;
}

template <typename T>
const T& body(const Transaction& t, std::size_t i) {
  REQUIRE(i < t.body.size());
  REQUIRE(std::holds_alternative<T>(t.body[i].message));
  return std::get<T>(t.body[i].message);
}

const Relation& first_relation(const std::string& name) {
  for (const auto& d : stream().all) {
    if (const auto* r = std::get_if<Relation>(&d.message); r && r->relname == name) return *r;
  }
  FAIL("no Relation message for " << name);
  throw std::logic_error("unreachable");
}

Value t(std::string text) { return {Value::Kind::text, std::move(text)}; }
const Value n{Value::Kind::null, {}};
const Value u{Value::Kind::unchanged_toast, {}};

// Builds hand-made payloads, big-endian like the server.
struct Bytes {
  std::string s;
  Bytes& u8(int v) {
    s.push_back(static_cast<char>(v));
    return *this;
  }
  Bytes& be(std::uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) s.push_back(static_cast<char>(v >> (8 * i)));
    return *this;
  }
  Bytes& u16(std::uint16_t v) { return be(v, 2); }
  Bytes& u32(std::uint32_t v) { return be(v, 4); }
  Bytes& u64(std::uint64_t v) { return be(v, 8); }
  Bytes& str(const std::string& v) {
    s += v;
    s.push_back('\0');
    return *this;
  }
  Bytes& raw(const std::string& v) {
    s += v;
    return *this;
  }
};

// The workload of capture_fixtures.cpp, one transaction each, in commit order.
enum Txn : std::size_t {
  kInsertInventory,
  kInsertReservation,
  kUpdateFull,
  kUpdateDefault,
  kUpdateKey,
  kDeletes,
  kInsertWithMessage,
  kAlterThenInsert,
  kFromOrigin,
  kTruncate,
  kTransactionCount
};

}  // namespace

TEST_CASE("the fixture decodes frame by frame, in the order the workload made it") {
  const auto& s = stream();
  for (const auto& f : frames()) {
    const auto parsed = parse_copy_data(f.bytes);
    const std::string kind = std::holds_alternative<Keepalive>(parsed)
                                 ? "k"
                                 : std::string("w ") + std::get<XLogData>(parsed).payload.at(0);
    CHECK(f.label == kind);
  }
  // B..C per transaction; 'M' alone is non-transactional; Y/R precede a relation's changes.
  CHECK(s.kinds ==
        "BYRIIC"
        "BRIC"
        "BUC"
        "BUC"
        "BUC"
        "BDDC"
        "BIMC"
        "M"
        "BYRIC"
        "BOUC"
        "BYRRTC"
        "M");
  CHECK(s.transactions.size() == kTransactionCount);
  CHECK_FALSE(s.keepalives.empty());
}

TEST_CASE("Begin and Commit agree, and frames carry the positions the walsender sends") {
  const auto& s = stream();
  Lsn previous_end = 0;
  std::uint32_t previous_xid = 0;
  for (const auto& txn : s.transactions) {
    CAPTURE(format_lsn(txn.begin.final_lsn));
    CHECK(txn.commit.commit_lsn == txn.begin.final_lsn);
    CHECK(txn.commit.end_lsn > txn.commit.commit_lsn);
    CHECK(txn.commit.commit_time == txn.begin.commit_time);
    CHECK(txn.commit.flags == 0);
    CHECK(txn.begin.xid > previous_xid);
    previous_xid = txn.begin.xid;
    // Commit arrives at its end_lsn, the position to acknowledge; commits only move forward.
    CHECK(txn.commit_frame.data_start == txn.commit.end_lsn);
    CHECK(txn.commit.commit_lsn > previous_end);
    previous_end = txn.commit.end_lsn;
    for (const auto& d : txn.body) {
      if (std::holds_alternative<Relation>(d.message) ||
          std::holds_alternative<TypeInfo>(d.message)) {
        // Not a transaction's last write: sent at 0/0 so sync rep is not confused.
        CHECK(d.frame.data_start == 0);
      } else {
        CHECK(d.frame.data_start != 0);
        CHECK(d.frame.data_start <= txn.commit.commit_lsn);
      }
    }
  }
  // For a logical walsender walEnd is just dataStart written twice.
  for (const auto& d : s.all) CHECK(d.frame.wal_end == d.frame.data_start);
  // Commit times are in the capture's present (2020 or later), in PostgreSQL's epoch.
  CHECK(pg_to_unix_us(s.transactions[kInsertInventory].begin.commit_time) > 1'577'836'800'000'000);
}

TEST_CASE("relations: columns, key flags, replica identity and the custom type") {
  const auto& inventory = first_relation("inventory");
  const auto& reservations = first_relation("reservations");
  CHECK(inventory.nspname == "public");
  CHECK(inventory.replica_identity == 'd');
  REQUIRE(inventory.columns.size() == 3);
  CHECK(inventory.columns[0].name == "sku");
  CHECK(inventory.columns[0].type_oid == 25);  // text
  CHECK(inventory.columns[0].type_modifier == -1);
  CHECK(inventory.columns[0].key);  // DEFAULT: only the primary key
  CHECK(inventory.columns[1].name == "qty");
  CHECK(inventory.columns[1].type_oid == 23);  // int4
  CHECK_FALSE(inventory.columns[1].key);
  CHECK(inventory.columns[2].name == "state");
  CHECK_FALSE(inventory.columns[2].key);

  // 'Y' comes right before the relation that uses the enum, and names it.
  const auto& first = stream().transactions[kInsertInventory];
  const auto& type = body<TypeInfo>(first, 0);
  CHECK(type.nspname == "public");
  CHECK(type.name == "sale_state");
  CHECK(type.oid == inventory.columns[2].type_oid);
  CHECK(type.oid >= 16384);  // FirstNormalObjectId: user-made
  CHECK(body<Relation>(first, 1).relname == "inventory");

  CHECK(reservations.replica_identity == 'f');
  REQUIRE(reservations.columns.size() == 5);
  const char* names[] = {"id", "sku", "qty", "status", "note"};
  const std::uint32_t types[] = {20, 25, 23, 25, 25};
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(reservations.columns[i].name == names[i]);
    CHECK(reservations.columns[i].type_oid == types[i]);
    CHECK(reservations.columns[i].key);  // FULL: every column is part of the identity
  }
  CHECK(inventory.oid != reservations.oid);
}

TEST_CASE("after ALTER TABLE ADD COLUMN the relation is re-sent with more columns") {
  const auto& txn = stream().transactions[kAlterThenInsert];
  const auto& old = first_relation("inventory");
  CHECK(body<TypeInfo>(txn, 0).name == "sale_state");  // re-sent with the relation
  const auto& rel = body<Relation>(txn, 1);
  CHECK(rel.oid == old.oid);
  REQUIRE(rel.columns.size() == 4);
  CHECK(rel.columns[3].name == "price");
  CHECK(rel.columns[3].type_oid == 1700);                       // numeric
  CHECK(rel.columns[3].type_modifier == ((10 << 16) | 2) + 4);  // numeric(10,2)
  CHECK_FALSE(rel.columns[3].key);
  const auto& insert = body<Insert>(txn, 2);
  CHECK(insert.relation == rel.oid);
  CHECK(insert.new_tuple == Tuple{t("SKU-3"), t("7"), t("closed"), t("19.99")});
}

TEST_CASE("inserts carry the text output of each column and real NULLs") {
  const auto& s = stream();
  const auto inventory = first_relation("inventory").oid;
  const auto reservations = first_relation("reservations").oid;

  const auto& first = s.transactions[kInsertInventory];
  REQUIRE(first.body.size() == 4);
  CHECK(body<Insert>(first, 2).relation == inventory);
  CHECK(body<Insert>(first, 2).new_tuple == Tuple{t("SKU-1"), t("10"), t("open")});
  CHECK(body<Insert>(first, 3).new_tuple == Tuple{t("SKU-2"), t("5"), t("scheduled")});

  const auto& second = s.transactions[kInsertReservation];
  CHECK(body<Relation>(second, 0).relname == "reservations");
  CHECK(body<Insert>(second, 1).relation == reservations);
  CHECK(body<Insert>(second, 1).new_tuple == Tuple{t("2"), t("SKU-2"), t("2"), t("PENDING"), n});
}

TEST_CASE("updates: FULL sends the old row and 'u' for untouched TOAST; DEFAULT sends 'K'") {
  const auto& s = stream();
  const auto inventory = first_relation("inventory").oid;
  const auto reservations = first_relation("reservations").oid;
  std::string note;
  for (int i = 0; i < 210; ++i) note += "flashsale ";

  SECTION("FULL, out-of-line column not touched") {
    const auto& update = body<Update>(s.transactions[kUpdateFull], 0);
    CHECK(update.relation == reservations);
    CHECK(update.old_kind == 'O');
    // The old row is detoasted in full; the new row only says "unchanged" for it.
    CHECK(update.old_tuple == Tuple{t("1"), t("SKU-1"), t("1"), t("PENDING"), t(note)});
    CHECK(update.new_tuple == Tuple{t("1"), t("SKU-1"), t("1"), t("CONFIRMED"), u});
  }
  SECTION("DEFAULT, key unchanged: no old tuple") {
    const auto& update = body<Update>(s.transactions[kUpdateDefault], 0);
    CHECK(update.relation == inventory);
    CHECK(update.old_kind == 0);
    CHECK(update.old_tuple.empty());
    CHECK(update.new_tuple == Tuple{t("SKU-1"), t("9"), t("open")});
  }
  SECTION("DEFAULT, key changed: 'K' with 'n' placeholders for the non-key columns") {
    const auto& update = body<Update>(s.transactions[kUpdateKey], 0);
    CHECK(update.relation == inventory);
    CHECK(update.old_kind == 'K');
    // qty and state are NOT NULL in the table: these 'n' are placeholders, not values.
    CHECK(update.old_tuple == Tuple{t("SKU-1"), n, n});
    CHECK(update.new_tuple == Tuple{t("SKU-1b"), t("9"), t("open")});
  }
}

TEST_CASE("deletes: 'K' key under DEFAULT, 'O' whole row under FULL") {
  const auto& txn = stream().transactions[kDeletes];
  REQUIRE(txn.body.size() == 2);
  const auto& by_key = body<Delete>(txn, 0);
  CHECK(by_key.relation == first_relation("inventory").oid);
  CHECK(by_key.old_kind == 'K');
  CHECK(by_key.old_tuple == Tuple{t("SKU-1b"), n, n});
  const auto& by_row = body<Delete>(txn, 1);
  CHECK(by_row.relation == first_relation("reservations").oid);
  CHECK(by_row.old_kind == 'O');
  CHECK(by_row.old_tuple == Tuple{t("2"), t("SKU-2"), t("2"), t("PENDING"), n});
}

TEST_CASE("truncate lists every relation and the options") {
  const auto& txn = stream().transactions[kTruncate];
  // TRUNCATE invalidates the relcache, so both relations (and the enum) are described again.
  REQUIRE(txn.body.size() == 4);
  CHECK(body<TypeInfo>(txn, 0).name == "sale_state");
  CHECK(body<Relation>(txn, 1).relname == "inventory");
  CHECK(body<Relation>(txn, 1).columns.size() == 4);
  CHECK(body<Relation>(txn, 2).relname == "reservations");
  const auto& truncate = body<Truncate>(txn, 3);
  CHECK(truncate.options == (1 | 2));  // CASCADE | RESTART IDENTITY
  CHECK(truncate.relations == std::vector<std::uint32_t>{first_relation("inventory").oid,
                                                         first_relation("reservations").oid});
}

TEST_CASE("logical messages: transactional inside B..C, non-transactional outside") {
  const auto& s = stream();
  const auto& txn = s.transactions[kInsertWithMessage];
  CHECK(body<Insert>(txn, 0).new_tuple == Tuple{t("3"), t("SKU-2"), t("1"), t("PENDING"), n});
  const auto& inside = body<LogicalMessage>(txn, 1);
  CHECK(inside.transactional);
  CHECK(inside.prefix == "flashsale");
  CHECK(inside.content == "reservation 3 placed");
  CHECK(inside.lsn != 0);
  CHECK(inside.lsn <= txn.commit.commit_lsn);

  REQUIRE(s.outside.size() == 2);
  CHECK_FALSE(s.outside[0].transactional);
  CHECK(s.outside[0].prefix == "flashsale");
  CHECK(s.outside[0].content == "heartbeat");
  // Decoded where it was written: after the commit before it, before the next transaction.
  CHECK(s.outside[0].lsn > txn.commit.end_lsn);
  CHECK(s.outside[0].lsn < s.transactions[kAlterThenInsert].begin.final_lsn);
  CHECK_FALSE(s.outside[1].transactional);
  CHECK(s.outside[1].content == "capture-end");
  CHECK(s.outside[1].lsn > s.transactions[kTruncate].commit.end_lsn);
}

TEST_CASE("a transaction replayed through a replication origin carries an Origin message") {
  const auto& txn = stream().transactions[kFromOrigin];
  const auto& origin = body<Origin>(txn, 0);
  CHECK(origin.name == "upstream");
  CHECK(origin.commit_lsn == *parse_lsn("0/ABCDEF0"));
  // Begin is not that transaction's last write here, so it too comes at 0/0.
  CHECK(txn.begin_frame.data_start == 0);
  // The commit time is the origin's (pg_replication_origin_xact_setup), not the local clock.
  CHECK(pg_to_unix_us(txn.begin.commit_time) == 1'704'067'200'000'000);  // 2024-01-01Z
  CHECK(body<Update>(txn, 1).new_tuple == Tuple{t("SKU-2"), t("6"), t("scheduled"), n});
}

TEST_CASE("a rolled-back transaction leaves no trace") {
  for (const auto& f : frames()) CHECK(f.bytes.find("ROLLED-BACK") == std::string::npos);
  for (const auto& d : stream().all) {
    if (const auto* i = std::get_if<Insert>(&d.message)) CHECK(i->new_tuple.at(0) != t("99"));
  }
}

TEST_CASE("keepalives report the sent position and the server clock") {
  const auto& s = stream();
  Lsn sent = 0;
  Lsn last_wal_end = 0;
  for (const auto& f : frames()) {
    const auto parsed = parse_copy_data(f.bytes);
    if (const auto* x = std::get_if<XLogData>(&parsed)) {
      sent = std::max(sent, x->data_start);
    } else {
      const auto& k = std::get<Keepalive>(parsed);
      CHECK(k.wal_end >= sent);  // everything before walEnd has been sent
      CHECK(k.wal_end >= last_wal_end);
      last_wal_end = k.wal_end;
      CHECK(pg_to_unix_us(k.send_time) > 1'577'836'800'000'000);
    }
  }
  // The last one answers the capture's status update, sent after the end marker.
  CHECK(s.keepalives.back().wal_end >= s.outside.back().lsn);

  const std::string raw = Bytes{}.u8('k').u64(0x16B374D848).u64(0x0102030405060708).u8(1).s;
  const auto k = std::get<Keepalive>(parse_copy_data(raw));
  CHECK(k.wal_end == 0x16B374D848);
  CHECK(k.send_time == 0x0102030405060708);
  CHECK(k.reply_requested);
  CHECK_FALSE(std::get<Keepalive>(parse_copy_data(raw.substr(0, 17) + '\0')).reply_requested);
}

TEST_CASE("XLogData framing") {
  const std::string raw = Bytes{}.u8('w').u64(0x1539B30).u64(0x1539B60).u64(-1).raw("B payload").s;
  const auto x = std::get<XLogData>(parse_copy_data(raw));
  CHECK(x.data_start == 0x1539B30);
  CHECK(x.wal_end == 0x1539B60);
  CHECK(x.send_time == -1);
  CHECK(x.payload == "B payload");
  CHECK(x.payload.data() == raw.data() + 25);  // a view, not a copy
}

TEST_CASE("status update: 34 bytes, big-endian, in the documented order") {
  const std::string update = status_update(0x0102030405060708, 0x1112131415161718,
                                           0x2122232425262728, 0x3132333435363738, true);
  const std::string expected(
      "r"
      "\x01\x02\x03\x04\x05\x06\x07\x08"
      "\x11\x12\x13\x14\x15\x16\x17\x18"
      "\x21\x22\x23\x24\x25\x26\x27\x28"
      "\x31\x32\x33\x34\x35\x36\x37\x38"
      "\x01",
      34);
  CHECK(update == expected);

  const std::string idle = status_update(0x16B374D848, 0x16B374D848, 0, -2, false);
  REQUIRE(idle.size() == 34);
  CHECK(idle == Bytes{}.u8('r').u64(0x16B374D848).u64(0x16B374D848).u64(0).u64(-2).u8(0).s);
}

TEST_CASE("LSN text round-trips and rejects what PostgreSQL rejects") {
  CHECK(format_lsn(0x16B374D848) == "16/B374D848");
  CHECK(format_lsn(0) == "0/0");
  CHECK(format_lsn(0x1539B30) == "0/1539B30");
  CHECK(format_lsn(std::numeric_limits<Lsn>::max()) == "FFFFFFFF/FFFFFFFF");
  CHECK(parse_lsn("16/B374D848") == Lsn{0x16B374D848});
  CHECK(parse_lsn("16/b374d848") == Lsn{0x16B374D848});
  CHECK(parse_lsn("0/0") == Lsn{0});
  CHECK(parse_lsn("00000000/00000001") == Lsn{1});
  CHECK(parse_lsn("FFFFFFFF/FFFFFFFF") == std::numeric_limits<Lsn>::max());

  std::mt19937_64 rng(20240101);
  for (int i = 0; i < 1000; ++i) {
    const Lsn lsn = rng() >> (rng() % 64);
    CHECK(parse_lsn(format_lsn(lsn)) == lsn);
  }

  for (const char* bad : {"", "/", "1/", "/1", "1", "G/0", "0/G", "1/2/3", "123456789/0",
                          "0/123456789", " 1/2", "1/2 ", "+1/2", "-1/2", "0x1/2", "1 /2", "1/\n"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_lsn(bad).has_value());
  }
  CHECK_FALSE(parse_lsn(std::string_view("1/2\0", 4)).has_value());
}

TEST_CASE("timestamps: PostgreSQL's 2000-01-01 epoch to Unix time and back") {
  CHECK(pg_to_unix_us(0) == 946'684'800'000'000);
  CHECK(unix_to_pg_us(946'684'800'000'000) == 0);
  CHECK(unix_to_pg_us(0) == -946'684'800'000'000);
  CHECK(unix_to_pg_us(1'704'067'200'000'000) == 757'382'400'000'000);  // 2024-01-01Z
  for (const std::int64_t us :
       {std::int64_t{-5}, std::int64_t{1}, std::int64_t{848'809'296'740'281}}) {
    CHECK(unix_to_pg_us(pg_to_unix_us(us)) == us);
  }
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  CHECK(pg_to_unix_us(kMax) == kMax);  // infinity
  CHECK(pg_to_unix_us(kMin) == kMin);  // -infinity
  CHECK(unix_to_pg_us(kMax) == kMax);
  CHECK(unix_to_pg_us(kMin) == kMin);
  CHECK(pg_to_unix_us(kMax - 1) == kMax);  // saturates instead of overflowing
  CHECK(unix_to_pg_us(kMin + 1) == kMin);
}

TEST_CASE("malformed payloads are DecodeErrors that say what and where") {
  using Catch::Contains;
  const auto insert = [] { return Bytes{}.u8('I').u32(16393).u8('N'); };

  CHECK_THROWS_AS(decode(""), DecodeError);
  CHECK_THROWS_WITH(decode(""), "pgoutput: truncated message type (0 of 1 bytes) at offset 0");
  CHECK_THROWS_WITH(decode("Z"), Contains("unknown message type 'Z'") && Contains("offset 0"));
  CHECK_THROWS_WITH(decode(std::string(1, '\0')), Contains("unknown message type 0x00"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('S').u32(740).u8(1).s), Contains("streaming"));
  CHECK_THROWS_WITH(decode("E"), Contains("streaming"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('P').u8(0).s), Contains("two-phase"));

  // Tuples.
  CHECK_THROWS_WITH(decode(insert().u16(1).u8('b').u32(1).raw("x").s),
                    Contains("binary mode is not enabled") && Contains("offset 8"));
  CHECK_THROWS_WITH(decode(insert().u16(2).u8('n').u8('x').s),
                    Contains("unknown tuple column kind 'x'") && Contains("offset 9"));
  CHECK_THROWS_WITH(decode(insert().u16(0xFFFF).s),
                    Contains("negative tuple column count") && Contains("offset 6"));
  CHECK_THROWS_WITH(decode(insert().u16(3).u8('n').s), Contains("runs past the end"));
  CHECK_THROWS_WITH(decode(insert().u16(1).u8('t').u32(5).raw("abcd").s),
                    Contains("runs past the end") && Contains("offset 13"));
  CHECK_THROWS_WITH(decode(insert().u16(1).u8('t').u32(0xFFFFFFFF).s),
                    Contains("negative text value length"));
  CHECK_THROWS_WITH(decode(insert().u16(1).u8('n').u8('n').s), Contains("1 trailing bytes"));
  CHECK(std::get<Insert>(decode(insert().u16(1).u8('t').u32(0).s)).new_tuple == Tuple{t("")});

  // Tuple markers.
  CHECK_THROWS_WITH(decode(Bytes{}.u8('I').u32(1).u8('K').u16(0).s),
                    Contains("expected tuple marker [N], got 'K'") && Contains("offset 5"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('U').u32(1).u8('X').u16(0).s), Contains("tuple marker"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('U').u32(1).u8('O').u16(0).u8('O').u16(0).s),
                    Contains("tuple marker"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('D').u32(1).u8('N').u16(0).s), Contains("tuple marker"));

  // Relations and types.
  const auto relation = [] { return Bytes{}.u8('R').u32(16393).str("public").str("t"); };
  CHECK_THROWS_WITH(decode(relation().u8('z').u16(0).s), Contains("unknown replica identity 'z'"));
  CHECK_THROWS_WITH(decode(relation().u8('d').u16(0x7FFF).s), Contains("runs past the end"));
  CHECK_THROWS_WITH(decode(relation().u8('d').u16(0x8000).s), Contains("negative"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('R').u32(1).raw("public").s),
                    Contains("unterminated relation namespace"));
  const auto ok = std::get<Relation>(
      decode(relation().u8('i').u16(1).u8(1).str("a").u32(23).u32(0xFFFFFFFF).s));
  CHECK(ok.replica_identity == 'i');
  CHECK(ok.columns.at(0).type_modifier == -1);
  CHECK_THROWS_WITH(decode(Bytes{}.u8('Y').u32(1).str("public").s), Contains("unterminated"));

  // Truncate: a huge count must not be trusted for an allocation.
  CHECK_THROWS_WITH(decode(Bytes{}.u8('T').u32(0x7FFFFFFF).u8(0).u32(1).s),
                    Contains("runs past the end"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('T').u32(0x80000000).u8(0).s), Contains("negative"));

  // Logical messages.
  const auto message = [] { return Bytes{}.u8('M').u8(0).u64(1).str("p"); };
  CHECK_THROWS_WITH(decode(message().u32(4).raw("abc").s), Contains("runs past the end"));
  CHECK_THROWS_WITH(decode(message().u32(0xFFFFFFF0).s), Contains("negative"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('M').u8(2).u64(1).str("p").u32(0).s),
                    Contains("unknown Message flags 2"));
  CHECK(std::get<LogicalMessage>(decode(message().u32(0).s)).content.empty());

  // Fixed-size messages reject anything after them.
  CHECK_THROWS_WITH(decode(Bytes{}.u8('B').u64(1).u64(2).u32(3).u8(0).s),
                    Contains("trailing bytes after Begin") && Contains("offset 21"));
  CHECK_THROWS_WITH(decode(Bytes{}.u8('C').u8(0).u64(1).u64(2).s), Contains("truncated"));
}

TEST_CASE("malformed CopyData buffers are DecodeErrors") {
  using Catch::Contains;
  CHECK_THROWS_AS(parse_copy_data(""), DecodeError);
  CHECK_THROWS_WITH(parse_copy_data("x"), Contains("unknown CopyData type 'x'"));
  // Our own status update is client-to-server only.
  CHECK_THROWS_WITH(parse_copy_data(status_update(1, 1, 1, 1, false)),
                    Contains("unknown CopyData type 'r'"));
  CHECK_THROWS_WITH(parse_copy_data(Bytes{}.u8('w').u64(1).u64(1).u32(0).s),
                    Contains("truncated XLogData sendTime") && Contains("offset 17"));
  CHECK_THROWS_WITH(parse_copy_data(Bytes{}.u8('k').u64(1).u64(1).s), Contains("truncated"));
  CHECK_THROWS_WITH(parse_copy_data(Bytes{}.u8('k').u64(1).u64(1).u8(0).u8(0).s),
                    Contains("trailing") && Contains("offset 18"));
  CHECK_THROWS_WITH(parse_copy_data(Bytes{}.u8('k').u64(1).u64(1).u8(2).s),
                    Contains("replyRequested is 2"));
}

namespace {

// Parses and decodes a heap copy of exactly the buffer's bytes, so ASan (the asan preset) sees any
// read past its end; true when it decoded, false on DecodeError. Anything else fails the test.
bool decodes(std::string_view buffer) {
  const auto copy = std::make_unique<char[]>(buffer.size());
  std::memcpy(copy.get(), buffer.data(), buffer.size());
  try {
    const auto parsed = parse_copy_data({copy.get(), buffer.size()});
    if (const auto* x = std::get_if<XLogData>(&parsed)) decode(x->payload);
    return true;
  } catch (const DecodeError& e) {
    if (std::strstr(e.what(), " at offset ") == nullptr) FAIL("no offset in: " << e.what());
    return false;
  }
}

}  // namespace

TEST_CASE("every truncation of every fixture frame is a DecodeError, never a crash") {
  std::size_t wrong = 0;
  for (const auto& f : frames()) {
    CAPTURE(f.label);
    REQUIRE(decodes(f.bytes));
    // Every field is fixed-size, counted or NUL-terminated, so no strict prefix is complete.
    for (std::size_t len = 0; len < f.bytes.size(); ++len) {
      if (decodes(std::string_view(f.bytes).substr(0, len))) ++wrong;
    }
    if (decodes(f.bytes + '\0')) ++wrong;  // and nothing may follow a complete message
  }
  CHECK(wrong == 0);
}

TEST_CASE("corrupted fixture frames decode or throw DecodeError, never crash") {
  std::mt19937 rng(0x5eed);
  std::size_t decoded = 0;
  std::size_t rejected = 0;
  for (const auto& f : frames()) {
    for (int variant = 0; variant < 200; ++variant) {
      std::string bytes = f.bytes;
      const int flips = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < flips; ++i) {
        // Half the flips hit the first 40 bytes, where the types, counts and lengths are.
        const std::size_t limit =
            (rng() % 2 == 0) ? std::min<std::size_t>(40, bytes.size()) : bytes.size();
        auto& byte = bytes[rng() % limit];
        byte = static_cast<char>(static_cast<unsigned char>(byte) ^ (1 + rng() % 255));
      }
      (decodes(bytes) ? decoded : rejected)++;
    }
  }
  // Both outcomes occur, so the corruptions reach past the first checks.
  CHECK(decoded > 0);
  CHECK(rejected > 0);
}
