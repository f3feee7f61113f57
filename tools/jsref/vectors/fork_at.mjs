// fork_at scenarios: the reference's fork at heads (the wasm backend's fork(actor, heads), which JS
// Automerge.view and changeAt stand on) and the bytes its copy saves. Loaded by gen-vectors.mjs.
//
// The copy replays the changes that are the heads or their ancestors, and the order it applies them
// in decides the order saveNoCompress writes them in. That order is neither the original document's
// nor a plain topological sort, so the vector pins it: extra.forks is a list of
//   {heads, change_order, save_nocompress_hex}
// where change_order is the copy's getChanges([]) hashes (its application order). The generator
// refuses a vector in which every copy keeps the original's order, since such a vector would not
// tell the orders apart.
export function register({ A, T, scenario, fail, hex, mulberry32, randInt }) {
  scenario("fork_at_concurrent", "Six actors (01..06 x16) make 90 seeded (mulberry32 77) steps: a put of the " +
    "step number at one of 5 root keys, or (one step in three) a merge from another actor; all merged into actor " +
    "01's document in actor order. extra.forks: fork(actor, heads) of that document at 14 head sets (one to " +
    "three changes, a repeated head, an ancestor beside its descendant, the current heads in both orders): " +
    "heads, the copy's application order and its saveNoCompress.",
    function fork_at_concurrent() {
      const rnd = mulberry32(77);
      const actors = [1, 2, 3, 4, 5, 6].map((n) => String(n).padStart(2, "0").repeat(16));
      const docs = actors.map((actor) => A.init({ actor }));
      for (let step = 0; step < 90; step++) {
        const i = randInt(rnd, docs.length);
        if (randInt(rnd, 3) === 0) {
          const j = randInt(rnd, docs.length);
          if (j !== i) docs[i] = A.merge(docs[i], docs[j]);
        } else {
          docs[i] = A.change(docs[i], T, (d) => { d["k" + randInt(rnd, 5)] = step; });
        }
      }
      let all = docs[0];
      for (let j = 1; j < docs.length; j++) all = A.merge(all, docs[j]);
      const order = A.getAllChanges(all).map((c) => A.decodeChange(c).hash);
      const position = new Map(order.map((h, i) => [h, i]));

      const heads = A.getHeads(all);
      const headSets = [[...heads], [...heads].reverse()];
      for (let t = 0; t < 8; t++) {
        const n = 1 + randInt(rnd, 3);
        const set = [];
        for (let k = 0; k < n; k++) set.push(order[randInt(rnd, order.length)]);
        headSets.push(set);
      }
      const one = order[randInt(rnd, order.length)];
      headSets.push([one, one]);
      const change = A.decodeChange(A.getBackend(all).getChangeByHash(order[order.length - 1]));
      headSets.push([change.deps[0] ?? order[0], order[order.length - 1]]);
      headSets.push([order[order.length - 1], change.deps[0] ?? order[0]]);
      headSets.push([order[0]]);

      let reordered = 0;
      const forks = headSets.map((set) => {
        const copy = A.getBackend(all).fork("ee".repeat(16), set);
        const changeOrder = copy.getChanges([]).map((c) => A.decodeChange(c).hash);
        const original = [...changeOrder].sort((a, b) => position.get(a) - position.get(b));
        if (JSON.stringify(original) !== JSON.stringify(changeOrder)) reordered++;
        return { heads: set, change_order: changeOrder, save_nocompress_hex: hex(copy.saveNoCompress()) };
      });
      if (reordered < 3) fail(`fork_at_concurrent: only ${reordered} copies differ from the original's order`);
      return { doc: all, extra: { forks, reordered } };
    });
}
