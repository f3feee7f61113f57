// Patch-rule scenarios: small received batches that show one rule of the reference's patches each, both as
// its patchCallback reports them to a document that receives the batch (A.applyChanges) and as A.diff gives
// them between the states before and after. Each vector has extra.cases = [{name, base: [hex], changes: [hex],
// patches, diff}]: `base` is every change of the state before, `changes` the received batch (in order),
// `patches` null where the reference's patch log panics on the batch. The
// histories are made with the low-level handle (A.getBackend(..).fork) so that a text character can be put
// over, as the C++ API can. The C++ test (tests/core/patch_rules_test.cc) applies `base`, then `changes`, and
// compares Document::diff_incremental with `patches` and Document::diff with `diff`.
export function register({ A, ACT_A, ACT_B, ACT_C, scenario, hex, toJson }) {
  const LOW = "01".repeat(16), HIGH = "ee".repeat(16);
  const commit = (h) => { h.commit(null, 0); return h; };
  const since = (from, to) => from.getChangesAdded(to);

  function received(name, base, batch) {
    let got = [];
    const copy = A.load(base.save(), { patchCallback: (p) => { got.push(...p); } });
    got = [];
    const after = A.applyChanges(copy, batch)[0];
    const diff = A.diff(after, A.getHeads(copy), A.getHeads(after));
    return { name, base: base.getChanges([]).map(hex), changes: batch.map(hex), patches: toJson(got), diff: toJson(diff) };
  }
  // A case whose received batch the reference's patch log panics on: only its diff (patches: null). The
  // state after is made by applying base and batch to their common ancestor `from` in one batch (applying
  // changes runs the log's code even when nothing is logged, and that batch does not panic).
  function diffOnly(name, from, base, batch) {
    const h = from.fork();
    h.applyChanges([...since(from, base), ...batch]);
    return { name, base: base.getChanges([]).map(hex), changes: batch.map(hex), patches: null,
      diff: toJson(h.diff(base.getHeads(), h.getHeads())) };
  }
  // The vector's document: every change of every case.
  function docOf(handles) {
    const all = handles[0].fork(ACT_C);
    for (const h of handles.slice(1)) all.merge(h);
    return A.load(all.save());
  }

  scenario("patch_rules_counter", "A counter (a map key and a list element) that is incremented and gains a " +
    "concurrent value in the same received batch, with the new value losing or winning, with and without a " +
    "concurrent value it already had, and with its losers going; extra.cases as described in patch_rules.mjs.",
    function patch_rules_counter() {
      const root = A.getBackend(A.init({ actor: ACT_A })).fork(ACT_A);
      root.put("_root", "c", 0);
      const l = root.putObject("_root", "l", ["x"]);
      commit(root);
      // Forks that do not see the counter: their puts are concurrent with it.
      const lo = root.fork(LOW), hi = root.fork(HIGH), lo2 = root.fork("02".repeat(16));
      const base = root.fork(ACT_A);
      base.put("_root", "c", 1, "counter");
      base.put(l, 0, 1, "counter");
      commit(base);
      const inc = base.fork(ACT_B);
      inc.increment("_root", "c", 5);
      inc.increment(l, 0, 5);
      commit(inc);
      for (const [h, v] of [[lo, 7], [hi, 8], [lo2, 9]]) { h.put("_root", "c", v); h.put(l, 0, v); commit(h); }
      // The counter already conflicted: it had lo2's value as a loser.
      const conflicted = base.fork(ACT_A);
      conflicted.applyChanges(since(root, lo2));
      // lo2 deletes its value again (the counter's losers go).
      const lo2gone = lo2.fork("02".repeat(16));
      lo2gone.delete("_root", "c");
      lo2gone.delete(l, 0);
      commit(lo2gone);
      const cases = [
        received("increment and a lower concurrent value", base, [...since(base, inc), ...since(root, lo)]),
        received("a lower concurrent value, then the increment", base, [...since(root, lo), ...since(base, inc)]),
        received("increment and a higher concurrent value", base, [...since(base, inc), ...since(root, hi)]),
        received("increment only", base, since(base, inc)),
        received("conflicted: increment and another lower value", conflicted, [...since(base, inc), ...since(root, lo)]),
        received("conflicted: increment only", conflicted, since(base, inc)),
        received("conflicted: increment and the loser deleted", conflicted, [...since(base, inc), ...since(lo2, lo2gone)]),
        received("conflicted: the loser deleted", conflicted, since(lo2, lo2gone)),
      ];
      return { doc: docOf([base, inc, lo, hi, lo2gone]), extra: { cases } };
    });

  scenario("patch_rules_text", "Text characters put over (as a map key and a list element are, alongside): " +
    "overwritten, overwritten concurrently, gaining a concurrent value while the winner stays (already conflicted " +
    "or not), a new winner over the old, the losers going, the winner deleted (a loser shows again), and a 2-unit " +
    "character replaced; extra.cases as described in patch_rules.mjs. The reference deletes and splices again " +
    "where a map key or list element is put again.",
    function patch_rules_text() {
      const root = A.getBackend(A.init({ actor: ACT_A })).fork(ACT_A);
      const t = root.putObject("_root", "t", "ab\u{1F600}");
      const l = root.putObject("_root", "l", ["a", "b", "c"]);
      root.put("_root", "k", "b");
      commit(root);
      const putAll = (actor, from, v, at = 1) => {
        const h = from.fork(actor);
        h.put(t, at, v); h.put(l, 1, v); h.put("_root", "k", v);
        return commit(h);
      };
      const delAll = (actor, from) => {
        const h = from.fork(actor);
        h.delete(t, 1); h.delete(l, 1); h.delete("_root", "k");
        return commit(h);
      };
      const own = putAll(ACT_A, root, "Z", 2);
      const ownAscii = putAll(ACT_B, root, "Y");
      const lo = putAll(LOW, root, "L"), hi = putAll(HIGH, root, "H"), mid = putAll("02".repeat(16), root, "M");
      const withHi = root.fork(ACT_C); withHi.applyChanges(since(root, hi));
      const withLo = root.fork(ACT_C); withLo.applyChanges(since(root, lo));
      const both = root.fork(ACT_C); both.applyChanges([...since(root, lo), ...since(root, hi)]);
      const loGone = delAll(LOW, lo);
      const hi2 = delAll(HIGH, hi);
      const cases = [
        received("overwritten (a 2-unit character)", root, since(root, own)),
        received("overwritten (a 1-unit character)", root, since(root, ownAscii)),
        received("overwritten concurrently", root, [...since(root, lo), ...since(root, hi)]),
        received("gains a lower concurrent value", withHi, since(root, lo)),
        received("conflicted: gains another lower value", both, since(root, mid)),
        received("a new winner over the old", withLo, since(root, hi)),
        // The reference's log panics when a text character's losers go ("exposed value must record the value
        // it replaces"): the diff only.
        diffOnly("the losers go", root, both, since(lo, loGone)),
        received("the winner deleted: the loser shows again", both, since(hi, hi2)),
      ];
      return { doc: docOf([own, ownAscii, both, loGone, hi2, mid]), extra: { cases } };
    });
}
