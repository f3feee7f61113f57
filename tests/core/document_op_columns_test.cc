// The column-wise decoder of a document chunk's op columns (src/core/storage/document_rows.cc):
// each per-run check, reached by swapping one hand-written op column of a small document (with a
// valid checksum) and asserting the exact error.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "am/document.h"
#include "core/encoding/byte_reader.h"
#include "core/encoding/column_spec.h"
#include "core/storage/chunk.h"
#include "core/storage/op_columns.h"
#include "support/document_chunks.h"
#include "support/hex.h"

namespace am {
namespace {

ActorId actor(std::string_view hex) { return *ActorId::from_hex(hex); }
Document doc_with(std::string_view actor_hex) { return Document(DocumentOptions{actor(actor_hex), TextUnit::kUtf16}); }
std::string json_of(const Document& d) { return d.to_json().value(); }

using test::body_of;
using test::document_chunk;

// ---- malformed op columns ------------------------------------------------------------------
// A document's op columns are decoded column by column and run by run, each run checked once
// (document_rows.cc: read_op_columns, read_successors). The byte-flip sweeps above reach those
// checks only by chance; the tests below give one column of a small document exactly one fault
// and check that load names it.

// Five op rows of actor aaaa (index 0) in two changes, in document order:
//   row 0: root, key "l": makeList                 id 1@0
//   row 1: root, key "x": set 1                    id 4@0, succeeded by 5@0
//   row 2: root, key "x": set 2                    id 5@0
//   row 3: list 1@0, insert after _head: set 1     id 2@0
//   row 4: list 1@0, insert after 2@0: set 2       id 3@0
Document five_op_document() {
  Document d = doc_with("aaaa");
  const ObjId list = d.put_object(ObjId::root(), "l", ObjType::kList).value();
  EXPECT_TRUE(d.insert(list, 0, std::int64_t{1}));
  EXPECT_TRUE(d.insert(list, 1, std::int64_t{2}));
  EXPECT_TRUE(d.put(ObjId::root(), "x", std::int64_t{1}));
  d.commit();
  EXPECT_TRUE(d.put(ObjId::root(), "x", std::int64_t{2}));
  d.commit();
  return d;
}

// One op column: its spec and its bytes as hex ("" drops the column).
struct OpColumn {
  enc::ColumnSpec spec;
  std::string hex;
};

// `body` (a document chunk body without deflated columns) with the given op columns replaced or
// added; everything else is kept byte for byte.
Bytes with_op_columns(const Bytes& body, const std::vector<OpColumn>& replaced) {
  enc::ByteReader r(body);
  const std::uint64_t num_actors = r.uleb().value();
  for (std::uint64_t i = 0; i < num_actors; ++i) (void)r.length_prefixed().value();
  (void)r.bytes(32 * r.uleb().value()).value();  // the heads
  Bytes out(body.begin(), body.begin() + static_cast<std::ptrdiff_t>(r.offset()));
  const auto change_meta = enc::read_column_metadata(r, false).value();
  const auto op_meta = enc::read_column_metadata(r, false).value();
  const auto change_data = enc::read_column_data(r, change_meta).value();
  const auto op_data = enc::read_column_data(r, op_meta).value();
  enc::ColumnSetWriter changes;
  for (const enc::StoredColumn& c : change_data) changes.add(c.spec, Bytes(c.data.begin(), c.data.end()));
  std::map<std::uint32_t, Bytes> ops;  // by spec, so that the writer gets them in order
  for (const enc::StoredColumn& c : op_data) ops[c.spec.raw()] = Bytes(c.data.begin(), c.data.end());
  for (const OpColumn& c : replaced) ops[c.spec.raw()] = test::hex(c.hex);
  enc::ColumnSetWriter op_writer;
  for (auto& [spec, data] : ops) op_writer.add(enc::ColumnSpec::from_raw(spec), std::move(data));
  changes.write_metadata(out);
  op_writer.write_metadata(out);
  changes.write_data(out);
  op_writer.write_data(out);
  const ByteView head_indexes = r.rest();
  out.insert(out.end(), head_indexes.begin(), head_indexes.end());
  return out;
}

Bytes five_op_body() { return body_of(five_op_document().save_no_compress()); }

// The op columns of five_op_document() as save writes them, spelled out so that each fault below
// is visibly one change to one of them.
const std::vector<OpColumn> kFiveOpColumns = {
    {storage::kOpObjActor, "00 03 02 00"},               // null x3, 0 x2
    {storage::kOpObjCounter, "00 03 02 01"},             // null x3, 1 x2
    {storage::kOpKeyActor, "00 04 7f 00"},               // null x4, 0
    {storage::kOpKeyCounter, "00 03 7e 00 02"},          // null x3, deltas 0, 2: _head, 2
    {storage::kOpKeyString, "7f 01 6c 02 01 78 00 02"},  // "l", "x" x2, null x2
    {storage::kOpIdActor, "05 00"},                      // 0 x5
    {storage::kOpIdCounter, "7b 01 03 01 7d 01"},        // deltas 1, 3, 1, -3, 1: 1, 4, 5, 2, 3
    {storage::kOpInsert, "03 02"},                       // false x3, true x2
    {storage::kOpAction, "7f 02 04 01"},                 // makeList, set x4
    {storage::kOpValueMeta, "7f 00 04 14"},              // null, 1-byte int x4
    {storage::kOpValueRaw, "01 02 01 02"},
    {storage::kOpSuccCount, "7e 00 01 03 00"},           // 0, 1, 0 x3
    {storage::kOpSuccActor, "7f 00"},
    {storage::kOpSuccCounter, "7f 05"},
};

// Loads five_op_document() with `faults` in its op columns: the load must fail with `code` and
// a message that contains `message`.
void expect_load_fails(const std::vector<OpColumn>& faults, const std::string& message,
                       ErrorCode code = ErrorCode::kCorruption, const LoadOptions& options = {}) {
  SCOPED_TRACE(message);
  auto d = Document::load(document_chunk(with_op_columns(five_op_body(), faults)), options);
  ASSERT_FALSE(d) << "loaded";
  EXPECT_EQ(d.error().code, code) << d.error().to_string();
  EXPECT_NE(d.error().message.find(message), std::string::npos) << d.error().to_string();
}

// The positive control: the hand-written columns are the saved ones, so the construction alone
// loads; what fails below is the fault.
TEST(DocumentSaveLoadOpColumns, TheHandWrittenColumnsAreTheSavedOnesAndLoad) {
  const Document original = five_op_document();
  const Bytes body = body_of(original.save_no_compress());
  const Bytes rebuilt = with_op_columns(body, kFiveOpColumns);
  EXPECT_EQ(to_hex(rebuilt), to_hex(body));
  auto d = Document::load(document_chunk(rebuilt));
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(d->heads(), original.heads());
  EXPECT_EQ(json_of(*d), R"({"l":[1,2],"x":2})");
  EXPECT_EQ(d->save_no_compress(), original.save_no_compress());
}

// A list whose first element is overwritten and a map, with the map's op between the list's in
// the rows: root, root, list, map, list. The decoder must give the list one index for both of
// its runs (the second run finds the index the first made, across the map's): the overwrite's
// pred is in the list's first run, and an op and its preds must share an object. The op set
// builder refuses the order (an object's ops must be one run), so the document loads by applying
// its rebuilt changes, and saves in document order again.
TEST(DocumentSaveLoadOpColumns, AnObjectInTwoRunsOfRowsLoadsAsTheDocument) {
  Document original = doc_with("aaaa");
  const ObjId list = original.put_object(ObjId::root(), "l", ObjType::kList).value();  // 1@0
  ASSERT_TRUE(original.insert(list, 0, std::int64_t{1}));                              // 2@0
  const ObjId map = original.put_object(ObjId::root(), "m", ObjType::kMap).value();    // 3@0
  ASSERT_TRUE(original.put(map, "k", std::int64_t{1}));                                // 4@0
  original.commit();
  ASSERT_TRUE(original.put(list, std::size_t{0}, std::int64_t{2}));  // 5@0, pred 2@0
  original.commit();
  const std::vector<OpColumn> interleaved = {
      {storage::kOpObjActor, "00 02 03 00"},         // null x2, 0 x3
      {storage::kOpObjCounter, "00 02 7d 01 03 01"},  // null x2, 1, 3, 1
      {storage::kOpKeyActor, "00 04 7f 00"},         // null x4 (_head is null), 0
      {storage::kOpKeyCounter, "00 02 7f 00 00 01 7f 02"},            // null x2, 0 (_head), null, 2
      {storage::kOpKeyString, "7e 01 6c 01 6d 00 01 7f 01 6b 00 01"},  // "l", "m", null, "k", null
      {storage::kOpIdActor, "05 00"},
      {storage::kOpIdCounter, "7b 01 02 7f 02 01"},  // deltas 1, 2, -1, 2, 1: 1, 3, 2, 4, 5
      {storage::kOpInsert, "02 01 02"},              // false x2, true, false x2
      {storage::kOpAction, "7e 02 00 03 01"},        // makeList, makeMap, set x3
      {storage::kOpValueMeta, "02 00 03 14"},        // null x2, 1-byte int x3
      {storage::kOpValueRaw, "01 01 02"},            // l[0] 1, m.k 1, l[0] 2
      {storage::kOpSuccCount, "02 00 7f 01 02 00"},  // 0 x2, 1, 0 x2: 2@0 succeeded by 5@0
      {storage::kOpSuccActor, "7f 00"},
      {storage::kOpSuccCounter, "7f 05"},
  };
  const Bytes body = body_of(original.save_no_compress());
  auto d = Document::load(document_chunk(with_op_columns(body, interleaved)));
  ASSERT_TRUE(d) << d.error().to_string();
  EXPECT_EQ(json_of(*d), R"({"l":[2],"m":{"k":1}})");
  EXPECT_EQ(d->heads(), original.heads());
  EXPECT_EQ(d->save_no_compress(), original.save_no_compress());
}

// check_counter_run checks a delta run once: how far its step may go before the counters pass
// UINT32_MAX. Row 1 may hold UINT32_MAX; row 2 may not.
TEST(DocumentSaveLoadOpColumns, ACounterRunThatPassesUint32MaxIsCorruption) {
  expect_load_fails({{storage::kOpIdCounter, "7f fe ff ff ff 0f 04 01"}},  // UINT32_MAX - 1, then +1 x4
                    "document chunk: op id counter out of range at row 2");
  expect_load_fails({{storage::kOpSuccCount, "7e 00 02 03 00"},  // two successors of row 1
                     {storage::kOpSuccActor, "02 00"},
                     {storage::kOpSuccCounter, "02 ff ff ff ff 0f"}},  // UINT32_MAX, 2 * UINT32_MAX
                    "document chunk: op succ counter out of range at row 1");
}

// ... and how far a negative step may go before they reach 0.
TEST(DocumentSaveLoadOpColumns, ACounterRunThatFallsBelowOneIsCorruption) {
  expect_load_fails({{storage::kOpIdCounter, "7f 03 04 7f"}},  // 3, then 2, 1, 0, -1
                    "document chunk: op id counter out of range at row 3");
  expect_load_fails({{storage::kOpSuccCount, "7e 00 03 03 00"},  // three successors of row 1
                     {storage::kOpSuccActor, "03 00"},
                     {storage::kOpSuccCounter, "7f 02 02 7f"}},  // 2, then 1, 0
                    "document chunk: op succ counter out of range at row 2");
}

// The first counter of a run is checked on its own: at least 1, at most UINT32_MAX.
TEST(DocumentSaveLoadOpColumns, ACounterRunThatStartsOutOfRangeIsCorruption) {
  expect_load_fails({{storage::kOpIdCounter, "7f 01 04 7f"}},  // 1, then a run from 0
                    "document chunk: op id counter 0 out of range at row 1");
  expect_load_fails({{storage::kOpIdCounter, "7f 01 04 ff ff ff ff 0f"}},  // 1, then a run from 2^32
                    "document chunk: op id counter 4294967296 out of range at row 1");
  expect_load_fails({{storage::kOpSuccCounter, "7f 00"}},
                    "document chunk: op succ counter 0 out of range at row 0");
}

// A run of null counters where every op and successor needs one.
TEST(DocumentSaveLoadOpColumns, ANullOpIdOrSuccessorCounterIsCorruption) {
  expect_load_fails({{storage::kOpIdCounter, "7c 01 03 01 7d 00 01"}},  // four counters, a null
                    "document chunk: op id counter is null at row 4");
  expect_load_fails({{storage::kOpSuccCounter, "00 01"}}, "document chunk: op succ counter is null at row 0");
}

// Element key counters are checked row by row (a run of them can mix _head and elements).
TEST(DocumentSaveLoadOpColumns, AnElementKeyCounterOutsideUint32IsCorruption) {
  expect_load_fails({{storage::kOpKeyActor, "00 03 02 00"},  // rows 3 and 4: actor 0
                     {storage::kOpKeyCounter, "00 03 02 ff ff ff ff 0f"}},  // UINT32_MAX, 2 * UINT32_MAX
                    "document chunk: op key counter 8589934590 out of range at row 4");
  expect_load_fails({{storage::kOpKeyCounter, "00 03 7e 00 7f"}},  // _head, then -1
                    "document chunk: op key counter -1 out of range at row 4");
}

// Object counters (not delta-encoded) must also be 1 to UINT32_MAX.
TEST(DocumentSaveLoadOpColumns, AnObjectCounterOutsideUint32IsCorruption) {
  expect_load_fails({{storage::kOpObjCounter, "00 03 02 00"}},
                    "document chunk: op obj counter 0 out of range at row 3");
  expect_load_fails({{storage::kOpObjCounter, "00 03 02 80 80 80 80 10"}},
                    "document chunk: op obj counter 4294967296 out of range at row 3");
}

// An object is the root (both null) or an op id (both present); rows 3 and 4 are in list 1@0.
TEST(DocumentSaveLoadOpColumns, AnObjectWithAnActorButNoCounterIsCorruption) {
  expect_load_fails({{storage::kOpObjCounter, "00 04 7f 01"}},
                    "document chunk: op obj has only one of actor and counter at row 3");
  expect_load_fails({{storage::kOpObjCounter, ""}},  // the whole column left out
                    "document chunk: op obj has only one of actor and counter at row 3");
}

TEST(DocumentSaveLoadOpColumns, AnObjectWithACounterButNoActorIsCorruption) {
  expect_load_fails({{storage::kOpObjActor, "00 04 7f 00"}},
                    "document chunk: op obj has only one of actor and counter at row 3");
  expect_load_fails({{storage::kOpObjActor, ""}},
                    "document chunk: op obj has only one of actor and counter at row 3");
}

// A key string makes a row a map op; an element actor or counter in the same row is refused,
// by whichever of the two columns is read first.
TEST(DocumentSaveLoadOpColumns, AKeyThatIsBothAMapKeyAndAnElementIsCorruption) {
  expect_load_fails({{storage::kOpKeyActor, "7f 00 00 03 7f 00"}},  // actor 0 on row 0 ("l")
                    "document chunk: op has both a map key and an element key at row 0");
  expect_load_fails({{storage::kOpKeyCounter, "00 01 7f 01 00 01 7e 7f 02"}},  // counter 1 on row 1 ("x")
                    "document chunk: op has both a map key and an element key at row 1");
}

// A sequence op needs a key counter, and an actor unless the counter is 0 (_head).
TEST(DocumentSaveLoadOpColumns, ASequenceOpWithoutAnElementKeyIsCorruption) {
  expect_load_fails({{storage::kOpKeyCounter, "00 04 7f 02"}}, "document chunk: op has no key at row 3");
  expect_load_fails({{storage::kOpKeyActor, "00 05"}}, "document chunk: op key actor is null at row 4");
}

TEST(DocumentSaveLoadOpColumns, AHeadKeyWithAnActorIsCorruption) {
  expect_load_fails({{storage::kOpKeyActor, "00 03 02 00"}},
                    "document chunk: _head key with an actor at row 3");
}

// The document has one actor: index 1 is past its table, in every actor column.
TEST(DocumentSaveLoadOpColumns, ActorIndexesPastTheActorTableAreCorruption) {
  expect_load_fails({{storage::kOpObjActor, "00 03 02 01"}},
                    "document chunk: op obj actor index 1 out of range at row 3");
  expect_load_fails({{storage::kOpKeyActor, "00 04 7f 01"}},
                    "document chunk: op key actor index 1 out of range at row 4");
  expect_load_fails({{storage::kOpIdActor, "05 01"}},
                    "document chunk: op id actor index 1 out of range at row 0");
  expect_load_fails({{storage::kOpSuccActor, "7f 01"}},
                    "document chunk: op succ actor index 1 out of range at row 0");
}

TEST(DocumentSaveLoadOpColumns, ANullOpIdOrSuccessorActorIsCorruption) {
  expect_load_fails({{storage::kOpIdActor, "04 00 00 01"}}, "document chunk: op id actor is null at row 4");
  expect_load_fails({{storage::kOpSuccActor, "00 01"}}, "document chunk: op succ actor is null at row 0");
}

// Actions 0..7 only, and no deletes: a document stores them as successors.
TEST(DocumentSaveLoadOpColumns, AnUnknownOrDeleteActionIsCorruption) {
  expect_load_fails({{storage::kOpAction, "7f 02 03 01 7f 08"}},
                    "document chunk: op action missing or unknown at row 4");
  expect_load_fails({{storage::kOpAction, "00 01 04 01"}},
                    "document chunk: op action missing or unknown at row 0");
  expect_load_fails({{storage::kOpAction, "7f 02 7f 03 03 01"}},
                    "document chunk: delete op stored in a document at row 1");
}

// The successor counts say how many successor ids there are; each id column must have exactly
// that many. Here the counts claim two (row 1) or one.
TEST(DocumentSaveLoadOpColumns, SuccessorIdsFewerThanTheCountsClaimAreCorruption) {
  expect_load_fails({{storage::kOpSuccCount, "7e 00 02 03 00"}},
                    "document chunk: op succ actor column ends at row 1");
  expect_load_fails({{storage::kOpSuccCount, "7e 00 02 03 00"}, {storage::kOpSuccActor, "02 00"}},
                    "document chunk: op succ counter column ends at row 1");
  expect_load_fails({{storage::kOpSuccActor, ""}, {storage::kOpSuccCounter, ""}},
                    "document chunk: op succ actor column ends at row 0");
}

TEST(DocumentSaveLoadOpColumns, SuccessorIdsMoreThanTheCountsClaimAreCorruption) {
  expect_load_fails({{storage::kOpSuccActor, "02 00"}},
                    "document chunk: op succ actor column has more items than there are rows");
  expect_load_fails({{storage::kOpSuccCounter, "7e 05 01"}},
                    "document chunk: op succ counter column has more items than there are rows");
  expect_load_fails({{storage::kOpSuccCount, ""}},  // no successors at all
                    "document chunk: op succ actor column has more items than there are rows");
}

// Successor counts are paid for run by run before any successor is read.
TEST(DocumentSaveLoadOpColumns, SuccessorCountsPastTheBudgetAreResourceLimits) {
  LoadOptions tight;
  tight.max_inflated_bytes = 1 << 20;
  expect_load_fails({{storage::kOpSuccCount, "7e 00 80 80 40 03 00"}},  // 2^20 successors of row 1
                    "document chunk: decodes to more than the configured limit", ErrorCode::kResourceLimit,
                    tight);
  LoadOptions unlimited;
  unlimited.max_inflated_bytes = SIZE_MAX;
  expect_load_fails({{storage::kOpSuccCount, "7e 00 80 80 80 80 10 03 00"}},  // 2^32 successors of row 1
                    "document chunk: 4 Gi successors or more", ErrorCode::kResourceLimit, unlimited);
}

// for_each_run: a column must supply exactly one item per row, whether a run ends early,
// overshoots the last row or follows it.
TEST(DocumentSaveLoadOpColumns, AColumnShorterOrLongerThanTheRowsIsCorruption) {
  expect_load_fails({{storage::kOpIdActor, "04 00"}}, "document chunk: op id actor column ends at row 4");
  expect_load_fails({{storage::kOpIdActor, ""}}, "document chunk: op id actor column ends at row 0");
  expect_load_fails({{storage::kOpIdCounter, ""}}, "document chunk: op id counter column ends at row 0");
  expect_load_fails({{storage::kOpIdActor, "06 00"}},
                    "document chunk: op id actor column has more items than there are rows");
  expect_load_fails({{storage::kOpIdActor, "05 00 7f 00"}},
                    "document chunk: op id actor column has more items than there are rows");
  expect_load_fails({{storage::kOpIdCounter, "7a 01 03 01 7d 01 01"}},  // a literal run of six
                    "document chunk: op id counter column has more items than there are rows");
}

// A run the reader cannot decode is reported with its column and offset.
TEST(DocumentSaveLoadOpColumns, MalformedRunsNameTheirColumnAndOffset) {
  expect_load_fails({{storage::kOpIdActor, "05"}},
                    "document chunk: op id actor: truncated LEB128 at offset 1");
  expect_load_fails({{storage::kOpKeyString, "7f 01 ff 02 01 78 00 02"}},
                    "document chunk: op key string: invalid UTF-8 in string at offset 2");
  expect_load_fails({{storage::kOpKeyString, "7f 09 6c 02 01 78 00 02"}},
                    "document chunk: op key string: string length past end of column at offset 2");
  expect_load_fails({{storage::kOpInsert, "03 82"}},
                    "document chunk: op insert: truncated LEB128 at offset 1");
}

// for_each_true_run: a present boolean column covers every row, no more.
TEST(DocumentSaveLoadOpColumns, ABooleanColumnShorterOrLongerThanTheRowsIsCorruption) {
  expect_load_fails({{storage::kOpInsert, "03"}}, "document chunk: op insert column ends at row 3");
  expect_load_fails({{storage::kOpInsert, "03 03"}},
                    "document chunk: op insert column has more items than there are rows");
  expect_load_fails({{storage::kOpInsert, "03 02 01"}},
                    "document chunk: op insert column has more items than there are rows");
  expect_load_fails({{storage::kOpExpand, "03"}}, "document chunk: op expand column ends at row 3");
  expect_load_fails({{storage::kOpExpand, "05 01"}},
                    "document chunk: op expand column has more items than there are rows");
}

// The value metadata claims the raw value bytes run by run; they must add up exactly.
// Two rows with one op id. build_preds indexes an actor's ids in an array by counter when they
// are dense, in a hash table of rows otherwise: both must find the duplicate.
TEST(DocumentSaveLoadOpColumns, ADuplicateOpIdIsCorruption) {
  expect_load_fails({{storage::kOpIdCounter, "7b 01 03 01 7d 00"}},  // 1, 4, 5, 2, 2: dense
                    "duplicate op id 2@actor0");
  expect_load_fails({{storage::kOpIdCounter, "7b 01 27 01 59 00"},  // 1, 40, 41, 2, 2: sparse
                     {storage::kOpSuccCounter, "7f 29"}},          // row 1 succeeded by 41
                    "duplicate op id 2@actor0");
}

// A successor is an op of the same object; one that is no stored op is a delete, rebuilt as a
// delete of the first op that lists it, and every op that lists it must share that op's key.
TEST(DocumentSaveLoadOpColumns, ASuccessorInAnotherObjectOrAtAnotherKeyIsCorruption) {
  expect_load_fails({{storage::kOpSuccCount, "7b 00 01 00 01 00"},  // rows 1 and 3: one each
                     {storage::kOpSuccActor, "02 00"},
                     {storage::kOpSuccCounter, "7e 05 00"}},  // both 5@0: row 2, at root "x"
                    "document chunk: op 5@actor0 succeeds an op in another object");
  expect_load_fails({{storage::kOpSuccCount, "7b 00 01 00 01 00"},
                     {storage::kOpSuccActor, "02 00"},
                     {storage::kOpSuccCounter, "7e 06 00"}},  // both 6@0: no stored op
                    "document chunk: op 6@actor0 deletes ops at different keys");
  expect_load_fails({{storage::kOpSuccCount, "7b 00 00 00 01 01"},  // rows 3 and 4: elements 2, 3
                     {storage::kOpSuccActor, "02 00"},
                     {storage::kOpSuccCounter, "7e 06 00"}},
                    "document chunk: op 6@actor0 deletes ops at different keys");
}

TEST(DocumentSaveLoadOpColumns, ValueLengthsMustMatchTheRawValueColumn) {
  expect_load_fails({{storage::kOpValueMeta, "7f 00 04 24"}},  // four 2-byte ints: 8 bytes of 4
                    "document chunk: op value: value length runs past the raw value column at offset 0");
  expect_load_fails({{storage::kOpValueRaw, "01 02 01 02 03"}},
                    "document chunk: op value column has unclaimed bytes");
}

}  // namespace
}  // namespace am
