// The log of local edits as they are made, for Document::diff_incremental(): the reference's
// patchCallback reports a local change op by op (rust/automerge transaction/inner.rs logs each
// op into its PatchLog as it is made; patches/patch_builder.rs folds the log into patches),
// where a received change is reported as the change of state it makes. A local mark over text
// that already had it is reported over its whole range, two puts to one key in one change are
// two patches, and so on.
//
// While a diff cursor is set, the document's local edits add events here. The log stays usable
// as long as nothing but local edits changed the document since the cursor; any applied change,
// load, merge, rollback or overflow makes it unusable, and diff_incremental() then diffs states
// (core/diff.cc) as for received changes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "am/document.h"
#include "core/util/big_alloc.h"

namespace am::core {

/// One local edit, at the index or key it had when it was made.
struct LocalEvent {
  enum class Kind : std::uint8_t {
    kPut,        ///< `value` at `prop` (a map key or a list index)
    kInsert,     ///< `value` inserted at `index` (a list element, or an object in text)
    kSplice,     ///< `text` inserted at `index` of a text, carrying `marks`
    kDeleteSeq,  ///< `length` units from `index`
    kDeleteKey,  ///< the map key `prop`
    kIncrement,  ///< the counter at `prop` grew by `by`
    kMark,       ///< `spans` marked (a null value: unmarked)
  };
  Kind kind = Kind::kPut;
  std::uint32_t object = 0;  ///< the op set's object index
  Prop prop;                 ///< kPut, kDeleteKey, kIncrement
  std::size_t index = 0;     ///< kInsert, kSplice, kDeleteSeq
  std::size_t length = 0;    ///< kDeleteSeq
  Value value;               ///< kPut, kInsert (a new object: an ObjectRef to it, empty)
  std::string text;          ///< kSplice (UTF-8)
  std::int64_t by = 0;       ///< kIncrement
  std::map<std::string, ScalarValue> marks;  ///< kSplice
  std::vector<Mark> spans;                   ///< kMark, grouped by name as the reference's accumulator
};

/// The events since the diff cursor, or the knowledge that they no longer tell the whole story.
class LocalPatchLog {
 public:
  /// Starts a fresh log (the diff cursor moved); past `limit` events it gives up.
  void start(std::size_t limit) {
    events_.clear();
    active_ = true;
    usable_ = true;
    limit_ = limit;
  }
  /// No cursor: nothing is recorded.
  void stop() {
    core::release_all(events_);
    active_ = false;
    usable_ = false;
  }
  /// Something other than a local edit changed the document: the patches must come from states.
  void invalidate() {
    if (!usable_) return;
    usable_ = false;
    core::release_all(events_);
  }
  /// Whether local edits are to be recorded now.
  bool recording() const { return active_ && usable_ && paused_ == 0; }
  /// Whether the events are every change since the cursor.
  bool usable() const { return active_ && usable_; }
  const std::vector<LocalEvent>& events() const { return events_; }

  void add(LocalEvent e) {
    if (!recording()) return;
    if (events_.size() >= limit_) {
      invalidate();
      return;
    }
    events_.push_back(std::move(e));
  }
  /// A mark over [start, end) of `object`: joins the previous event when that is a mark of the
  /// same object (the reference's log accumulates consecutive marks into one event).
  void mark(std::uint32_t object, std::size_t start, std::size_t end, const std::string& name, const ScalarValue& value);

  /// While one of these lives, edits are not recorded one by one (splice_text records the
  /// whole splice itself, as the reference does).
  class Pause {
   public:
    explicit Pause(LocalPatchLog& log) : log_(log) { ++log_.paused_; }
    ~Pause() { --log_.paused_; }
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;

   private:
    LocalPatchLog& log_;
  };

 private:
  std::vector<LocalEvent> events_;
  bool active_ = false;
  bool usable_ = false;
  int paused_ = 0;
  std::size_t limit_ = 0;
};

}  // namespace am::core
