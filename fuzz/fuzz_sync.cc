// Fuzzes sync message decoding and receive_sync_message on a small document: arbitrary bytes
// must give a clean error or a valid state change, and the next generate must still work.
#include <cstddef>
#include <cstdint>

#include "am/document.h"
#include "am/sync.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  am::Document doc(am::DocumentOptions{*am::ActorId::from_hex("aaaa"), am::TextUnit::kUtf16});
  (void)doc.put(am::ObjId::root(), "x", std::int64_t{1});
  doc.commit();
  am::SyncState state;
  (void)am::generate_sync_message(doc, state);
  const am::ByteView in(data, size);
  if (auto m = am::SyncMessage::decode(in)) {
    // Whatever decodes re-encodes to something that decodes to the same message.
    const am::Bytes again = m->encode();
    auto m2 = am::SyncMessage::decode(again);
    if (!m2 || m2->encode() != again) __builtin_trap();
  }
  (void)am::receive_sync_message(doc, state, in);
  (void)am::generate_sync_message(doc, state);
  return 0;
}
