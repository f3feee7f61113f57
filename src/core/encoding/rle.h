// Run-length encoded columns (format spec §1.4) and the columns built on them: delta (§1.5)
// and boolean (§1.6).
//
// Writers produce the canonical form the reference produces, byte for byte, because change
// hashes are computed over these bytes: a lone value is a literal run of one, runs of two or more
// equal values are repeat runs, nulls merge into null runs, and a column of nothing but nulls
// encodes to zero bytes.
//
// Readers are cursor-style: next() yields one item at a time without allocating. Strings are
// returned as views into the column bytes. A reader that meets malformed data stops and reports
// it through ok()/status(); it never reads out of bounds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "am/bytes.h"
#include "am/result.h"
#include "core/encoding/byte_reader.h"
#include "core/encoding/leb128.h"

namespace am::enc {

// ---- value codecs used inside RLE columns --------------------------------------------------

/// uLEB values (actor indexes, integers, value metadata, group counts).
struct UIntCodec {
  using value_type = std::uint64_t;
  using stored_type = std::uint64_t;
  static void write(Bytes& out, value_type v) { put_uleb(out, v); }
  static const char* read(const std::uint8_t*& p, const std::uint8_t* end, value_type& v) {
    const LebStatus s = get_uleb(p, end, v);
    return s == LebStatus::kOk ? nullptr : leb_status_text(s);
  }
};

/// sLEB values (deltas).
struct IntCodec {
  using value_type = std::int64_t;
  using stored_type = std::int64_t;
  static void write(Bytes& out, value_type v) { put_sleb(out, v); }
  static const char* read(const std::uint8_t*& p, const std::uint8_t* end, value_type& v) {
    const LebStatus s = get_sleb(p, end, v);
    return s == LebStatus::kOk ? nullptr : leb_status_text(s);
  }
};

/// Length-prefixed UTF-8 strings (map keys, messages, mark names).
struct StringCodec {
  using value_type = std::string_view;
  using stored_type = std::string;
  static void write(Bytes& out, value_type v) {
    put_uleb(out, v.size());
    out.insert(out.end(), v.begin(), v.end());
  }
  static const char* read(const std::uint8_t*& p, const std::uint8_t* end, value_type& v) {
    std::uint64_t len = 0;
    const LebStatus s = get_uleb(p, end, len);
    if (s != LebStatus::kOk) return leb_status_text(s);
    if (len > static_cast<std::uint64_t>(end - p)) return "string length past end of column";
    v = std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(len));
    if (!is_valid_utf8(v)) return "invalid UTF-8 in string";
    p += len;
    return nullptr;
  }
};

/// Moves a writer's encoded bytes to the end of `out` (without a copy when `out` is empty) and
/// leaves `written` empty.
inline void append_output(Bytes& out, Bytes& written) {
  if (out.empty()) {
    out.swap(written);
  } else {
    out.insert(out.end(), written.begin(), written.end());
  }
  written.clear();
}

// ---- RLE ---------------------------------------------------------------------------------------

/// Canonical RLE writer. Not thread-safe. Cost: amortised O(1) per item, no allocation per item
/// beyond the growth of its output buffers.
template <class Codec>
class RleWriter {
 public:
  using value_type = typename Codec::value_type;

  // The common cases (a value repeating the current run, a null extending a null run) are
  // inlined; everything else goes through append_slow/append_null_slow.
  void append(value_type v) {
    if (state_ == State::kRun && v == value_) {
      ++count_;
      return;
    }
    append_slow(v);
  }

  void append_null() {
    if (state_ == State::kNulls || state_ == State::kInitialNulls) {
      ++count_;
      return;
    }
    append_null_slow();
  }

  /// Appends `n` copies of v: the same column as n calls of append(v).
  void append_repeated(value_type v, std::uint64_t n) {
    if (n == 0) return;
    append(v);
    if (n == 1) return;
    if (state_ == State::kRun) {  // v continued a run
      count_ += n - 1;
      return;
    }
    append(v);  // v is now the lone or literal-pending value: a second copy starts a run
    count_ += n - 2;
  }

  /// Appends `n` nulls: the same column as n calls of append_null().
  void append_nulls(std::uint64_t n) {
    if (n == 0) return;
    append_null();
    count_ += n - 1;
  }

  void append(const std::optional<value_type>& v) {
    if (v) {
      append(*v);
    } else {
      append_null();
    }
  }

  /// Appends the encoded column to `out` and resets the writer to empty.
  void finish(Bytes& out) {
    // With nothing written yet (a short column, e.g. a change of one op) the pending run goes
    // straight to `out`; otherwise it closes out_, which then moves to `out`.
    if (out_.empty()) {
      write_pending(out);
    } else {
      write_pending(out_);
      append_output(out, out_);
    }
    state_ = State::kEmpty;
    count_ = 0;
  }

  Bytes finish() {
    Bytes out;
    finish(out);
    return out;
  }

 private:
  enum class State : std::uint8_t { kEmpty, kInitialNulls, kNulls, kLone, kRun, kLiteral };
  using stored_type = typename Codec::stored_type;

  [[gnu::noinline]] void append_slow(value_type v) {
    switch (state_) {
      case State::kEmpty:
        break;
      case State::kInitialNulls:
      case State::kNulls:
        write_null_run();
        break;
      case State::kLone:
        if (v == value_) {
          state_ = State::kRun;
          count_ = 2;
        } else {
          Codec::write(literal_, value_);
          literal_count_ = 1;
          value_ = stored(v);
          state_ = State::kLiteral;
        }
        return;
      case State::kRun:
        if (v == value_) {
          ++count_;
          return;
        }
        write_repeat_run();
        break;
      case State::kLiteral:
        if (v == value_) {
          // The pending last value pairs with v: close the literal without it, start a run of 2.
          write_literal_run();
          state_ = State::kRun;
          count_ = 2;
        } else {
          Codec::write(literal_, value_);
          ++literal_count_;
          value_ = stored(v);
        }
        return;
    }
    state_ = State::kLone;
    value_ = stored(v);
  }

  [[gnu::noinline]] void append_null_slow() {
    switch (state_) {
      case State::kEmpty:
        state_ = State::kInitialNulls;
        count_ = 1;
        return;
      case State::kInitialNulls:
      case State::kNulls:
        ++count_;
        return;
      case State::kLone:
        Codec::write(literal_, value_);
        literal_count_ = 1;
        write_literal_run();
        break;
      case State::kRun:
        write_repeat_run();
        break;
      case State::kLiteral:
        Codec::write(literal_, value_);
        ++literal_count_;
        write_literal_run();
        break;
    }
    state_ = State::kNulls;
    count_ = 1;
  }

  static stored_type stored(value_type v) { return stored_type(v); }

  // Writes the run still pending at the end of the column to `dst`.
  void write_pending(Bytes& dst) {
    switch (state_) {
      case State::kEmpty:
      case State::kInitialNulls:  // all nulls: the column is empty
        break;
      case State::kNulls:
        write_null_run(dst);
        break;
      case State::kLone:
        put_sleb(dst, -1);
        Codec::write(dst, value_);
        break;
      case State::kRun:
        write_repeat_run(dst);
        break;
      case State::kLiteral:
        Codec::write(literal_, value_);
        ++literal_count_;
        write_literal_run(dst);
        break;
    }
  }

  void write_null_run(Bytes& dst) {
    dst.push_back(0);
    put_uleb(dst, count_);
  }
  void write_null_run() { write_null_run(out_); }
  void write_repeat_run(Bytes& dst) {
    put_sleb(dst, static_cast<std::int64_t>(count_));
    Codec::write(dst, value_);
  }
  void write_repeat_run() { write_repeat_run(out_); }
  void write_literal_run(Bytes& dst) {
    put_sleb(dst, -static_cast<std::int64_t>(literal_count_));
    dst.insert(dst.end(), literal_.begin(), literal_.end());
    literal_.clear();
    literal_count_ = 0;
  }
  void write_literal_run() { write_literal_run(out_); }

  State state_ = State::kEmpty;
  std::uint64_t count_ = 0;  // nulls pending, or length of the current repeat run
  stored_type value_{};      // the lone value, the repeated value, or the literal's pending last
  Bytes literal_;            // encoded literal values not yet written (excluding value_)
  std::uint64_t literal_count_ = 0;
  Bytes out_;
};

/// Cursor over an RLE column. Not thread-safe; the column bytes must outlive the reader.
template <class Codec>
class RleReader {
 public:
  using value_type = typename Codec::value_type;

  RleReader() = default;
  explicit RleReader(ByteView data) : begin_(data.data()), p_(data.data()), end_(data.data() + data.size()) {}
  explicit RleReader(Bytes&&) = delete;  // would dangle

  /// Reads the next item into `out` (nullopt for a null). Returns false at the end of the column
  /// or on malformed data, which ok() then reports.
  bool next(std::optional<value_type>& out) {
    if (left_ != 0 && run_ == Run::kRepeat) {  // inside a repeat run: the common case, inline
      --left_;
      out = repeat_;
      return true;
    }
    return next_slow(out);
  }

  /// Column-wise reading: the next `count` items, all null (`out` empty) or all equal to `out`.
  /// A null or repeat run comes whole, a literal run one item at a time. Returns false at the
  /// end of the column or on malformed data, which ok() then reports. Do not mix with next().
  bool next_run(std::optional<value_type>& out, std::uint64_t& count) {
    while (left_ == 0) {
      if (p_ == end_ || err_) return false;
      if (!start_run()) return false;
    }
    switch (run_) {
      case Run::kNull:
        out.reset();
        count = left_;
        left_ = 0;
        return true;
      case Run::kRepeat:
        out = repeat_;
        count = left_;
        left_ = 0;
        return true;
      case Run::kLiteral: {
        value_type v{};
        if (const char* e = Codec::read(p_, end_, v)) return set_error(e);
        --left_;
        out = v;
        count = 1;
        return true;
      }
    }
    return false;
  }

  /// True once every item has been read without error.
  bool done() const noexcept { return err_ == nullptr && left_ == 0 && p_ == end_; }
  bool ok() const noexcept { return err_ == nullptr; }
  /// Describes the failure, if any, naming `column` and the offset.
  Status status(std::string_view column) const {
    return column_status(column, err_, static_cast<std::size_t>(p_ - begin_));
  }

 private:
  enum class Run : std::uint8_t { kNull, kRepeat, kLiteral };

  [[gnu::noinline]] bool next_slow(std::optional<value_type>& out) {
    while (left_ == 0) {
      if (p_ == end_ || err_) return false;
      if (!start_run()) return false;
    }
    --left_;
    switch (run_) {
      case Run::kNull:
        out.reset();
        return true;
      case Run::kRepeat:
        out = repeat_;
        return true;
      case Run::kLiteral: {
        value_type v{};
        if (const char* e = Codec::read(p_, end_, v)) return set_error(e);
        out = v;
        return true;
      }
    }
    return false;
  }

  bool set_error(const char* e) {
    err_ = e;
    left_ = 0;
    return false;
  }

  bool start_run() {
    std::int64_t n = 0;
    if (const LebStatus s = get_sleb(p_, end_, n); s != LebStatus::kOk) {
      return set_error(leb_status_text(s));
    }
    if (n > 0) {
      run_ = Run::kRepeat;
      left_ = static_cast<std::uint64_t>(n);
      if (const char* e = Codec::read(p_, end_, repeat_)) return set_error(e);
    } else if (n < 0) {
      run_ = Run::kLiteral;
      left_ = static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(n);
    } else {
      run_ = Run::kNull;
      std::uint64_t count = 0;
      if (const LebStatus s = get_uleb(p_, end_, count); s != LebStatus::kOk) {
        return set_error(leb_status_text(s));
      }
      left_ = count;
    }
    return true;
  }

  const std::uint8_t* begin_ = nullptr;
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  Run run_ = Run::kNull;
  std::uint64_t left_ = 0;
  value_type repeat_{};
  const char* err_ = nullptr;
};

using UIntRleWriter = RleWriter<UIntCodec>;
using UIntRleReader = RleReader<UIntCodec>;
using StringRleWriter = RleWriter<StringCodec>;
using StringRleReader = RleReader<StringCodec>;

// ---- delta --------------------------------------------------------------------------------------

/// Delta column writer: RLE of the differences between successive non-null values (starting
/// from 0). Nulls leave the running value unchanged. Arithmetic wraps, as in the reference.
class DeltaWriter {
 public:
  void append(std::int64_t v) {
    rle_.append(static_cast<std::int64_t>(static_cast<std::uint64_t>(v) -
                                          static_cast<std::uint64_t>(absolute_)));
    absolute_ = v;
  }
  void append_null() { rle_.append_null(); }
  /// Appends start, start + step, ..., start + (n - 1) * step (wrapping): the same column as n
  /// calls of append(), written as one repeated delta (a deleted selection, backspaces).
  void append_linear(std::int64_t start, std::int64_t step, std::uint64_t n) {
    if (n == 0) return;
    append(start);
    if (n == 1) return;
    rle_.append_repeated(step, n - 1);
    absolute_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(start) +
                                          static_cast<std::uint64_t>(step) * (n - 1));
  }
  /// append_linear with step 1 (typed text: consecutive op counters).
  void append_increasing(std::int64_t start, std::uint64_t n) { append_linear(start, 1, n); }
  void append(const std::optional<std::int64_t>& v) {
    if (v) {
      append(*v);
    } else {
      append_null();
    }
  }
  void finish(Bytes& out) {
    rle_.finish(out);
    absolute_ = 0;
  }
  Bytes finish() {
    Bytes out;
    finish(out);
    return out;
  }

 private:
  RleWriter<IntCodec> rle_;
  std::int64_t absolute_ = 0;
};

/// Cursor over a delta column; yields absolute values.
class DeltaReader {
 public:
  DeltaReader() = default;
  explicit DeltaReader(ByteView data) : rle_(data) {}
  explicit DeltaReader(Bytes&&) = delete;  // would dangle

  bool next(std::optional<std::int64_t>& out) {
    std::optional<std::int64_t> delta;
    if (!rle_.next(delta)) return false;
    if (delta) {
      absolute_ = static_cast<std::int64_t>(static_cast<std::uint64_t>(absolute_) +
                                            static_cast<std::uint64_t>(*delta));
      out = absolute_;
    } else {
      out.reset();
    }
    return true;
  }
  bool done() const noexcept { return rle_.done(); }
  bool ok() const noexcept { return rle_.ok(); }
  Status status(std::string_view column) const { return rle_.status(column); }

 private:
  RleReader<IntCodec> rle_;
  std::int64_t absolute_ = 0;
};

// ---- boolean ------------------------------------------------------------------------------------

/// Boolean column writer: alternating uLEB run lengths, starting with a run of false.
class BooleanWriter {
 public:
  void append(bool v) {
    if (v == last_) {
      ++count_;
    } else {
      put_uleb(out_, count_);
      last_ = v;
      count_ = 1;
    }
  }
  /// Appends n copies of v: the same column as n calls of append(v).
  void append_repeated(bool v, std::uint64_t n) {
    if (n == 0) return;
    if (v == last_) {
      count_ += n;
    } else {
      put_uleb(out_, count_);
      last_ = v;
      count_ = n;
    }
  }
  void finish(Bytes& out) {
    if (count_ > 0) put_uleb(out_, count_);
    append_output(out, out_);
    last_ = false;
    count_ = 0;
  }
  Bytes finish() {
    Bytes out;
    finish(out);
    return out;
  }

 private:
  Bytes out_;
  bool last_ = false;
  std::uint64_t count_ = 0;
};

/// Cursor over a boolean column.
class BooleanReader {
 public:
  BooleanReader() = default;
  explicit BooleanReader(ByteView data) : begin_(data.data()), p_(data.data()), end_(data.data() + data.size()) {}
  explicit BooleanReader(Bytes&&) = delete;  // would dangle

  bool next(bool& out) {
    if (!fill_run()) return false;
    --left_;
    out = value_;
    return true;
  }
  /// Column-wise reading: the next `count` items, all equal to `out` (a whole run). False at the
  /// end or on malformed data (see ok()). Do not mix with next().
  bool next_run(bool& out, std::uint64_t& count) {
    if (!fill_run()) return false;
    out = value_;
    count = left_;
    left_ = 0;
    return true;
  }
  bool done() const noexcept { return err_ == nullptr && left_ == 0 && p_ == end_; }
  bool ok() const noexcept { return err_ == nullptr; }
  Status status(std::string_view column) const {
    return column_status(column, err_, static_cast<std::size_t>(p_ - begin_));
  }

 private:
  // Starts the next non-empty run if the current one is used up; false at the end or on error.
  bool fill_run() {
    while (left_ == 0) {
      if (p_ == end_ || err_) return false;
      std::uint64_t n = 0;
      if (const LebStatus s = get_uleb(p_, end_, n); s != LebStatus::kOk) {
        err_ = leb_status_text(s);
        return false;
      }
      value_ = !value_;
      left_ = n;
    }
    return true;
  }

  const std::uint8_t* begin_ = nullptr;
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
  bool value_ = true;  // flipped before the first run, which counts falses
  std::uint64_t left_ = 0;
  const char* err_ = nullptr;
};

}  // namespace am::enc
