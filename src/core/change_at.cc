// Document::change_at (JS changeAt): the edit runs on a fork at the given heads, and the change it
// makes is numbered and attributed as the reference's isolated transaction does it (facts from
// rust/automerge automerge.rs transaction_args / isolate_actor and types.rs
// ActorId::with_concurrency, checked against the change_at_* golden vectors), then applied here.
#include <algorithm>
#include <iterator>
#include <optional>

#include "am/document.h"
#include "core/document_impl.h"

namespace am {

namespace {

// The prefix of a derived ("concurrency") actor's bytes in the reference.
constexpr std::uint8_t kDerivedActorMagic[] = {0x13, 0xb2, 0x23, 0x09};

// The actor the reference uses at concurrency `level` >= 1: magic, uLEB128(level), base bytes.
ActorId derived_actor(const ActorId& base, std::uint64_t level) {
  ActorId a;
  a.bytes.assign(std::begin(kDerivedActorMagic), std::end(kDerivedActorMagic));
  do {
    auto b = static_cast<std::uint8_t>(level & 0x7f);
    level >>= 7;
    if (level != 0) b |= 0x80;
    a.bytes.push_back(b);
  } while (level != 0);
  a.bytes.insert(a.bytes.end(), base.bytes.begin(), base.bytes.end());
  return a;
}

// Whether `actor` can author a change at the heads whose ancestors `at` marks without two of its
// changes being concurrent: it has no ops, or the max op of its last change is covered by the
// heads' clock (the max op of its last change among the ancestors), as the reference decides.
bool usable_at(const Document::Impl& d, const ActorId& actor, const std::vector<bool>& at) {
  const auto a = d.actors().find(actor.bytes);
  if (!a || *a >= d.changes_by_actor.size() || d.changes_by_actor[*a].empty()) return true;
  const std::vector<std::uint32_t>& rows = d.changes_by_actor[*a];
  const std::uint64_t last = d.history[rows.back()].max_op();
  if (last == 0) return true;
  // Rows are in seq order, so the last one among the ancestors is the clock's entry.
  const auto covered = std::find_if(rows.rbegin(), rows.rend(), [&](std::uint32_t r) { return at[r]; });
  return covered != rows.rend() && d.history[*covered].max_op() >= last;
}

std::uint64_t changes_of(const Document::Impl& d, const ActorId& actor) {
  const auto a = d.actors().find(actor.bytes);
  return a && *a < d.changes_by_actor.size() ? d.changes_by_actor[*a].size() : 0;
}

}  // namespace

Result<Document::ChangeAtResult> Document::change_at(const std::vector<ChangeHash>& heads,
                                                     const std::function<Status(Document&)>& edit,
                                                     const CommitOptions& options) {
  Impl& d = *impl_;
  for (const ChangeHash& h : heads) {
    if (!d.history.contains(h)) return fail(Error::invalid_argument("heads", h.to_hex() + " is not a change of this document"));
  }
  if (d.tx_open) d.commit({});
  std::optional<Document> copy;
  if (heads == this->heads()) {
    // JS compares with getHeads() in order and then makes a plain change.
    copy.emplace(fork(d.actor));
  } else {
    const std::vector<bool> at = d.history.ancestors(heads);
    ActorId actor = d.actor;
    for (std::uint64_t level = 1; !usable_at(d, actor, at); ++level) actor = derived_actor(d.actor, level);
    Impl::CommitOverride next;
    next.start_op = d.max_op + 1;  // after the whole document's ops, not only those at `heads`
    next.seq = changes_of(d, actor) + 1;
    next.deps = heads;
    std::sort(next.deps.begin(), next.deps.end());
    std::vector<ChangeHash> wanted = heads;
    std::sort(wanted.begin(), wanted.end());
    std::vector<ChangeHash> current = this->heads();
    std::sort(current.begin(), current.end());
    if (wanted == current) {
      // The current heads in another order: the edit copy's change order is never saved, so
      // it can share the op set instead of replaying the history as fork_at would here.
      copy.emplace(fork(std::move(actor)));
    } else {
      AM_TRY_ASSIGN(Document at_heads, fork_at(heads, std::move(actor)));
      copy.emplace(std::move(at_heads));
    }
    copy->impl_->next_commit = std::move(next);
  }
  const std::size_t changes_before = copy->change_count();
  AM_TRY_STATUS(edit(*copy));
  if (copy->change_count() != changes_before) {
    return fail(Error::invalid_argument("change_at", "the edit committed; it must leave its ops pending"));
  }
  if (copy->pending_ops() == 0) return ChangeAtResult{};  // JS makes no change either
  const ChangeHash hash = copy->commit(options);
  const Bytes chunk = copy->impl_->history.chunk_copy(copy->impl_->history.size() - 1);
  AM_TRY_STATUS(apply_changes(std::vector<Bytes>{chunk}));
  // The reference's last local change is its actor's last change, however it came.
  if (copy->actor() == d.actor) d.last_local = d.history.find(hash);
  return ChangeAtResult{hash, {hash}};
}

}  // namespace am
