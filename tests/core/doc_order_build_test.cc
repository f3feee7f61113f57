// Loading a document by building its op set in document order (core/opset/op_set_builder.h):
// the same state as applying its changes, checked on seeded random histories (and on what
// happens to both afterwards), the orders the builder refuses, and the bulk id index.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "am/document.h"
#include "core/document_impl.h"
#include "core/encoding/byte_reader.h"
#include "core/opset/op_set_builder.h"
#include "core/storage/chunk.h"
#include "core/util/big_alloc.h"

namespace am {
namespace {

ActorId actor(std::string_view hex) { return *ActorId::from_hex(hex); }
Document doc_with(std::string_view actor_hex) { return Document(DocumentOptions{actor(actor_hex), TextUnit::kUtf16}); }

// The same bytes loaded the other way: each change's ops applied, as before the builder.
Document load_by_applying(const Bytes& saved, std::string_view actor_hex) {
  Document d = doc_with(actor_hex);
  enc::ByteReader r(saved, "chunk");
  auto chunk = storage::read_chunk(r);
  EXPECT_TRUE(chunk.has_value());
  Status s = detail::DocumentAccess::impl_mut(d).stream_document_pass(chunk->body, true, kDefaultMaxInflatedBytes,
                                                                      /*in_document_order=*/false, nullptr);
  EXPECT_TRUE(s) << s.error().to_string();
  return d;
}

// A random history on three replicas: text typed and deleted, marks, a list of values and
// maps, map keys overwritten and removed, a counter incremented; merges in between.
struct History {
  explicit History(std::uint32_t seed) : rng(seed) {
    for (const char* a : {"aaaa", "bbbb", "cccc"}) replicas.push_back(doc_with(a));
    Document& first = replicas[0];
    text = *first.put_object(ObjId::root(), "text", ObjType::kText);
    list = *first.put_object(ObjId::root(), "list", ObjType::kList);
    EXPECT_TRUE(first.put(ObjId::root(), "n", Counter{0}));
    first.commit();
    for (std::size_t i = 1; i < replicas.size(); ++i) EXPECT_TRUE(replicas[i].merge(first));
  }
  std::size_t pick(std::size_t n) { return static_cast<std::size_t>(rng() % n); }

  void edit(Document& d) {
    const std::size_t len = *d.length(text);
    switch (pick(8)) {
      case 0: case 1: case 2: {
        const std::string word = std::string(1 + pick(5), static_cast<char>('a' + pick(26)));
        EXPECT_TRUE(d.splice_text(text, pick(len + 1), 0, pick(6) == 0 ? word + "\xc3\xa9" : word));
        break;
      }
      case 3:
        if (len > 0) {
          const std::size_t at = pick(len);
          EXPECT_TRUE(d.splice_text(text, at, 1 + pick(std::min<std::size_t>(len - at, 4)), ""));
        }
        break;
      case 4:
        if (len > 1) {
          const std::size_t a = pick(len - 1);
          EXPECT_TRUE(d.mark(text, a, a + 1 + pick(len - a - 1), pick(2) ? ExpandMark::kAfter : ExpandMark::kNone,
                             pick(2) ? "bold" : "link", std::string("v") + std::to_string(pick(3))));
        }
        break;
      case 5: {
        const std::size_t n = *d.length(list);
        if (n > 0 && pick(3) == 0) {
          EXPECT_TRUE(d.remove(list, pick(n)));
        } else if (n > 0 && pick(2) == 0) {
          EXPECT_TRUE(d.put(list, pick(n), std::int64_t(pick(100))));
        } else if (pick(4) == 0) {
          auto m = d.insert_object(list, pick(n + 1), ObjType::kMap);
          EXPECT_TRUE(m.has_value());
          EXPECT_TRUE(d.put(*m, "x", std::int64_t(pick(10))));
        } else {
          EXPECT_TRUE(d.insert(list, pick(n + 1), std::string("e") + std::to_string(pick(50))));
        }
        break;
      }
      case 6:
        if (pick(4) == 0) {
          (void)d.remove(ObjId::root(), "k" + std::to_string(pick(4)));  // may not exist
        } else {
          EXPECT_TRUE(d.put(ObjId::root(), "k" + std::to_string(pick(4)), std::int64_t(pick(100))));
        }
        break;
      default: EXPECT_TRUE(d.increment(ObjId::root(), "n", 1 + static_cast<std::int64_t>(pick(5)))); break;
    }
  }

  void run(std::size_t rounds) {
    for (std::size_t round = 0; round < rounds; ++round) {
      Document& d = replicas[pick(replicas.size())];
      for (std::size_t e = 1 + pick(4); e > 0; --e) edit(d);
      d.commit();
      if (Document& other = replicas[pick(replicas.size())]; pick(3) == 0 && &other != &d) {
        EXPECT_TRUE(other.merge(d));
      }
    }
  }

  std::mt19937 rng;
  std::vector<Document> replicas;
  ObjId text, list;
};

void expect_same(const Document& built, const Document& applied, const ObjId& text) {
  EXPECT_EQ(*built.to_json(), *applied.to_json());
  EXPECT_EQ(*built.marks(text), *applied.marks(text));
  EXPECT_EQ(built.save_no_compress(), applied.save_no_compress());
}

TEST(DocOrderBuild, RandomHistoriesLoadAsTheirChangesApplyAndStayEqualAfterEdits) {
  const std::uint32_t base = std::random_device{}();
  std::cout << "[ seed     ] DocOrderBuild: base seed " << base << "\n";
  std::size_t ops_seen = 0;
  for (std::uint32_t trial = 0; trial < 40; ++trial) {
    const std::uint32_t seed = base + trial;
    SCOPED_TRACE("seed " + std::to_string(seed));
    History h(seed);
    h.run(5 + h.pick(150));
    Document all = h.replicas[0].fork(actor("dddd"));
    for (Document& r : h.replicas) ASSERT_TRUE(all.merge(r));
    const Bytes saved = all.save();

    auto built = Document::load(saved, LoadOptions{.actor = actor("eeee")});
    ASSERT_TRUE(built) << built.error().to_string();
    EXPECT_TRUE(detail::DocumentAccess::impl(*built).loaded_in_document_order);
    Document applied = load_by_applying(saved, "eeee");
    EXPECT_FALSE(detail::DocumentAccess::impl(applied).loaded_in_document_order);
    expect_same(*built, applied, h.text);
    ops_seen += built->change_count();
    const core::OpSet& ops = detail::DocumentAccess::impl(*built).opset();
    for (std::uint32_t oi = 0; oi < ops.object_count(); ++oi) {
      EXPECT_EQ(ops.object(oi).seq.check_invariants(), "");
    }

    // The same edits on both, local and merged from the replicas' next edits: the element
    // order, key histories and widths the builder made must behave as the applied ones.
    History more(seed ^ 0x9e3779b9u);
    for (int k = 0; k < 10; ++k) {
      const std::size_t len = *built->length(h.text);
      const std::size_t at = more.pick(len + 1);
      ASSERT_TRUE(built->splice_text(h.text, at, 0, "Z"));
      ASSERT_TRUE(applied.splice_text(h.text, at, 0, "Z"));
      if (len > 2) {
        ASSERT_TRUE(built->splice_text(h.text, 1, 1, ""));
        ASSERT_TRUE(applied.splice_text(h.text, 1, 1, ""));
      }
      ASSERT_TRUE(built->put(ObjId::root(), "k1", std::int64_t(k)));
      ASSERT_TRUE(applied.put(ObjId::root(), "k1", std::int64_t(k)));
      ASSERT_TRUE(built->increment(ObjId::root(), "n", 2));
      ASSERT_TRUE(applied.increment(ObjId::root(), "n", 2));
      built->commit(CommitOptions{.message = std::nullopt, .time = 1});
      applied.commit(CommitOptions{.message = std::nullopt, .time = 1});
    }
    h.run(10);
    for (Document& r : h.replicas) {
      ASSERT_TRUE(built->merge(r));
      ASSERT_TRUE(applied.merge(r));
    }
    expect_same(*built, applied, h.text);
  }
  std::cout << "[ histories] 40 documents, " << ops_seen << " changes loaded both ways\n";
  EXPECT_GT(ops_seen, 40u * 5u);
}

// An insert's reference element (the one it was inserted after) is not stored in the op when it
// is the element made just before its own (OpSet::insert_ref): typing, when ops are applied, and
// a run in document order, when a document is loaded. Only the others are kept apart.
TEST(DocOrderBuild, InsertRefsAreKeptApartOnlyWhenNotTheElementMadeBefore) {
  Document d = doc_with("aaaa");
  const ObjId text = *d.put_object(ObjId::root(), "text", ObjType::kText);
  ASSERT_TRUE(d.splice_text(text, 0, 0, "abc"));
  ASSERT_TRUE(d.splice_text(text, 1, 0, "x"));  // after 'a', made after 'c'
  d.commit();
  auto loaded = Document::load(d.save());
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  ASSERT_TRUE(detail::DocumentAccess::impl(*loaded).loaded_in_document_order);

  // Each document: character -> the character its element follows ('^' for the head), and how
  // many inserts are kept apart. Applied, x (made fourth, after the first) is; loaded in
  // document order (a x b c), b is.
  for (const auto& [doc, elsewhere] : {std::pair<const Document*, char>{&d, 'x'}, {&*loaded, 'b'}}) {
    const core::OpSet& ops = detail::DocumentAccess::impl(*doc).opset();
    const core::Object& o = ops.object(*ops.object_index(core::OpId{1, 0}));
    auto char_of = [&](std::uint32_t handle) {
      return handle == core::kNone32 ? '^' : ops.op(o.elems[handle].insert_op).value.str()[0];
    };
    std::map<char, char> follows;
    std::string kept_apart;
    for (std::uint32_t h = 0; h < o.elems.size(); ++h) {
      const std::uint32_t idx = o.elems[h].insert_op;
      follows[char_of(h)] = char_of(ops.insert_ref(idx));
      if (ops.op(idx).ref_elsewhere) kept_apart += char_of(h);
    }
    EXPECT_EQ(follows, (std::map<char, char>{{'a', '^'}, {'b', 'a'}, {'c', 'b'}, {'x', 'a'}}));
    EXPECT_EQ(kept_apart, std::string(1, elsewhere));
  }
  EXPECT_EQ(*loaded->text(text), "axbc");
  EXPECT_EQ(loaded->save_no_compress(), d.save_no_compress());
}

// A document with many sequences packs their small arrays into huge-page slabs while it loads
// (core/util/big_alloc.h, BulkBlocks): the loaded state is the applied one, edits after the load
// move arrays out of the slabs, and the slabs go with the document.
TEST(DocOrderBuild, ManySequencesLoadIntoSlabsThatGoWithTheDocument) {
  Document d = doc_with("aaaa");
  std::vector<ObjId> lists;
  for (int i = 0; i < 320; ++i) {
    auto list = d.put_object(ObjId::root(), "l" + std::to_string(i), ObjType::kList);
    ASSERT_TRUE(list);
    lists.push_back(*list);
    for (std::int64_t k = 0; k < 220; ++k) ASSERT_TRUE(d.insert(*list, static_cast<std::size_t>(k), k));
  }
  d.commit();
  const Bytes saved = d.save();
  const std::size_t slabs_before = core::BulkBlocks::live_slabs();
  {
    auto built = Document::load(saved, LoadOptions{.actor = actor("eeee")});
    ASSERT_TRUE(built) << built.error().to_string();
    EXPECT_TRUE(detail::DocumentAccess::impl(*built).loaded_in_document_order);
    EXPECT_GT(core::BulkBlocks::live_slabs(), slabs_before);
    Document applied = load_by_applying(saved, "eeee");
    EXPECT_EQ(built->save(), applied.save());
    // Grow every list past what its load-time arrays hold, on both.
    for (const ObjId& list : lists) {
      for (std::size_t k = 0; k < 80; ++k) {
        ASSERT_TRUE(built->insert(list, k * 2, std::int64_t(-1)));
        ASSERT_TRUE(applied.insert(list, k * 2, std::int64_t(-1)));
      }
    }
    built->commit(CommitOptions{.message = std::nullopt, .time = 1});
    applied.commit(CommitOptions{.message = std::nullopt, .time = 1});
    EXPECT_EQ(built->save(), applied.save());
    EXPECT_EQ(*built->length(lists.back()), 300u);
  }
  EXPECT_EQ(core::BulkBlocks::live_slabs(), slabs_before);
}

// A writer that puts two concurrent inserts at the list head in ascending order (RGA gives
// descending): the builder refuses the order, and the document loads by applying its changes,
// in RGA order, as the reference loads it.
TEST(DocOrderBuild, ADocumentOutOfRgaOrderLoadsByApplyingItsChanges) {
  Document a = doc_with("aaaa");
  const ObjId list = *a.put_object(ObjId::root(), "l", ObjType::kList);
  a.commit();
  Document b = a.fork(actor("bbbb"));
  ASSERT_TRUE(a.insert(list, 0, std::string("x")));
  a.commit();
  ASSERT_TRUE(b.insert(list, 0, std::string("x")));
  b.commit();
  ASSERT_TRUE(a.merge(b));
  const Bytes saved = a.save_no_compress();

  // The id actor column of the three op rows (make list by aaaa = actor 0, then 2@bbbb, 2@aaaa
  // in RGA order): [0, 1, 0], a literal run of three. Swapping the two inserts makes it
  // [0, 0, 1]: a run of two zeros and a literal one, as long.
  enc::ByteReader r(saved, "chunk");
  auto chunk = storage::read_chunk(r);
  ASSERT_TRUE(chunk);
  Bytes body(chunk->body.begin(), chunk->body.end());
  const Bytes rga_order{0x7d, 0x00, 0x01, 0x00}, swapped{0x02, 0x00, 0x7f, 0x01};
  std::vector<std::size_t> at;
  for (std::size_t i = 0; i + rga_order.size() <= body.size(); ++i) {
    if (std::equal(rga_order.begin(), rga_order.end(), body.begin() + static_cast<std::ptrdiff_t>(i))) at.push_back(i);
  }
  ASSERT_EQ(at.size(), 1u) << "the id actor column is not where this test expects it";
  std::copy(swapped.begin(), swapped.end(), body.begin() + static_cast<std::ptrdiff_t>(at[0]));
  const Bytes out_of_order = storage::write_chunk(storage::ChunkType::kDocument, body);

  auto loaded = Document::load(out_of_order);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  EXPECT_FALSE(detail::DocumentAccess::impl(*loaded).loaded_in_document_order);
  EXPECT_EQ(*loaded->to_json(), *a.to_json());
  EXPECT_EQ(loaded->heads(), a.heads());
  EXPECT_EQ(loaded->save_no_compress(), saved);  // written back in RGA order
}

// ---- the builder on its own ----------------------------------------------------------------

class DocOrderBuilderTest : public ::testing::Test {
 protected:
  DocOrderBuilderTest() {
    a_ = actors_.intern(Bytes{0xaa});
    b_ = actors_.intern(Bytes{0xbb});
  }
  core::OpView make_text(core::OpId id) {
    core::OpView v;
    v.id = id;
    v.map_key = "t";
    v.action = Action::kMakeText;
    v.value = &null_;
    return v;
  }
  core::OpView insert(core::OpId id, core::OpId obj, core::OpId after, const ScalarValue* value) {
    core::OpView v;
    v.id = id;
    v.obj = obj;
    v.elem = after;
    v.insert = true;
    v.value = value;
    return v;
  }
  std::string text_of(core::OpSet& ops) {
    const core::Object& o = ops.object(*ops.object_index(core::OpId{1, a_}));
    std::string out;
    o.seq.for_each([&](std::uint32_t h) {
      const core::Op& op = ops.op(o.elems[h].insert_op);
      if (o.seq.width_of(h).chars > 0) out += op.value.str();
    });
    return out;
  }

  core::ActorTable actors_;
  std::uint32_t a_ = 0, b_ = 0;
  ScalarValue null_ = Null{};
  ScalarValue x_ = std::string("x"), y_ = std::string("y"), z_ = std::string("z");
};

TEST_F(DocOrderBuilderTest, BuildsRgaOrderWithSiblingsByDescendingId) {
  core::DocOrderBuilder b(actors_, 4);
  const core::OpId text{1, a_};
  ASSERT_TRUE(b.add(make_text(text), {}));
  // "y" (2@bb) and "x" (2@aa) both at the head: bb sorts after aa, so "y" comes first; "z"
  // follows "x"; "x" is deleted by 5@aa.
  ASSERT_TRUE(b.add(insert({2, b_}, text, {}, &y_), {}));
  const core::OpId del{5, a_};
  ASSERT_TRUE(b.add(insert({2, a_}, text, {}, &x_), std::span<const core::OpId>(&del, 1)));
  ASSERT_TRUE(b.add(insert({3, a_}, text, {2, a_}, &z_), {}));
  core::OpSet out(actors_);
  ASSERT_TRUE(b.finish(out));
  EXPECT_EQ(text_of(out), "yz");
}

TEST_F(DocOrderBuilderTest, RefusesSiblingsInAscendingOrder) {
  core::DocOrderBuilder b(actors_, 3);
  const core::OpId text{1, a_};
  ASSERT_TRUE(b.add(make_text(text), {}));
  ASSERT_TRUE(b.add(insert({2, a_}, text, {}, &x_), {}));
  EXPECT_FALSE(b.add(insert({2, b_}, text, {}, &y_), {}));  // RGA puts it first
  EXPECT_FALSE(b.add(insert({3, a_}, text, {2, a_}, &z_), {}));  // refused builders stay refused
  core::OpSet out(actors_);
  EXPECT_FALSE(b.finish(out));
}

TEST_F(DocOrderBuilderTest, RefusesAnElementWhoseParentIsNotOnThePath) {
  core::DocOrderBuilder b(actors_, 4);
  const core::OpId text{1, a_};
  ASSERT_TRUE(b.add(make_text(text), {}));
  ASSERT_TRUE(b.add(insert({3, a_}, text, {}, &x_), {}));
  ASSERT_TRUE(b.add(insert({2, a_}, text, {}, &y_), {}));  // a smaller sibling: x's subtree is done
  EXPECT_FALSE(b.add(insert({4, a_}, text, {3, a_}, &z_), {}));  // a child of x after it
}

TEST_F(DocOrderBuilderTest, RefusesOutOfOrderKeysObjectsAndSuccessors) {
  {
    core::DocOrderBuilder b(actors_, 2);
    core::OpView v;
    v.id = {3, a_};
    v.map_key = "k";
    v.value = &x_;
    ASSERT_TRUE(b.add(v, {}));
    v.id = {2, a_};  // a key's ops ascend
    EXPECT_FALSE(b.add(v, {}));
  }
  {
    core::DocOrderBuilder b(actors_, 5);
    const core::OpId text{1, a_}, other{2, a_};
    ASSERT_TRUE(b.add(make_text(text), {}));
    core::OpView second = make_text(other);
    second.map_key = "u";
    ASSERT_TRUE(b.add(second, {}));
    ASSERT_TRUE(b.add(insert({3, a_}, text, {}, &x_), {}));
    ASSERT_TRUE(b.add(insert({4, a_}, other, {}, &y_), {}));
    EXPECT_FALSE(b.add(insert({5, a_}, text, {3, a_}, &z_), {}));  // objects are one run each
  }
  {
    core::DocOrderBuilder b(actors_, 1);
    core::OpView v;
    v.id = {3, a_};
    v.map_key = "k";
    v.value = &x_;
    const core::OpId earlier{2, b_};
    EXPECT_FALSE(b.add(v, std::span<const core::OpId>(&earlier, 1)));  // a successor comes later
  }
  {
    core::DocOrderBuilder b(actors_, 1);
    core::OpView v;
    v.id = {3, a_};
    v.map_key = "k";
    v.action = Action::kDelete;  // deletes are not stored
    v.value = &null_;
    EXPECT_FALSE(b.add(v, {}));
  }
}

TEST_F(DocOrderBuilderTest, ACounterSumsItsIncrementsAndIsHiddenOnlyByOtherSuccessors) {
  core::DocOrderBuilder b(actors_, 3);
  ScalarValue counter = Counter{10}, by3 = std::int64_t{3}, by4 = std::uint64_t{4};
  core::OpView c;
  c.id = {1, a_};
  c.map_key = "n";
  c.value = &counter;
  const std::vector<core::OpId> succ{{2, a_}, {3, a_}};
  ASSERT_TRUE(b.add(c, succ));
  core::OpView inc = c;
  inc.action = Action::kIncrement;
  inc.id = {2, a_};
  inc.value = &by3;
  ASSERT_TRUE(b.add(inc, {}));
  inc.id = {3, a_};
  inc.value = &by4;
  ASSERT_TRUE(b.add(inc, {}));
  core::OpSet out(actors_);
  ASSERT_TRUE(b.finish(out));
  const core::Op& op = out.op(*out.op_index(core::OpId{1, a_}));
  EXPECT_TRUE(op.visible());
  EXPECT_EQ(out.inc_total(op), 7);
}

// Typed characters (add_typed_char) make what add() makes for the same ops: the text, the
// deleted character hidden, and a later sibling still placed by RGA order.
TEST_F(DocOrderBuilderTest, TypedCharactersBuildWhatAddBuilds) {
  const core::OpId text{1, a_};
  const core::OpId del{9, b_};
  core::OpSet by_add(actors_), by_typing(actors_);
  {
    core::DocOrderBuilder b(actors_, 6);
    ASSERT_TRUE(b.add(make_text(text), {}));
    ASSERT_TRUE(b.add(insert({5, b_}, text, {}, &z_), {}));  // a sibling typed later, first in RGA
    ASSERT_TRUE(b.add(insert({2, a_}, text, {}, &x_), {}));
    ASSERT_TRUE(b.add(insert({3, a_}, text, {2, a_}, &y_), std::span<const core::OpId>(&del, 1)));
    ASSERT_TRUE(b.add(insert({4, a_}, text, {3, a_}, &z_), {}));
    ASSERT_TRUE(b.finish(by_add));
  }
  {
    core::DocOrderBuilder b(actors_, 6);
    ASSERT_TRUE(b.add(make_text(text), {}));
    ASSERT_TRUE(b.add(insert({5, b_}, text, {}, &z_), {}));
    ASSERT_TRUE(b.add(insert({2, a_}, text, {}, &x_), {}));
    ASSERT_TRUE(b.add_typed_char({3, a_}, 'y', std::span<const core::OpId>(&del, 1)));
    ASSERT_TRUE(b.add_typed_char({4, a_}, 'z', {}));
    ASSERT_TRUE(b.finish(by_typing));
  }
  EXPECT_EQ(text_of(by_add), "zxz");
  EXPECT_EQ(text_of(by_typing), text_of(by_add));
  for (const core::OpId id : {core::OpId{3, a_}, core::OpId{4, a_}}) {
    const std::uint32_t want_idx = *by_add.op_index(id), got_idx = *by_typing.op_index(id);
    const core::Op& want = by_add.op(want_idx);
    const core::Op& got = by_typing.op(got_idx);
    EXPECT_EQ(got.key, want.key);
    EXPECT_EQ(by_typing.insert_ref(got_idx), by_add.insert_ref(want_idx));
    EXPECT_EQ(got.visible(), want.visible());
    EXPECT_EQ(by_typing.successors(got_idx).size(), by_add.successors(want_idx).size());
    EXPECT_EQ(got.value.str(), want.value.str());
  }
}

TEST_F(DocOrderBuilderTest, TypedCharactersRefuseWhatBreaksOrder) {
  const core::OpId text{1, a_};
  {
    core::DocOrderBuilder b(actors_, 2);
    ASSERT_TRUE(b.add(make_text(text), {}));
    EXPECT_FALSE(b.add_typed_char({2, a_}, 'x', {}));  // the previous op made no element
  }
  {
    core::DocOrderBuilder b(actors_, 2);
    ASSERT_TRUE(b.add(make_text(text), {}));
    ASSERT_TRUE(b.add(insert({3, a_}, text, {}, &x_), {}));
    EXPECT_FALSE(b.add_typed_char({3, b_}, 'y', {}));  // not after its parent
    EXPECT_FALSE(b.add_typed_char({4, a_}, 'y', {}));  // refused builders stay refused
  }
  {
    core::DocOrderBuilder b(actors_, 2);
    ASSERT_TRUE(b.add(make_text(text), {}));
    ASSERT_TRUE(b.add(insert({3, a_}, text, {}, &x_), {}));
    const core::OpId earlier{4, b_};
    EXPECT_FALSE(b.add_typed_char({4, a_}, 'y', std::span<const core::OpId>(&earlier, 1)));  // a successor comes later
  }
}

// ---- the id index built in one pass ----------------------------------------------------------

TEST(OpIdIndexAssign, DenseAndSparseActorsInAnyOrderThenInserts) {
  std::mt19937 rng(7);
  std::vector<core::OpId> ids;
  for (std::uint32_t c = 1; c <= 1000; ++c) {
    if (c % 7 != 0) ids.push_back({c, 0});  // dense, with gaps
  }
  for (std::uint32_t c = 1; c <= 50; ++c) ids.push_back({c * 1000, 1});  // sparse
  ids.push_back({UINT32_MAX, 2});
  std::shuffle(ids.begin(), ids.end(), rng);
  core::OpIdIndex index;
  ASSERT_TRUE(index.assign(ids.size(), [&](std::size_t i) { return ids[i]; }));
  EXPECT_EQ(index.size(), ids.size());
  for (std::size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(index.find(ids[i]), i);
  EXPECT_FALSE(index.find({7, 0}).has_value());
  EXPECT_FALSE(index.find({1500, 1}).has_value());
  EXPECT_FALSE(index.find({1, 3}).has_value());
  // Later inserts: a gap's slot, past the end, between sparse runs, and a duplicate.
  EXPECT_TRUE(index.insert({7, 0}, 9001));
  EXPECT_TRUE(index.insert({1001, 0}, 9002));
  EXPECT_TRUE(index.insert({1500, 1}, 9003));
  EXPECT_FALSE(index.insert({3, 0}, 9004));
  EXPECT_EQ(index.find({7, 0}), 9001u);
  EXPECT_EQ(index.find({1001, 0}), 9002u);
  EXPECT_EQ(index.find({1500, 1}), 9003u);

  std::vector<core::OpId> dup{{5, 0}, {6, 0}, {5, 0}};
  EXPECT_FALSE(index.assign(dup.size(), [&](std::size_t i) { return dup[i]; }));
  EXPECT_EQ(index.size(), 0u);
  EXPECT_FALSE(index.find({5, 0}).has_value());
  std::vector<core::OpId> sparse_dup{{5, 1}, {50000, 1}, {5, 1}};
  EXPECT_FALSE(index.assign(sparse_dup.size(), [&](std::size_t i) { return sparse_dup[i]; }));
}

// The radix path of the sparse actors' sort: the order std::sort gives, for counters over all 32
// bits (three passes), over a few bits, all equal, and with duplicates (which stay adjacent).
TEST(OpIdIndexAssign, TheRadixSortOfCountersIsStdSortsOrder) {
  const std::uint32_t seed = 20261207;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  using Pairs = core::ScratchVector<std::pair<std::uint32_t, std::uint32_t>>;
  Pairs scratch;
  for (const std::uint32_t span : {UINT32_MAX, 3000u, 0u}) {
    SCOPED_TRACE("counters within " + std::to_string(span));
    Pairs pairs;
    std::uniform_int_distribution<std::uint32_t> counter(1, 1 + std::min(span, UINT32_MAX - 1));
    for (std::uint32_t i = 0; i < 5000; ++i) pairs.emplace_back(counter(rng), i);
    pairs.emplace_back(pairs[17].first, 5000);  // a duplicate counter
    ASSERT_GE(pairs.size(), core::detail::kRadixMinPairs);
    Pairs expected = pairs;
    std::sort(expected.begin(), expected.end());
    core::detail::sort_by_counter(pairs, scratch);
    EXPECT_TRUE(pairs == expected);
  }
}

TEST(OpIdIndexAssign, ALongSparseActorIsFoundAndItsDuplicatesRefused) {
  std::mt19937 rng(11);
  std::vector<core::OpId> ids;
  for (std::uint32_t c = 1; c <= 3000; ++c) ids.push_back({c * 977, 0});  // sparse: every 977th
  std::shuffle(ids.begin(), ids.end(), rng);
  core::OpIdIndex index;
  ASSERT_TRUE(index.assign(ids.size(), [&](std::size_t i) { return ids[i]; }));
  for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(index.find(ids[i]), i);
  EXPECT_FALSE(index.find({978, 0}).has_value());
  ids.push_back(ids[1234]);
  EXPECT_FALSE(index.assign(ids.size(), [&](std::size_t i) { return ids[i]; }));
}

// A loaded document's ids in document order: an actor whose consecutive counters mostly have
// consecutive indexes is kept as linear runs (well under a byte an id), one in random order as
// slots (4 bytes a counter); either finds every id, none in a gap, and takes later inserts.
TEST(OpIdIndexAssign, IdsInDocumentOrderAreKeptAsLinearRunsThatLaterInsertsExtend) {
  const std::uint32_t seed = 20261208;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<core::OpId> ids;
  for (std::uint32_t c = 1; c <= 20000; ++c) {
    if (c < 5001 || c > 5010) ids.push_back({c, 0});  // 5001-5010: deletes, not stored
  }
  for (std::uint32_t c = 20100; c > 20000; --c) ids.push_back({c, 0});  // a run each
  core::OpIdIndex linear;
  ASSERT_TRUE(linear.assign(ids.size(), [&](std::size_t i) { return ids[i]; }));
  EXPECT_LT(linear.memory_bytes(), ids.size() / 4);
  for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(linear.find(ids[i]), i);
  for (const std::uint32_t absent : {5001u, 5005u, 5010u, 20101u, 30000u}) {
    EXPECT_FALSE(linear.find({absent, 0}).has_value()) << absent;
  }
  // After load: the next op extends the latest run, a jump starts one, a counter in a gap
  // goes to the hash map, a present one is refused.
  const auto next = static_cast<std::uint32_t>(ids.size());
  EXPECT_TRUE(linear.insert({20101, 0}, next));
  EXPECT_TRUE(linear.insert({20102, 0}, next + 1));
  EXPECT_TRUE(linear.insert({20200, 0}, next + 7));
  EXPECT_TRUE(linear.insert({5005, 0}, next + 8));
  EXPECT_FALSE(linear.insert({3, 0}, next + 9));
  EXPECT_FALSE(linear.insert({20102, 0}, next + 9));
  EXPECT_EQ(linear.find({20101, 0}), next);
  EXPECT_EQ(linear.find({20102, 0}), next + 1);
  EXPECT_EQ(linear.find({20200, 0}), next + 7);
  EXPECT_EQ(linear.find({5005, 0}), next + 8);
  EXPECT_FALSE(linear.find({20103, 0}).has_value());
  EXPECT_EQ(linear.find({3, 0}), 2u);
  EXPECT_EQ(linear.size(), ids.size() + 4);

  std::shuffle(ids.begin(), ids.end(), rng);
  core::OpIdIndex slots;
  ASSERT_TRUE(slots.assign(ids.size(), [&](std::size_t i) { return ids[i]; }));
  EXPECT_GE(slots.memory_bytes(), ids.size() * sizeof(std::uint32_t));
  for (std::size_t i = 0; i < ids.size(); ++i) ASSERT_EQ(slots.find(ids[i]), i);
  EXPECT_FALSE(slots.find({5005, 0}).has_value());
}

}  // namespace
}  // namespace am
