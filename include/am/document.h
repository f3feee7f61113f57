// am::Document: an Automerge document (the JSON-like CRDT).
//
// A document is a tree of objects (maps, lists, text, tables) rooted at ObjId::root(), plus the
// history of changes that built it. Local edits go into a pending transaction that commit()
// turns into one change; remote changes are applied with apply_changes(). Two documents that
// have applied the same set of changes have the same content, whatever the order.
//
// Thread safety: a Document is not thread-safe; distinct documents are independent.
// Errors: calls that can fail return Result/Status; bytes from elsewhere never throw.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "am/bytes.h"
#include "am/change.h"
#include "am/limits.h"
#include "am/result.h"
#include "am/rich_text.h"
#include "am/types.h"
#include "am/value.h"

namespace am {

/// An actor id: opaque bytes (16 random bytes by default), written as hex.
/// Ordered by bytes, which is the order Lamport ties are broken in.
struct ActorId {
  Bytes bytes;  ///< the id's bytes (16 for ids this library makes)

  /// 16 random bytes.
  static ActorId random();
  /// Parses an even-length hex string; nullopt on anything else or when empty.
  static std::optional<ActorId> from_hex(std::string_view hex);
  /// Lowercase hex of the bytes, as the JS API writes actor ids.
  std::string to_hex() const { return am::to_hex(bytes); }
  friend auto operator<=>(const ActorId&, const ActorId&) = default;
  friend bool operator==(const ActorId&, const ActorId&) = default;
};

enum class ObjType : std::uint8_t { kMap, kList, kText, kTable };

/// Identifies an object: the root map, or the id of the op that created it (`counter@actorhex`).
/// Value type.
class ObjId {
 public:
  /// The root map of every document.
  static ObjId root() { return ObjId(); }
  /// The root map.
  ObjId() = default;
  /// The object created by the op with this counter and actor.
  ObjId(std::uint64_t counter, ActorId actor) : counter_(counter), actor_(std::move(actor)) {}

  /// Whether this is the root map.
  bool is_root() const { return counter_ == 0; }
  /// The creating op's counter (0 for the root).
  std::uint64_t counter() const { return counter_; }
  /// The creating op's actor (empty for the root).
  const ActorId& actor() const { return actor_; }
  /// `_root` or `counter@actorhex`, as in the JS API.
  std::string to_string() const;
  /// Parses what to_string() writes; nullopt on anything else.
  static std::optional<ObjId> parse(std::string_view text);

  friend bool operator==(const ObjId&, const ObjId&) = default;

 private:
  std::uint64_t counter_ = 0;
  ActorId actor_;
};

/// A map key or a list/text index.
using Prop = std::variant<std::string, std::size_t>;

/// A value read from a document: a scalar, or a reference to a nested object.
struct ObjectRef {
  ObjType type = ObjType::kMap;  ///< what kind of object
  ObjId id;                      ///< its id, for further reads and writes
  friend bool operator==(const ObjectRef&, const ObjectRef&) = default;
};
/// What a read returns at a key or index: a scalar or a nested object.
using Value = std::variant<ScalarValue, ObjectRef>;

/// One of several concurrent values at a key (get_all): the value and the id of the op that
/// wrote it (`counter@actorhex`).
struct Conflict {
  Value value;        ///< one of the concurrent values
  std::string op_id;  ///< the op that wrote it, `counter@actorhex`
};

/// How list and text indexes are counted. JS counts UTF-16 code units; the Rust crate's
/// default is Unicode code points.
enum class TextUnit : std::uint8_t { kUtf16, kCodePoint };

/// How a mark grows when text is inserted at its edges (Peritext): kBefore takes text inserted at
/// its start, kAfter (the JS default) at its end, kBoth at either, kNone at neither.
enum class ExpandMark : std::uint8_t { kBefore, kAfter, kBoth, kNone };

/// Where a cursor goes when its element is deleted (JS MoveCursor): to the next visible element
/// (kAfter, the default) or to the previous one (kBefore).
enum class CursorMove : std::uint8_t { kAfter, kBefore };
/// The cursors of the start and the end of a sequence, as JS getCursor(.., "start" | "end").
inline constexpr std::string_view kCursorStart = "s";
inline constexpr std::string_view kCursorEnd = "e";

/// A span of a text (or list) carrying a mark: [start, end) in the document's text unit.
struct Mark {
  std::string name;       ///< e.g. "bold"
  ScalarValue value;      ///< e.g. true, or a link's URL
  std::size_t start = 0;  ///< first index covered
  std::size_t end = 0;    ///< one past the last index covered
  friend bool operator==(const Mark&, const Mark&) = default;
};

/// One step of a diff, shaped like the JS reference's patches. Patches apply in order: each
/// path is valid in the state left by the patches before it.
struct Patch {
  /// What the patch does (mirrors the JS patch actions).
  enum class Kind : std::uint8_t {
    kPut,         ///< value (a new object appears as an ObjectRef to an empty object) and conflict
    kInsert,      ///< list elements `values` inserted at the index that ends the path
    kDelete,      ///< `length` elements or text units removed at the index (or the map key)
    kSpliceText,  ///< `text` inserted at the index (text objects)
    kIncrement,   ///< a counter grew by `increment`
    kMark,        ///< `marks` changed on elements that were there before (a null value: removed)
    /// The value at the path stays but now has concurrent values: a list element when a new
    /// value loses to it (diff() and diff_incremental()); a map key or text character, in diff()
    /// when it had none before, in diff_incremental() when a new op is one of them and none it
    /// had stays.
    kConflict,
  };
  Kind kind = Kind::kPut;     ///< the action
  std::vector<Prop> path;     ///< from the root; the last entry is the key or index changed
  Value value;                ///< kPut: the new value
  std::vector<Value> values;  ///< kInsert: the inserted elements
  std::string text;           ///< kSpliceText: the inserted text (UTF-8)
  std::int64_t increment = 0; ///< kIncrement: by how much
  std::size_t length = 1;     ///< kDelete: how many elements or text units
  bool conflict = false;      ///< kPut: other concurrent values exist at this key
  /// kInsert: per inserted value, whether it has concurrent values; empty when none has.
  std::vector<bool> conflicts;
  /// kMark: the spans whose marks changed, in the document's indexes after this patch.
  std::vector<Mark> marks;
  /// kSpliceText and kInsert: the marks on the inserted elements (JS `marks`), if any.
  std::map<std::string, ScalarValue> inserted_marks;
};

/// Patches as the JSON array the JS reference's diff and patch callbacks give (`put`, `insert`,
/// `del`, `splice`, `inc`, `mark`, `conflict`), values mapped as docs/format.md maps them; a new object appears as
/// `{}`, `[]` or `""` and its contents follow as patches of their own.
std::string patches_to_json(const std::vector<Patch>& patches);

/// Where a commit without CommitOptions::time takes its time from, in seconds since the epoch.
/// Empty (the default) = the system clock, as the reference's `change()` does. A fixed clock,
/// e.g. `[] { return std::int64_t{0}; }`, makes changes and their hashes reproducible. Called on
/// the thread that commits.
using CommitClock = std::function<std::int64_t()>;

/// How a new Document is set up.
struct DocumentOptions {
  std::optional<ActorId> actor;           ///< random when absent
  TextUnit text_unit = TextUnit::kUtf16;  ///< how text and list indexes count (JS: UTF-16)
  /// What one chunk received later (apply_changes, load_incremental) may inflate to, as
  /// LoadOptions::max_inflated_bytes; exceeding it is kResourceLimit and changes nothing.
  std::size_t max_inflated_bytes = kDefaultMaxInflatedBytes;
  /// The time of commits that give none; forks and fork_at copies keep it.
  CommitClock commit_clock{};
};

/// What a commit records besides the ops.
struct CommitOptions {
  std::optional<std::string> message;  ///< the change's message, if any
  /// Seconds since the epoch; when absent, the document's CommitClock (the current time unless
  /// DocumentOptions::commit_clock says otherwise). 0 gives a reproducible change.
  std::optional<std::int64_t> time;
};

/// Options for Document::load.
struct LoadOptions {
  /// Require the heads of the changes rebuilt from a document chunk to equal the heads stored
  /// in it (kCorruption otherwise). Off = the JS `load(bytes, {unchecked: true})`.
  bool verify_heads = true;
  /// When the input does not start with a document chunk, changes whose dependencies are
  /// missing fail the load (kMissingDependency) unless this is set; they then wait in the
  /// queue. After a leading document chunk they always wait in the queue.
  bool allow_missing_deps = false;
  std::optional<ActorId> actor;  ///< the loaded document's actor; random when absent
  TextUnit text_unit = TextUnit::kUtf16;  ///< as DocumentOptions::text_unit
  /// Decoding budget per chunk: the bytes its columns inflate to, plus a small per-row charge
  /// for the changes and ops a document chunk claims (so a few bytes of repeat runs cannot claim
  /// gigabytes); also the cap for each compressed change. Exceeding it is kResourceLimit.
  std::size_t max_inflated_bytes = kDefaultMaxInflatedBytes;
  CommitClock commit_clock{};  ///< as DocumentOptions::commit_clock
};

/// @cond INTERNAL
namespace detail {
struct DocumentAccess;  // defined inside the library only (src/core/document_impl.h)
}  // namespace detail
/// @endcond

/// An Automerge document: a JSON-like tree of maps, lists, text and scalars that merges
/// concurrent edits from any number of actors.
///
/// Writes go into a pending transaction that commit() turns into a change. Reads include the
/// pending transaction. Ownership: a value type that owns its whole state (move-only).
/// Thread safety: none; use one Document from one thread at a time. Distinct documents are
/// independent.
class Document {
 public:
  /// An empty document (no changes yet).
  explicit Document(DocumentOptions options = {});
  ~Document();
  /// Moves the whole document; the source is left empty.
  Document(Document&&) noexcept;
  Document& operator=(Document&&) noexcept;
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  /// The actor whose changes commit() makes.
  const ActorId& actor() const;
  /// REQUIRES: no pending transaction.
  void set_actor(ActorId actor);
  /// Replaces the clock of later commits that give no time (see CommitClock; empty = now).
  void set_commit_clock(CommitClock clock);

  // ---- writes: open a transaction implicitly; commit() closes it --------------------------
  /// Sets a map key, or overwrites a list element, to a scalar. As in the reference, a put of
  /// the value already there writes nothing, and with concurrent values there it writes only
  /// the delete of the others (which resolves the conflict).
  [[nodiscard]] Status put(const ObjId& obj, const Prop& prop, ScalarValue value);
  /// Sets a map key, or overwrites a list element, to a new empty object; returns its id.
  [[nodiscard]] Result<ObjId> put_object(const ObjId& obj, const Prop& prop, ObjType type);
  /// Inserts a scalar into a list before `index` (index == length appends).
  [[nodiscard]] Status insert(const ObjId& obj, std::size_t index, ScalarValue value);
  /// Inserts a new empty object into a list before `index`; returns its id.
  [[nodiscard]] Result<ObjId> insert_object(const ObjId& obj, std::size_t index, ObjType type);
  /// Deletes a map key or a list element (Rust: `delete`). Deleting an absent key does nothing.
  [[nodiscard]] Status remove(const ObjId& obj, const Prop& prop);
  /// remove() at a list index. The index overloads exist because `doc.remove(list, 0)` would
  /// otherwise be ambiguous (0 also converts to a null `const char*`, i.e. a key).
  [[nodiscard]] Status remove(const ObjId& obj, std::size_t index) { return remove(obj, Prop(index)); }
  /// put() at a list index (see remove(const ObjId&, std::size_t)).
  [[nodiscard]] Status put(const ObjId& obj, std::size_t index, ScalarValue value) {
    return put(obj, Prop(index), std::move(value));
  }
  /// Adds `by` to the counter at a map key or list index.
  [[nodiscard]] Status increment(const ObjId& obj, const Prop& prop, std::int64_t by);
  /// Deletes `del` elements at `pos` of a list, then inserts `values` there.
  [[nodiscard]] Status splice(const ObjId& obj, std::size_t pos, std::size_t del,
                              const std::vector<ScalarValue>& values);
  /// Deletes `del` units at `pos` of a text object, then inserts `text` (UTF-8) there. A `pos`
  /// inside a character (the second unit of a surrogate pair, in UTF-16) means after it, as in
  /// the reference.
  [[nodiscard]] Status splice_text(const ObjId& obj, std::size_t pos, std::size_t del,
                                   std::string_view text);
  /// Makes a text object's content `new_text` (UTF-8) with the fewest element edits, as the JS
  /// updateText / Rust update_text: a Myers diff over extended grapheme clusters of the old and new
  /// text, applied left to right as splice_text calls (the same ops as the reference). Equal text
  /// changes nothing. kInvalidArgument if `text` is not a text object or `new_text` is not UTF-8.
  /// Cost O((n + m) * d) in clusters (d = clusters changed): a small edit of a long text is linear.
  [[nodiscard]] Status update_text(const ObjId& text, std::string_view new_text);

  /// Marks [start, end) of a text or list with `name` = `value` (rich text formatting).
  /// start and end must be <= length. As in JS, start >= end is accepted: with kNone and
  /// start == end nothing is written; otherwise the end op goes right after the begin op (a mark
  /// that covers nothing, which marks() does not show).
  [[nodiscard]] Status mark(const ObjId& obj, std::size_t start, std::size_t end, ExpandMark expand,
                            std::string_view name, ScalarValue value);
  /// Removes mark `name` from [start, end) (a mark with a null value).
  [[nodiscard]] Status unmark(const ObjId& obj, std::size_t start, std::size_t end,
                              ExpandMark expand, std::string_view name);

  /// Ops in the pending transaction.
  std::size_t pending_ops() const;
  /// Turns the pending transaction into a change (even an empty one) and returns its hash.
  ChangeHash commit(const CommitOptions& options = {});
  /// Commits only if there are pending ops; returns the hash if a change was made.
  std::optional<ChangeHash> commit_if_pending(const CommitOptions& options = {});
  /// Discards the pending transaction. Returns the number of ops discarded.
  std::size_t rollback();

  // ---- reads (include the pending transaction) -------------------------------------------
  /// The value at a map key or list index (the winner of any conflict); nullopt if absent.
  [[nodiscard]] Result<std::optional<Value>> get(const ObjId& obj, const Prop& prop) const;
  /// get() at a list index.
  [[nodiscard]] Result<std::optional<Value>> get(const ObjId& obj, std::size_t index) const {
    return get(obj, Prop(index));
  }
  /// Every concurrent value at a key or index, the winner last (as JS getAll orders them).
  [[nodiscard]] Result<std::vector<Conflict>> get_all(const ObjId& obj, const Prop& prop) const;
  /// The keys of a map, sorted.
  [[nodiscard]] Result<std::vector<std::string>> keys(const ObjId& obj) const;
  /// Entries of a map, elements of a list, or units of a text.
  [[nodiscard]] Result<std::size_t> length(const ObjId& obj) const;
  /// The content of a text object (UTF-8).
  [[nodiscard]] Result<std::string> text(const ObjId& obj) const;
  /// text() as a shared, immutable string: calls while `obj` is unchanged return the same string
  /// without rebuilding or copying it (what a UI that redraws from the document wants; the JS
  /// API's materialised strings behave so). The document keeps the last few values read this way
  /// (texts and map_range_shared's), each until its object changes or the document is destroyed;
  /// the string itself lives as long as any holder. Any op applied to `obj` (local or received, a
  /// rollback, a load) makes the next call read it again; ops on other objects do not.
  [[nodiscard]] Result<std::shared_ptr<const std::string>> text_shared(const ObjId& obj) const;
  /// Whether `obj` is a map, list, text or table.
  [[nodiscard]] Result<ObjType> object_type(const ObjId& obj) const;
  /// The marks of a text or list: maximal spans per name, sorted by name then start.
  [[nodiscard]] Result<std::vector<Mark>> marks(const ObjId& obj) const;

  // ---- rich text: blocks and spans (am/rich_text.h; docs/design/rich-text-blocks.md) --------
  // A block is a map inserted as one element of a text: one unit wide in either TextUnit, shown
  // as U+FFFC by text(). Indexes are in the document's TextUnit, as for splice_text().
  /// Inserts a block at `index` of a text (JS splitBlock): one makeMap element placed as a typed
  /// character would be (so it joins an "after" mark that ends there), then its keys in sorted
  /// order, nested values depth first. index == length appends. Returns the block's id.
  [[nodiscard]] Result<ObjId> split_block(const ObjId& text, std::size_t index, const Block& block);
  /// Deletes the element at `index` of a text (JS joinBlock), whatever it is: the reference does
  /// not check that it is a block. index >= length is kInvalidArgument.
  [[nodiscard]] Status join_block(const ObjId& text, std::size_t index);
  /// Replaces the element at `index` with a new block (JS updateBlock): join_block() then
  /// split_block() at the same index, not an in-place update, so concurrent updates of one block
  /// leave two blocks. Returns the new block's id.
  [[nodiscard]] Result<ObjId> update_block(const ObjId& text, std::size_t index, const Block& block);
  /// The block at `index` of a text (JS block): nullopt when the element there is not a block,
  /// and at or past the end.
  [[nodiscard]] Result<std::optional<Block>> block(const ObjId& text, std::size_t index) const;
  /// The text as spans (JS spans): maximal runs of characters with equal live marks, split at
  /// every block; blocks carry no marks. Elements that are neither strings nor maps are left out,
  /// as the reference does. Empty text gives no spans.
  [[nodiscard]] Result<std::vector<Span>> spans(const ObjId& text) const;
  /// spans() as of `heads` (JS spans of view(doc, heads)).
  [[nodiscard]] Result<std::vector<Span>> spans_at(const ObjId& text, const std::vector<ChangeHash>& heads) const;
  /// Turns the text into `desired` (JS updateSpans; changes byte-identical to the reference's).
  /// Pass 1 diffs blocks and grapheme clusters (Myers) and edits in place: a differing block is
  /// updated key by key. Pass 2 unmarks every mark that is not exactly one of the desired
  /// (name, value, start, end) and marks every desired one not present, with
  /// per_mark_expand[name], else default_expand (the JS default is "after"). Reproduces the
  /// reference's quirks: a removed grapheme cluster loses only its first code point, a shrinking
  /// list in a block loses its first elements, and equal adjacent runs or a mark over a block are
  /// rewritten (docs/design/rich-text-blocks.md §4). Errors leave earlier ops of this call pending.
  [[nodiscard]] Status update_spans(const ObjId& text, const std::vector<Span>& desired,
                                    ExpandMark default_expand = ExpandMark::kAfter,
                                    const std::map<std::string, ExpandMark>& per_mark_expand = {});
  // ---- end of rich text ----------------------------------------------------------------------
  /// The entries of a map with keys in [begin, end) in key (UTF-8 byte) order; an empty `end`
  /// means no upper bound.
  [[nodiscard]] Result<std::vector<std::pair<std::string, Value>>> map_range(
      const ObjId& obj, std::string_view begin = {}, std::string_view end = {}) const;
  /// Every entry of a map, as map_range(obj) gives them.
  using MapEntries = std::vector<std::pair<std::string, Value>>;
  /// map_range() of a whole map as a shared, immutable vector, kept as text_shared() keeps its
  /// strings: the same vector while `obj` is unchanged (no rebuild, no copy).
  [[nodiscard]] Result<std::shared_ptr<const MapEntries>> map_range_shared(const ObjId& obj) const;
  /// The values of a list (or the characters of a text, one per element) at indexes
  /// [begin, end), clamped to the length.
  [[nodiscard]] Result<std::vector<Value>> list_range(const ObjId& obj, std::size_t begin = 0,
                                                      std::size_t end = SIZE_MAX) const;
  /// Every item of a list (or character of a text), as list_range(obj) gives them.
  using ListItems = std::vector<Value>;
  /// list_range() of a whole list or text as a shared, immutable vector, kept as text_shared()
  /// keeps its strings: the same vector while `obj` is unchanged (no rebuild, no copy). An edit
  /// inside a nested object is not an edit of the list (its item names the object).
  [[nodiscard]] Result<std::shared_ptr<const ListItems>> list_range_shared(const ObjId& obj) const;
  /// A stable reference to the position before the element at `index` of a list or text, in the
  /// JS getCursor's forms: the element id (`counter@actorhex`); `-counter@actorhex` with
  /// CursorMove::kBefore; kCursorEnd ("e") at or past the end, which stays at the end. It keeps
  /// pointing at that element as others are inserted or deleted around it; when the element is
  /// deleted, get_cursor_position() gives, as JS, the index of the next visible element (kAfter),
  /// or (kBefore) the index of the nearest element up its insertion chain -- the element it was
  /// inserted after, then that one's, ... -- that is still visible, 0 if none (not necessarily
  /// the previous visible element). kCursorStart ("s") is the start, as JS getCursor(.., "start").
  [[nodiscard]] Result<std::string> get_cursor(const ObjId& obj, std::size_t index,
                                               CursorMove move = CursorMove::kAfter) const;
  /// The current index of a cursor of any form get_cursor() or the JS getCursor produces.
  [[nodiscard]] Result<std::size_t> get_cursor_position(const ObjId& obj, std::string_view cursor) const;
  /// splice_text() at a cursor's current position (JS splice with a cursor as the position).
  [[nodiscard]] Status splice_text_at_cursor(const ObjId& obj, std::string_view cursor, std::size_t del,
                                             std::string_view text);
  /// The document (or the object `obj`) as JSON text, using the mapping of docs/format.md.
  [[nodiscard]] Result<std::string> to_json(const ObjId& obj = ObjId::root()) const;

  // ---- reads at historical heads (as they were when the heads were current) ---------------
  // Objects are identified as now; an object created after `heads` is kInvalidArgument.
  // Unknown heads are kInvalidArgument. These walk sequences linearly.
  /// get() as of `heads`.
  [[nodiscard]] Result<std::optional<Value>> get_at(const ObjId& obj, const Prop& prop,
                                                    const std::vector<ChangeHash>& heads) const;
  /// get_all() as of `heads`.
  [[nodiscard]] Result<std::vector<Conflict>> get_all_at(const ObjId& obj, const Prop& prop,
                                                         const std::vector<ChangeHash>& heads) const;
  /// keys() as of `heads`.
  [[nodiscard]] Result<std::vector<std::string>> keys_at(const ObjId& obj,
                                                         const std::vector<ChangeHash>& heads) const;
  /// length() as of `heads`.
  [[nodiscard]] Result<std::size_t> length_at(const ObjId& obj, const std::vector<ChangeHash>& heads) const;
  /// text() as of `heads`.
  [[nodiscard]] Result<std::string> text_at(const ObjId& obj, const std::vector<ChangeHash>& heads) const;
  /// to_json() as of `heads`.
  [[nodiscard]] Result<std::string> to_json_at(const ObjId& obj, const std::vector<ChangeHash>& heads) const;
  /// marks() as of `heads`.
  [[nodiscard]] Result<std::vector<Mark>> marks_at(const ObjId& obj, const std::vector<ChangeHash>& heads) const;
  /// The marks on the element at `element_index` of a text or list, by name (JS marksAt): the
  /// index counts elements (an emoji or a block is one), not text units; past the end, none.
  /// O(elements before it).
  [[nodiscard]] Result<std::map<std::string, ScalarValue>> get_marks(const ObjId& obj,
                                                                     std::size_t element_index) const;
  /// get_marks() as of `heads`.
  [[nodiscard]] Result<std::map<std::string, ScalarValue>> get_marks_at(const ObjId& obj, std::size_t element_index,
                                                                        const std::vector<ChangeHash>& heads) const;
  /// map_range() as of `heads`.
  [[nodiscard]] Result<std::vector<std::pair<std::string, Value>>> map_range_at(
      const ObjId& obj, std::string_view begin, std::string_view end,
      const std::vector<ChangeHash>& heads) const;
  /// list_range() as of `heads`.
  [[nodiscard]] Result<std::vector<Value>> list_range_at(const ObjId& obj, std::size_t begin,
                                                         std::size_t end,
                                                         const std::vector<ChangeHash>& heads) const;

  /// Patches that turn the document as of `before` into the document as of `after`, as the
  /// reference's diff gives them. Either may be empty (the empty document); they need not be
  /// related. Walks the whole document; for observing a document as it changes, use
  /// diff_incremental().
  [[nodiscard]] Result<std::vector<Patch>> diff(const std::vector<ChangeHash>& before,
                                                const std::vector<ChangeHash>& after) const;

  // ---- observing changes: patches sized to the change (JS diffIncremental) --------------------
  /// The patches from the diff cursor to the current state (a pending transaction's ops
  /// included), then moves the cursor here (update_diff_cursor()). Without a cursor (the first
  /// call, or after reset_diff_cursor()) the patches start from the empty document.
  ///
  /// While a cursor is set, every applied op (local edits, apply_changes, merge,
  /// load_incremental, sync) records the key or element it touched, so this costs time in
  /// proportion to what changed since the cursor, not to the document; it falls back to a whole
  /// diff after changes touching more than a quarter of the document, a rollback, or a failed
  /// apply. For received changes, merges and loads the patches equal diff(cursor heads,
  /// heads()) (but for which conflicts are flagged, see Patch::Kind::kConflict). When only local
  /// edits happened since the cursor they are reported op by op, as the reference's
  /// patchCallback reports a local change: two puts to one key are two patches, a mark covers
  /// its whole range with its value, patches come grouped by object.
  std::vector<Patch> diff_incremental();
  /// Puts the diff cursor at the current state and starts recording touched keys (JS
  /// updateDiffCursor). Recording costs a few bytes per applied op until the next
  /// diff_incremental() or reset_diff_cursor().
  void update_diff_cursor();
  /// Removes the diff cursor and stops recording (JS resetDiffCursor).
  void reset_diff_cursor();
  /// The heads where the diff cursor is (empty without one). Pending ops are not in heads: a
  /// cursor set with a transaction open is past these heads.
  std::vector<ChangeHash> diff_cursor() const;

  // ---- history -----------------------------------------------------------------------------
  /// Current heads, sorted by bytes. REQUIRES: no pending transaction for an exact answer.
  std::vector<ChangeHash> heads() const;
  /// Applies change chunks (type 1 or 2) and document chunks (their changes), concatenated or
  /// one per element. Changes whose dependencies are missing wait in a queue; known changes are
  /// ignored. All or nothing: on any error the document is as it was before the call. Commits a
  /// pending transaction first.
  [[nodiscard]] Status apply_changes(ByteView chunks);
  /// apply_changes() of chunks given one per element.
  [[nodiscard]] Status apply_changes(const std::vector<Bytes>& changes);
  /// Change chunks not reachable from `since` (all of them for an empty list), in application order.
  std::vector<Bytes> get_changes(const std::vector<ChangeHash>& since = {}) const;
  /// The change chunk with this hash, if the document has it.
  std::optional<Bytes> get_change_by_hash(const ChangeHash& hash) const;
  /// Whether the document has applied the change with this hash (no bytes are built or copied).
  bool has_change(const ChangeHash& hash) const;
  /// Dependencies of queued changes that are not present, sorted.
  std::vector<ChangeHash> get_missing_deps() const;
  /// As JS getMissingDeps(doc, heads): get_missing_deps() and the hashes of `heads` this document
  /// has not applied, without the changes waiting in its queue, sorted.
  std::vector<ChangeHash> get_missing_deps(const std::vector<ChangeHash>& heads) const;
  /// The last change this document's actor committed, if any.
  std::optional<Bytes> get_last_local_change() const;
  /// How many changes the document has applied.
  std::size_t change_count() const;
  /// Every applied change in application order (JS getHistory / getAllChanges order), with its
  /// metadata and, with `with_ops`, its ops (decoded again from the chunks: O(history)).
  std::vector<ChangeInfo> history(bool with_ops = false) const;
  /// One change's metadata and ops (JS inspectChange); nullopt when the document lacks it.
  std::optional<ChangeInfo> inspect_change(const ChangeHash& hash) const;

  /// Applies every change of `other` that this document lacks.
  [[nodiscard]] Status merge(const Document& other);
  /// A copy with a new random actor (or `actor`). The two share their state until either
  /// writes, which then copies it (copy on write): a fork costs little until then. The fork may
  /// be used on another thread than this document.
  Document fork(std::optional<ActorId> actor = std::nullopt) const;
  /// A copy as of `heads` (JS forkAt): the changes that are `heads` or their ancestors, with a
  /// new random actor (or `actor`). An unknown hash is kInvalidArgument. The copy applies the
  /// changes in the reference's order (a depth-first walk from the heads), so it saves the bytes
  /// JS's copy saves; where that order is this document's own (a linear history at its heads)
  /// it shares the state as fork() does, else it replays the changes.
  [[nodiscard]] Result<Document> fork_at(const std::vector<ChangeHash>& heads,
                                         std::optional<ActorId> actor = std::nullopt) const;
  /// What change_at() made (JS ChangeAtResult; the document is this one).
  struct ChangeAtResult {
    std::optional<ChangeHash> change;  ///< the new change; nullopt when `edit` made no ops
    std::vector<ChangeHash> new_heads;  ///< JS newHeads: {*change}, or empty with no change
  };
  /// Makes a change as if the document were at `heads` and merges it in (JS changeAt): `edit`
  /// runs on a copy as of `heads` (fork_at), and what it did becomes one change whose deps are
  /// exactly `heads` (sorted; duplicates kept, as JS), numbered after every op of this document.
  /// Its actor is this document's if that actor has no ops or all of them are in `heads`, else
  /// the first derived actor (bytes 13 b2 23 09, uLEB128 level, this actor; level 1, 2, ...)
  /// with that property; the copy `edit` gets has that actor. `heads` equal to heads() in the
  /// same order is a plain change instead (as JS): deps are the heads plus this actor's last
  /// change. No ops from `edit` makes no change (as JS). `edit` must not commit the copy
  /// (kInvalidArgument); an error it returns is returned and nothing changes.
  /// A pending transaction is committed first. An unknown hash in `heads` is kInvalidArgument
  /// (JS drops it from the deps). Cost: replaying the changes in `heads` (fork_at). Known
  /// difference: an insertion next to a mark boundary made by a change outside `heads` may be
  /// placed differently, as JS steps over boundaries it does not show (see change_at.mjs).
  [[nodiscard]] Result<ChangeAtResult> change_at(const std::vector<ChangeHash>& heads,
                                                 const std::function<Status(Document&)>& edit,
                                                 const CommitOptions& options = {});

  // ---- save and load ----------------------------------------------------------------------------
  // Format: spec §2.4-§2.7. Saving leaves out the ops of a pending transaction (commit first).

  /// The whole document: one document chunk with every column of >= 256 bytes raw-DEFLATEd,
  /// followed by the raw change chunks of queued changes (missing dependencies). Byte-identical
  /// to the reference's save() when no column is deflated (deflate output differs by library;
  /// the reference loads ours). Resets the save_incremental() cursor.
  Bytes save() const;
  /// As save() but no column is deflated (the reference's saveNoCompress(); byte-identical).
  /// Resets the save_incremental() cursor.
  Bytes save_no_compress() const;
  /// The raw change chunks added since the last save(), save_no_compress() or
  /// save_incremental() (all of them after load()), concatenated in application order; empty
  /// when there are none. Commits a pending transaction first. Advances the cursor.
  Bytes save_incremental();
  /// The raw change chunks not reachable from `heads` (every change for an empty list),
  /// concatenated in application order. Unknown hashes in `heads` are ignored.
  Bytes save_after(const std::vector<ChangeHash>& heads) const;
  /// Loads a document from save() output (or any concatenation of document, change and
  /// compressed change chunks). Empty input gives an empty document. A document chunk has its
  /// changes rebuilt and verified (see LoadOptions); every following chunk is applied as
  /// changes. Malformed input is kCorruption, a bundle chunk kUnsupported, a budget overrun
  /// kResourceLimit; nothing crashes or throws (but std::bad_alloc).
  static Result<Document> load(ByteView bytes, const LoadOptions& options = {});
  /// Applies the chunks of `bytes` (as load() reads them) to this document; changes whose
  /// dependencies are missing wait in the queue. Commits a pending transaction first. On a
  /// malformed chunk the chunks before it stay applied (the reference's partial load) and the
  /// error is returned.
  [[nodiscard]] Status load_incremental(ByteView bytes);
  // ---- end of save and load ---------------------------------------------------------------------

  /// @cond INTERNAL
  struct Impl;  // the state, opaque outside the library (src/core/document_impl.h)
  /// @endcond

 private:
  friend struct detail::DocumentAccess;  // the library's own modules (sync) reach Impl through it
  std::unique_ptr<Impl> impl_;
};

}  // namespace am
