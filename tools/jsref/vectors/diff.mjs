// Diff scenarios: A.diff between pairs of heads of one history, recorded in extra.diffs as
// [{from: [hex...], to: [hex...], patches: [...]}] with values mapped as toJson maps them. The C++ test
// (tests/core/diff_vectors_test.cc) loads each document and compares Document::diff for every pair.
export function register({ A, T, ACT_A, ACT_B, ACT_C, scenario, toJson, mulberry32, randInt, pick }) {
  const diffsOf = (doc, pairs) => pairs.map(([from, to]) => ({ from, to, patches: toJson(A.diff(doc, from, to)) }));
  const allPairs = (doc, states) => {
    const pairs = [];
    for (const from of states) for (const to of states) if (from !== to) pairs.push([from, to]);
    return diffsOf(doc, pairs);
  };

  scenario("diff_structure", "Maps, lists, text, counters, nested objects created later than their siblings, a " +
    "concurrent put (conflict) and deletes; extra.diffs = A.diff between every pair of 4 states (incl. the empty one).",
    function diff_structure() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (x) => {
        x.n = 1; x.txt = "hello"; x.l = [1, 2, 3]; x.c = new A.Counter(1); x.m = { k: "v", z: 2 };
        x.d = new Date(7); x.b = new Uint8Array([1, 2]); x.s = new A.RawString("raw"); x.f = 2.5;
      });
      const h1 = A.getHeads(a);
      let b = A.merge(A.init({ actor: ACT_B }), a);
      a = A.change(a, T, (x) => {
        x.n = 2; A.splice(x, ["txt"], 1, 2, "EY"); x.l.insertAt(1, 9, 10); x.l.deleteAt(3); x.c.increment(4);
        delete x.m.k; x.nested = { deep: [{ t: "x" }, [1, [2]]] }; x.a0 = { first: true };
      });
      b = A.change(b, T, (x) => { x.n = 3; x.l[0] = "b"; x.m.z = { obj: 1 }; A.splice(x, ["txt"], 5, 0, "!"); });
      a = A.merge(a, b);
      const h2 = A.getHeads(a);
      a = A.change(a, T, (x) => { delete x.nested.deep; x.l.deleteAt(0); x.c.increment(-2); x.txt = "new text"; });
      const h3 = A.getHeads(a);
      return { doc: a, extra: { diffs: allPairs(a, [[], h1, h2, h3]) } };
    });

  scenario("diff_conflicts", "Three actors put the same map key and list element concurrently; then one resolves " +
    "the key and another deletes the element; a counter inside a list; extra.diffs between every pair of 5 states.",
    function diff_conflicts() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (x) => { x.k = 0; x.l = ["x", "y"]; x.cl = [new A.Counter(5)]; });
      const h1 = A.getHeads(a);
      let b = A.merge(A.init({ actor: ACT_B }), a);
      let c = A.merge(A.init({ actor: ACT_C }), a);
      a = A.change(a, T, (x) => { x.k = "a"; x.l[1] = "A"; x.cl[0].increment(1); });
      b = A.change(b, T, (x) => { x.k = "b"; x.l[1] = "B"; x.cl[0].increment(10); });
      c = A.change(c, T, (x) => { x.k = { c: true }; x.l[1] = ["C"]; });
      a = A.merge(A.merge(a, b), c);
      const h2 = A.getHeads(a);
      a = A.change(a, T, (x) => { x.k = "resolved"; });
      const h3 = A.getHeads(a);
      c = A.merge(c, a);
      c = A.change(c, T, (x) => { x.l.deleteAt(1); delete x.k; });
      a = A.merge(a, c);
      const h4 = A.getHeads(a);
      return { doc: a, extra: { diffs: allPairs(a, [[], h1, h2, h3, h4]) } };
    });

  scenario("diff_conflict_flags", "A map key and a list element whose winner stays while they gain a concurrent " +
    "(lower) value, which its writer then overwrites and deletes again (the losers go); extra.diffs between every " +
    "pair of 4 states. The reference flags a gained conflict (`conflict`) and puts a value whose losers went again.",
    function diff_conflict_flags() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (x) => { x.k = 0; x.l = ["x", "y"]; x.z = 0; });
      const h1 = A.getHeads(a);
      let b = A.merge(A.init({ actor: ACT_B }), a);
      let c = A.merge(A.init({ actor: ACT_C }), a);
      b = A.change(b, T, (x) => { x.k = "b"; x.l[1] = "B"; });
      c = A.change(c, T, (x) => { x.k = "c"; x.l[1] = "C"; });
      a = A.merge(a, c);
      const h2 = A.getHeads(a);
      a = A.merge(a, b);
      a = A.change(a, T, (x) => { x.z = 1; });
      const h3 = A.getHeads(a);
      b = A.change(b, T, (x) => { x.k = "b2"; x.l[1] = "B2"; });
      b = A.change(b, T, (x) => { delete x.k; x.l.deleteAt(1); });
      a = A.merge(a, b);
      a = A.change(a, T, (x) => { x.z = 2; });
      const h4 = A.getHeads(a);
      return { doc: a, extra: { diffs: allPairs(a, [h1, h2, h3, h4]) } };
    });

  const seed = 0xd1ff2026;
  scenario("diff_random", `Seeded (mulberry32, seed ${seed}) random history of 3 actors: 40 steps, each a change of ` +
    "1-3 random ops on root keys, a list and a text (no marks), or a merge; extra.diffs = A.diff between 30 random " +
    "pairs of the heads seen along the way (incl. the empty document).",
    function diff_random() {
      const rnd = mulberry32(seed);
      const docs = [ACT_A, ACT_B, ACT_C].map((actor) => A.init({ actor }));
      docs[0] = A.change(docs[0], T, (x) => { x.list = []; x.text = ""; });
      docs[1] = A.merge(docs[1], docs[0]);
      docs[2] = A.merge(docs[2], docs[0]);
      const states = [[]];
      const keys = ["a", "b", "c", "d"];
      for (let step = 0; step < 40; step++) {
        const i = randInt(rnd, 3);
        if (rnd() < 0.2) {
          const j = (i + 1 + randInt(rnd, 2)) % 3;
          docs[i] = A.merge(docs[i], docs[j]);
        } else {
          docs[i] = A.change(docs[i], T, (x) => {
            for (let n = 1 + randInt(rnd, 3); n > 0; n--) {
              const r = randInt(rnd, 7);
              const len = x.list.length, tlen = x.text.length;
              if (r === 0) x[pick(rnd, keys)] = randInt(rnd, 100);
              else if (r === 1) x[pick(rnd, keys)] = { v: randInt(rnd, 10), t: "x" };
              else if (r === 2) delete x[pick(rnd, keys)];
              else if (r === 3) x.list.insertAt(randInt(rnd, len + 1), randInt(rnd, 50));
              else if (r === 4 && len > 0) x.list.deleteAt(randInt(rnd, len));
              else if (r === 5) A.splice(x, ["text"], randInt(rnd, tlen + 1), 0, pick(rnd, ["q", "wz", "é", "😀"]));
              else if (tlen > 0) { const p = randInt(rnd, tlen); A.splice(x, ["text"], p, Math.min(2, tlen - p)); }
            }
          });
        }
        states.push(A.getHeads(docs[i]));
      }
      let all = docs[0];
      for (const d of docs.slice(1)) all = A.merge(all, d);
      states.push(A.getHeads(all));
      const pairs = [];
      for (let p = 0; p < 30; p++) pairs.push([pick(rnd, states), pick(rnd, states)]);
      return { doc: all, extra: { seed, diffs: diffsOf(all, pairs) } };
    });

  scenario("diff_marks", "Marks and unmarks on existing and inserted text, concurrent values of one mark, and " +
    "deletes next to marked text; extra.diffs = A.diff between every pair of 5 states. Mark patches come before the " +
    "next splice or delete of the text; inserted text carries its marks inline.",
    function diff_marks() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (x) => { x.t = "abcdefgh"; x.u = "hello"; });
      const h1 = A.getHeads(a);
      a = A.change(a, T, (x) => {
        A.splice(x, ["t"], 0, 0, "XX");
        A.mark(x, ["t"], { start: 2, end: 4, expand: "none" }, "b", true);
        A.mark(x, ["t"], { start: 5, end: 7, expand: "none" }, "i", 1);
        A.mark(x, ["t"], { start: 0, end: 1, expand: "none" }, "z", "zz");
        A.mark(x, ["u"], { start: 0, end: 2, expand: "after" }, "bold", true);
        A.splice(x, ["u"], 1, 2, "EY");
      });
      const h2 = A.getHeads(a);
      a = A.change(a, T, (x) => {
        A.mark(x, ["t"], { start: 0, end: 8, expand: "none" }, "b", true);
        A.splice(x, ["t"], 4, 1, "QQ");
        A.unmark(x, ["t"], { start: 6, end: 9, expand: "none" }, "i");
      });
      const h3 = A.getHeads(a);
      let b = A.merge(A.init({ actor: ACT_B }), a);
      a = A.change(a, T, (x) => { A.mark(x, ["t"], { start: 0, end: 3 }, "c", "red"); });
      b = A.change(b, T, (x) => { A.mark(x, ["t"], { start: 1, end: 4 }, "c", "blue"); A.splice(x, ["t"], 2, 0, "n"); });
      a = A.merge(a, b);
      const h4 = A.getHeads(a);
      return { doc: a, extra: { diffs: allPairs(a, [[], h1, h2, h3, h4]) } };
    });

  scenario("diff_unmarks", "Unmarks over marks made in the same diff range and in earlier ones, an unmark of text " +
    "never marked, a new value over part of an unmarked run, and text inserted into unmarked text; extra.diffs = " +
    "A.diff between every pair of 6 states of a reloaded document (so every diff is computed, none the last " +
    "change's own patches). The rule: unmarked text (null) and text never marked compare equal, so an unmark is " +
    "reported only where the other state has the mark.",
    function diff_unmarks() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (x) => { x.t = "abcdefghij"; });
      const h1 = A.getHeads(a);
      a = A.change(a, T, (x) => { A.mark(x, ["t"], { start: 0, end: 8, expand: "none" }, "b", true); });
      const h2 = A.getHeads(a);
      a = A.change(a, T, (x) => {
        A.unmark(x, ["t"], { start: 2, end: 4, expand: "none" }, "b");
        A.unmark(x, ["t"], { start: 6, end: 9, expand: "none" }, "i");
      });
      const h3 = A.getHeads(a);
      a = A.change(a, T, (x) => {
        A.mark(x, ["t"], { start: 3, end: 5, expand: "none" }, "b", "x");
        A.unmark(x, ["t"], { start: 0, end: 1, expand: "none" }, "b");
      });
      const h4 = A.getHeads(a);
      a = A.change(a, T, (x) => { A.splice(x, ["t"], 2, 0, "ZZ"); A.splice(x, ["t"], 9, 0, "Y"); });
      const h5 = A.getHeads(a);
      a = A.load(A.save(a));
      return { doc: a, extra: { diffs: allPairs(a, [[], h1, h2, h3, h4, h5]) } };
    });
}
