// Fuzzes every column decoder and the column metadata block. The first input byte picks the
// decoder; the rest is the column. Decoding must terminate with a value or an error, never crash.
#include <cstddef>
#include <cstdint>
#include <optional>

#include "core/encoding/column_spec.h"
#include "core/encoding/rle.h"
#include "core/encoding/value_column.h"

namespace {

// Columns may declare runs of 2^63 items; real decoders bound rows by other means.
constexpr int kMaxItems = 1 << 16;

template <class Reader, class T>
void drain(am::ByteView data) {
  Reader r(data);
  std::optional<T> v;
  for (int i = 0; i < kMaxItems && r.next(v); ++i) {
  }
  (void)r.status("column");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const am::ByteView in(data + 1, size - 1);
  switch (data[0] % 7) {
    case 0: drain<am::enc::UIntRleReader, std::uint64_t>(in); break;
    case 1: drain<am::enc::RleReader<am::enc::IntCodec>, std::int64_t>(in); break;
    case 2: drain<am::enc::StringRleReader, std::string_view>(in); break;
    case 3: drain<am::enc::DeltaReader, std::int64_t>(in); break;
    case 4: {
      am::enc::BooleanReader r(in);
      bool b;
      for (int i = 0; i < kMaxItems && r.next(b); ++i) {
      }
      break;
    }
    case 5: {
      const std::size_t half = in.size() / 2;
      am::enc::ValueReader r(in.first(half), in.subspan(half));
      am::enc::RawValue v;
      for (int i = 0; i < kMaxItems && r.next(v); ++i) (void)am::enc::decode_scalar(v);
      (void)r.status("value");
      break;
    }
    default: {
      am::enc::ByteReader r(in);
      auto meta = am::enc::read_column_metadata(r, (data[0] & 0x80) != 0);
      if (meta) (void)am::enc::read_column_data(r, *meta);
      break;
    }
  }
  return 0;
}
