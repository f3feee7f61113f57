// change_at scenarios: A.changeAt(doc, heads, fn), a change made as if the document were at `heads` and merged
// into it. Loaded by gen-vectors.mjs (loadTopicModules).
//
// Every change_at_* vector is a script of steps on named peers (extra.peers: name -> actor hex), each peer a
// document A.init({actor}); the vector's document is peer A at the end. extra.steps, in order:
//   {op: "change", peer, edits, heads_after}          A.change(doc, {time: 0}, fn) doing `edits`
//   {op: "merge", peer, from, heads_after}            doc = A.merge(doc, peers[from])
//   {op: "change_at", peer, heads, edits, new_heads, change, heads_after, json_after}
//        A.changeAt(doc, heads, {time: 0}, fn) doing `edits`; new_heads is its newHeads (null when the edits
//        made no ops); change = {hex, actor, seq, startOp, deps} of the new change (null when none);
//        last_local = the hash of A.getLastLocalChange(doc) after it (null when none).
// `edits` is a list of (interpreted alike by the C++ test):
//   ["put", path, key, value]          obj[key] = value (numbers are integers; no strings: those make text)
//   ["make_map", path, key]            obj[key] = {}
//   ["make_text", path, key, text]     obj[key] = text (a text object)
//   ["del", path, key]                 delete obj[key]
//   ["splice", path, pos, del, text]   A.splice(d, path, pos, del, text)
//   ["mark", path, start, end, expand, name, value]   A.mark(d, path, {start, end, expand}, name, value)
// where path is the list of map keys from the root to the object (for splice and mark, to the text).
//
// Left out on purpose: an insertion in changeAt right next to the boundary of a mark made by a change that is
// not in the heads. The reference's isolated transaction still steps over that boundary when it places the new
// element (its sticky-mark scan does not look at the heads' clock), so its change references an op outside its
// deps; the C++ edit runs on a fork at the heads, which does not have that op. Seen with an "em" mark expand
// "both" from one changeAt at h1 and a splice at 0 in a changeAt at a later head h2.
export function register({ A, T, ACT_A, ACT_B, ACT_C, scenario, hex, docJson }) {
  function resolve(d, path) {
    let o = d;
    for (const k of path) o = o[k];
    return o;
  }
  function applyEdits(d, edits) {
    for (const e of edits) {
      switch (e[0]) {
        case "put": resolve(d, e[1])[e[2]] = e[3]; break;
        case "make_map": resolve(d, e[1])[e[2]] = {}; break;
        case "make_text": resolve(d, e[1])[e[2]] = e[3]; break;
        case "del": delete resolve(d, e[1])[e[2]]; break;
        case "splice": A.splice(d, e[1], e[2], e[3], e[4]); break;
        case "mark": A.mark(d, e[1], { start: e[2], end: e[3], expand: e[4] }, e[5], e[6]); break;
        default: throw new Error(`unknown edit ${e[0]}`);
      }
    }
  }

  // Records the steps as it runs them; every method returns the peer's heads after the step.
  function script(peers) {
    const docs = {};
    for (const [name, actor] of Object.entries(peers)) docs[name] = A.init({ actor });
    const steps = [];
    return {
      change(peer, edits) {
        docs[peer] = A.change(docs[peer], T, (d) => applyEdits(d, edits));
        steps.push({ op: "change", peer, edits, heads_after: A.getHeads(docs[peer]) });
        return A.getHeads(docs[peer]);
      },
      merge(peer, from) {
        docs[peer] = A.merge(docs[peer], docs[from]);
        steps.push({ op: "merge", peer, from, heads_after: A.getHeads(docs[peer]) });
        return A.getHeads(docs[peer]);
      },
      changeAt(peer, heads, edits) {
        const r = A.changeAt(docs[peer], heads, T, (d) => applyEdits(d, edits));
        docs[peer] = r.newDoc;
        let change = null;
        if (r.newHeads) {
          const bytes = A.getBackend(docs[peer]).getChangeByHash(r.newHeads[0]);
          const c = A.decodeChange(bytes);
          change = { hex: hex(bytes), actor: c.actor, seq: c.seq, startOp: c.startOp, deps: c.deps };
        }
        const last = A.getLastLocalChange(docs[peer]);
        steps.push({ op: "change_at", peer, heads, edits, new_heads: r.newHeads, change,
          heads_after: A.getHeads(docs[peer]), json_after: docJson(docs[peer]),
          last_local: last ? A.decodeChange(last).hash : null });
        return r.newHeads;
      },
      heads(peer) { return A.getHeads(docs[peer]); },
      doc(peer) { return docs[peer]; },
      result(extra = {}) { return { doc: docs.A, extra: { peers, steps, ...extra } }; },
    };
  }

  scenario("change_at_own_actor_idle", "A.changeAt at an old head when the document's own actor made no change " +
    "since (B did): the change is the own actor's (level 0), deps = the given heads. Then a plain change. " +
    "Steps in extra.steps (see change_at.mjs).",
    function change_at_own_actor_idle() {
      const s = script({ A: ACT_A, B: ACT_B });
      const h1 = s.change("A", [["put", [], "x", 1]]);
      s.merge("B", "A");
      s.change("B", [["put", [], "y", 2]]);
      s.merge("A", "B");
      s.changeAt("A", h1, [["put", [], "z", 3]]);
      s.change("A", [["put", [], "w", 4]]);
      return s.result();
    });

  scenario("change_at_own_actor_busy", "A.changeAt at heads the own actor has later ops than: a derived actor " +
    "(magic 13b22309, uLEB level, base actor) whose ops are all covered by the heads, level 1 then 2; changeAt " +
    "on the result reuses level 1; changeAt at the own actor's last change uses the own actor; an empty " +
    "changeAt makes no change; redundant heads (an ancestor with its descendant) and a repeated head are all " +
    "kept in the deps. Steps in extra.steps (see change_at.mjs).",
    function change_at_own_actor_busy() {
      const s = script({ A: ACT_A });
      const h1 = s.change("A", [["put", [], "x", 1]]);
      const h2 = s.change("A", [["put", [], "x", 2]]);
      const n1 = s.changeAt("A", h1, [["put", [], "y", 1]]);
      s.changeAt("A", n1, [["put", [], "y", 2]]);
      s.changeAt("A", h1, [["put", [], "z", 1]]);
      s.changeAt("A", h2, [["put", [], "z", 2]]);
      s.changeAt("A", h1, []);
      s.changeAt("A", [...h1, ...h2], [["put", [], "v", 1]]);
      const head = s.heads("A")[0];
      s.changeAt("A", [head, head], [["put", [], "v", 2]]);
      s.change("A", [["put", [], "w", 1]]);
      return s.result();
    });

  scenario("change_at_text", "A.changeAt on text: splices and a mark at indexes of the old text, while later " +
    "changes moved them. Steps in extra.steps (see change_at.mjs).",
    function change_at_text() {
      const s = script({ A: ACT_A });
      const h1 = s.change("A", [["make_text", [], "text", "hello world"]]);
      const h2 = s.change("A", [["splice", ["text"], 0, 0, ">> "]]);
      s.change("A", [["splice", ["text"], 3, 5, "HELLO"], ["mark", ["text"], 3, 8, "after", "bold", true]]);
      s.changeAt("A", h1, [["splice", ["text"], 6, 5, "there"]]);
      s.changeAt("A", h1, [["splice", ["text"], 11, 0, "!"], ["mark", ["text"], 0, 5, "after", "em", true]]);
      s.changeAt("A", h2, [["splice", ["text"], 3, 0, "oh "], ["splice", ["text"], 0, 2, "<<"]]);
      s.change("A", [["splice", ["text"], 0, 0, "# "]]);
      return s.result({ marks: JSON.parse(JSON.stringify(A.marks(s.doc("A"), ["text"]))) });
    });

  scenario("change_at_map_concurrent_peer", "A.changeAt in a nested map (a new map, a put in it, a delete of a " +
    "key overwritten since), a concurrent peer B that also uses changeAt, then merges both ways. Steps in " +
    "extra.steps (see change_at.mjs); extra.json_b = peer B at the end.",
    function change_at_map_concurrent_peer() {
      const s = script({ A: ACT_A, B: ACT_B });
      const h1 = s.change("A", [["make_map", [], "m"], ["put", ["m"], "a", 1]]);
      s.merge("B", "A");
      s.change("B", [["put", ["m"], "b", 2]]);
      s.change("A", [["put", ["m"], "a", 5]]);
      s.changeAt("A", h1, [["make_map", ["m"], "n"], ["put", ["m", "n"], "k", 1], ["del", ["m"], "a"]]);
      s.changeAt("B", h1, [["put", ["m"], "c", 3]]);
      s.merge("A", "B");
      s.merge("B", "A");
      s.changeAt("B", s.heads("B"), [["put", ["m", "n"], "k", 2]]);
      s.merge("A", "B");
      return s.result({ json_b: docJson(s.doc("B")) });
    });

  let unknownHeadsError = null;
  try {
    A.changeAt(A.from({ x: 1 }, { actor: ACT_A }), ["00".repeat(32)], T, (d) => { d.y = 1; });
  } catch (e) { unknownHeadsError = String(e.message ?? e); }

  scenario("change_at_current_heads", "A.changeAt at the current heads in getHeads order is a plain A.change " +
    "(deps add the actor's last change when it is not a head); in another order it is isolated (deps = the " +
    "heads). An empty changeAt at the current heads makes no change. extra.unknown_heads_error: what " +
    "A.changeAt at an unknown head throws. Steps in extra.steps (see change_at.mjs).",
    function change_at_current_heads() {
      const s = script({ A: ACT_A, B: ACT_B, C: ACT_C });
      s.change("A", [["put", [], "x", 1]]);
      s.merge("B", "A");
      s.change("B", [["put", [], "y", 1]]);
      s.merge("C", "A");
      s.change("C", [["put", [], "z", 1]]);
      s.merge("A", "B");
      const both = s.merge("A", "C");
      s.changeAt("A", [...both].reverse(), [["put", [], "p", 1]]);
      s.merge("C", "A");
      s.changeAt("C", s.heads("C"), [["put", [], "q", 1]]);
      s.merge("A", "C");
      s.changeAt("A", s.heads("A"), []);
      s.changeAt("A", s.heads("A"), [["put", [], "r", 1]]);
      return s.result({ unknown_heads_error: unknownHeadsError });
    });
}
