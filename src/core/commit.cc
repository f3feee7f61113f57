// Document::Impl::commit: the open transaction's ops encoded straight into a change chunk by
// the canonical encoder (storage/change.h), without building a decoded storage::Change first. A
// paste is one op per character, so a commit may hold 100,000 ops; a Change of them (a variant,
// vectors and strings per op) cost more than the encoding itself, and its pages were faulted in
// fresh on every commit.
#include <algorithm>

#include "core/document_impl.h"

namespace am {

namespace {

using storage::ChangeOpId;

// Restores the actor slots to all 0, however commit leaves.
struct ResetSlots {
  std::vector<std::uint32_t>& slots;
  const std::vector<std::uint32_t>& named;
  ~ResetSlots() {
    for (const std::uint32_t g : named) slots[g] = 0;
  }
};

}  // namespace

ChangeHash Document::Impl::commit(const CommitOptions& opts) {
  open_tx();
  const std::uint32_t author = intern_actor(actor.bytes);
  // The change's actor table in canonical form: the author, then the other document actors
  // the ops name, sorted by bytes. A document with thousands of actors must not copy them all
  // into every change.
  if (commit_actor_slots.size() < actors().size()) commit_actor_slots.resize(actors().size(), 0);
  std::vector<std::uint32_t>& named = commit_named;
  named.assign(1, author);
  commit_actor_slots[author] = 1;
  ResetSlots reset{commit_actor_slots, named};
  auto name = [&](OpId id) {
    if (commit_actor_slots[id.actor] == 0) {
      commit_actor_slots[id.actor] = 1;  // placed below, once sorted
      named.push_back(id.actor);
    }
  };
  for (std::size_t i = 0; i < tx_ops.size(); ++i) {
    const core::PendingOp& p = tx_ops[i];
    if (p.obj.counter != 0) name(p.obj);
    if (!p.is_map && p.elem.counter != 0) name(p.elem);
    for (const OpId q : p.pred) name(q);
  }
  std::sort(named.begin() + 1, named.end(),
            [&](std::uint32_t a, std::uint32_t b) { return actors().bytes(a) < actors().bytes(b); });
  for (std::size_t i = 0; i < named.size(); ++i) commit_actor_slots[named[i]] = static_cast<std::uint32_t>(i + 1);
  auto local = [&](OpId id) { return ChangeOpId{id.counter, commit_actor_slots[id.actor] - 1}; };
  auto lamport_less = [&](const ChangeOpId& a, const ChangeOpId& b) {
    if (a.counter != b.counter) return a.counter < b.counter;
    return actors().bytes(named[a.actor]) < actors().bytes(named[b.actor]);
  };

  // One op as the encoder takes it; `value` and commit_preds hold what it points to.
  auto ref_of = [&](const core::PendingOp& p, ScalarValue& value) {
    storage::ChangeOpRef r;
    if (p.obj.counter != 0) r.obj = local(p.obj);
    r.is_map = p.is_map;
    if (p.is_map) {
      r.map_key = tx_ops.key(p);
    } else if (p.elem.counter != 0) {
      r.elem = local(p.elem);
    }
    r.insert = p.insert;
    r.action = p.action;
    value = p.value.get();
    r.value = &value;
    commit_preds.clear();
    for (const OpId q : p.pred) commit_preds.push_back(local(q));
    if (!std::is_sorted(commit_preds.begin(), commit_preds.end(), lamport_less)) {
      std::sort(commit_preds.begin(), commit_preds.end(), lamport_less);
    }
    r.pred = commit_preds;
    r.expand = p.expand;
    if (p.has_mark_name) r.mark_name = tx_ops.mark_name(p);
    return r;
  };

  // The header: deps are the heads and our own last change (sorted), unless change_at set them.
  std::uint64_t seq = (author < changes_by_actor.size() ? changes_by_actor[author].size() : 0) + 1;
  std::vector<ChangeHash> deps(heads.begin(), heads.end());
  if (next_commit) {
    seq = next_commit->seq;
    deps = std::move(next_commit->deps);
    next_commit.reset();
  } else if (author < changes_by_actor.size() && !changes_by_actor[author].empty()) {
    const ChangeHash own = history.hash(changes_by_actor[author].back());
    if (!heads.contains(own)) {
      deps.insert(std::upper_bound(deps.begin(), deps.end(), own), own);
    }
  }
  std::vector<ByteView> others;
  others.reserve(named.size() - 1);
  for (std::size_t i = 1; i < named.size(); ++i) others.push_back(actors().bytes(named[i]));
  storage::ChangeHeaderRef h;
  h.deps = deps;
  h.author = actors().bytes(author);
  h.others = others;
  h.seq = seq;
  h.start_op = tx_start_op;
  h.time = opts.time ? *opts.time : commit_time_now();
  if (opts.message) h.message = *opts.message;  // an empty one is none in the chunk

  storage::CanonicalChangeEncoder& encoder = storage::thread_change_encoder();
  ChangeHash hash;
  ByteView chunk;
  ScalarValue value;
  if (tx_ops.size() == 1) {
    chunk = encoder.finish_single(ref_of(tx_ops[0], value), h, hash);
  } else {
    for (std::size_t i = 0; i < tx_ops.size(); ++i) encoder.add(ref_of(tx_ops[i], value));
    chunk = encoder.finish(h, hash);
  }
  // The chunk cannot tell "" from no message, but a document saved by the reference keeps ""
  // for a local commit with an empty message; so does the history.
  const std::optional<std::string_view> message =
      opts.message ? std::optional<std::string_view>(*opts.message) : std::nullopt;
  for (const ChangeHash& d : deps) heads.erase(d);
  heads.insert(hash);
  const std::uint64_t n = tx_ops.size();
  note_recorded(history.append_encoded(hash, chunk, author, seq, tx_start_op, n, h.time, message, {}, deps), author,
                tx_start_op + n - 1);
  last_local = static_cast<std::uint32_t>(history.size() - 1);
  tx_open = false;
  tx_ops.clear();
  return hash;
}

}  // namespace am
