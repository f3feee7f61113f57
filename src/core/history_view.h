// Reading a document as it was at some heads, and diffing two such states into patches.
//
// A state at heads is a clock: for each actor, the greatest op counter of its changes that are
// ancestors of (or equal to) the heads. An actor's ops are numbered in its change order, so an
// op is part of that state exactly when its counter is within its actor's clock entry. The op
// set is shared with the current state; only visibility is recomputed, so historical reads walk
// sequences linearly instead of using the positional index.
#pragma once

#include <span>
#include <vector>

#include "core/document_impl.h"

namespace am::core {

/// The per-actor op counter limits of a state. An empty Clock (`current`) means "now".
struct Clock {
  bool current = true;
  std::vector<std::uint32_t> max_counter;  // indexed by document actor

  bool covers(OpId id) const {
    return current || (id.actor < max_counter.size() && id.counter <= max_counter[id.actor]);
  }
};

/// The clock of `heads`. Unknown hashes are kInvalidArgument.
[[nodiscard]] Result<Clock> clock_at(const Document::Impl& d, const std::vector<ChangeHash>& heads);

/// Read helpers over one state of a document. Holds references: the document must outlive it.
class StateView {
 public:
  StateView(const Document::Impl& d, Clock clock) : d_(d), clock_(std::move(clock)) {}

  const Document::Impl& doc() const { return d_; }
  /// Whether this is the state now (not at other heads).
  bool current() const { return clock_.current; }
  bool exists(const Op& op) const { return clock_.covers(op.id); }
  bool visible(const Op& op) const;
  /// The winning (greatest id) visible op among `ops` and `insert_op`, or kNone32.
  std::uint32_t winner(std::span<const std::uint32_t> ops, std::uint32_t insert_op) const;
  std::vector<std::uint32_t> visible_ops(std::span<const std::uint32_t> ops, std::uint32_t insert_op) const;
  /// The ops of a map key that can be visible in this state: the live ones now, all of them at
  /// other heads (an op hidden now may not be hidden yet there).
  std::span<const std::uint32_t> candidates(const KeyOps& key) const {
    return clock_.current ? key.live() : std::span<const std::uint32_t>(key.ops);
  }
  Value value_of(const Op& op) const;
  /// The object `id` in this state, or an error if it does not exist in it.
  Result<const Object*> object(const ObjId& id) const;
  /// Width of an element in this state (0 when not visible).
  SeqWidth element_width(const Object& o, std::uint32_t handle) const;
  /// Handle of the element at visible offset `index` in `unit`, or SequenceIndex::kNone.
  std::uint32_t element_at(const Object& o, std::size_t index) const;
  std::size_t length(const Object& o) const;
  std::string text(const Object& o) const;
  void to_json(std::string& out, const Object& o) const;
  /// Marks as maximal spans per name with a non-null winning value, sorted by name then start;
  /// where spans of one name overlap, the begin op with the greatest id wins.
  std::vector<Mark> marks(const Object& o) const;

 private:
  bool hides(const Op& target, const OpId& succ) const;

  const Document::Impl& d_;
  Clock clock_;
};

/// The patches that turn `before` into `after` (two states of one document), as the reference's
/// diff orders them: object by object in object id order, each object's in key or index order.
std::vector<Patch> diff_states(const StateView& before, const StateView& after);

/// diff_states() walking only what `log` says ops touched since `before` (which must hold every
/// op applied before the log started, and none after): the same patches, in time proportional
/// to the touched keys (times a log factor), not to the document. REQUIRES: !log.overflow.
std::vector<Patch> diff_touched(const StateView& before, const StateView& after, const TouchLog& log);

/// The patches of the local edits in `log` (which must be usable()), as the reference's
/// patchCallback gives them for local changes (core/local_patches.cc).
std::vector<Patch> local_patches(const Document::Impl& d, const LocalPatchLog& log);

}  // namespace am::core
