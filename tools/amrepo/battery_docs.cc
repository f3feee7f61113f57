// The battery's document builders and helpers (the reference battery's lib.rs), on our public API.
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "battery.h"

namespace amrepo::battery {

std::uint32_t Rng::next() {
  // mulberry32, written the same way in bench/battery/battery.mjs.
  state_ += 0x6D2B79F5u;
  std::uint32_t t = state_;
  t = (t ^ (t >> 15)) * (t | 1u);
  t ^= t + (t ^ (t >> 7)) * (t | 61u);
  return t ^ (t >> 14);
}

std::string random_string(Rng& rng, std::size_t n) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(n, ' ');
  for (char& c : s) c = kAlphabet[rng.below(62)];
  return s;
}

am::Document new_doc() {
  am::DocumentOptions options;
  options.actor = am::ActorId::from_hex(std::string(32, 'a'));
  options.commit_clock = [] { return std::int64_t{0}; };  // as the JS twin's {time: 0}
  return am::Document(options);
}

void check(const am::Status& status, const char* what) {
  if (!status) throw std::runtime_error(std::string(what) + ": " + status.error().to_string());
}

am::ObjId root_obj(const am::Document& doc, const std::string& key) {
  auto v = doc.get(am::ObjId::root(), key);
  if (!v || !*v || !std::holds_alternative<am::ObjectRef>(**v)) {
    throw std::runtime_error("no object at root key " + key);
  }
  return std::get<am::ObjectRef>(**v).id;
}

am::Document clone_doc(const am::Document& doc) { return doc.fork(doc.actor()); }

am::Document must_load(am::ByteView bytes) {
  auto doc = am::Document::load(bytes);
  if (!doc) throw std::runtime_error("load: " + doc.error().to_string());
  return std::move(*doc);
}

am::Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  return am::Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

namespace {
am::ObjId must_obj(am::Result<am::ObjId> r) {
  if (!r) throw std::runtime_error("put_object: " + r.error().to_string());
  return std::move(*r);
}
}  // namespace

am::Document maps_in_maps_doc(std::uint64_t n) {
  am::Document doc = new_doc();
  am::ObjId map = am::ObjId::root();
  for (std::uint64_t i = 0; i < n; ++i) map = must_obj(doc.put_object(map, std::to_string(i), am::ObjType::kMap));
  doc.commit();
  return doc;
}

am::Document big_paste_doc(std::uint64_t n, Rng& rng) {
  am::Document doc = new_doc();
  const am::ObjId text = must_obj(doc.put_object(am::ObjId::root(), std::string("content"), am::ObjType::kText));
  check(doc.splice_text(text, 0, 0, random_string(rng, n)), "splice_text");
  doc.commit();
  return doc;
}

am::Document big_random_doc(std::uint64_t n, Rng& rng) {
  am::Document doc = new_doc();
  const am::ObjId text = must_obj(doc.put_object(am::ObjId::root(), std::string("content"), am::ObjType::kText));
  for (std::uint64_t len = 0; len < n; ++len) {
    check(doc.splice_text(text, rng.below(len + 1), 0, random_string(rng, 1)), "splice_text");
  }
  doc.commit();
  return doc;
}

am::Document text_splice_100(std::uint64_t n, Rng& rng) {
  am::Document doc = new_doc();
  const am::ObjId text = must_obj(doc.put_object(am::ObjId::root(), std::string("content"), am::ObjType::kText));
  // As the battery: the position is drawn from [0, number of splices so far].
  for (std::uint64_t len = 0; len < n / 100; ++len) {
    check(doc.splice_text(text, rng.below(len + 1), 0, random_string(rng, 100)), "splice_text");
  }
  doc.commit();
  return doc;
}

am::Document list_splice_100(std::uint64_t n, Rng& rng) {
  am::Document doc = new_doc();
  const am::ObjId list = must_obj(doc.put_object(am::ObjId::root(), std::string("content"), am::ObjType::kList));
  for (std::uint64_t len = 0; len < n / 100; ++len) {
    const std::size_t pos = rng.below(len + 1);
    const std::string s = random_string(rng, 100);
    std::vector<am::ScalarValue> values;
    values.reserve(s.size());
    for (char c : s) values.emplace_back(std::string(1, c));
    check(doc.splice(list, pos, 0, values), "splice");
  }
  doc.commit();
  return doc;
}

am::Document poorly_simulated_typing_doc(std::uint64_t n, Rng& rng) {
  am::Document doc = new_doc();
  const am::ObjId text = must_obj(doc.put_object(am::ObjId::root(), std::string("content"), am::ObjType::kText));
  doc.commit();
  for (std::uint64_t i = 0; i < n; ++i) {
    check(doc.splice_text(text, i, 0, random_string(rng, 1)), "splice_text");
    doc.commit();
  }
  return doc;
}

am::Document deep_history_doc(std::uint64_t n) {
  am::Document doc = new_doc();
  for (std::uint64_t i = 0; i < n; ++i) {
    check(doc.put(am::ObjId::root(), std::string("x"), std::to_string(i)), "put");
    check(doc.put(am::ObjId::root(), std::string("y"), std::to_string(i)), "put");
    doc.commit();
  }
  return doc;
}

am::Document gen_text_doc(std::uint64_t n, Rng& rng) {
  am::Document doc = new_doc();
  const am::ObjId text = must_obj(doc.put_object(am::ObjId::root(), std::string("content"), am::ObjType::kText));
  check(doc.splice_text(text, 0, 0, random_string(rng, 1)), "splice_text");
  std::size_t len = 1;
  for (std::uint64_t i = 0; i < n; ++i) {
    check(doc.splice_text(text, rng.below(len), 0, random_string(rng, 1)), "splice_text");
    ++len;
  }
  doc.commit();
  return doc;
}

void sync_pair(SyncPeer& a, SyncPeer& b) {
  while (auto m1 = am::generate_sync_message(a.doc, a.state)) {
    check(am::receive_sync_message(b.doc, b.state, *m1), "receive_sync_message");
    if (auto m2 = am::generate_sync_message(b.doc, b.state)) {
      check(am::receive_sync_message(a.doc, a.state, *m2), "receive_sync_message");
    }
  }
}

}  // namespace amrepo::battery
