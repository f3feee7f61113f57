// Patch-log scenarios: what the reference's patchCallback gives an observer as changes arrive. An observer
// document (its patchCallback set at init, so changes, merges and applyChanges all report) follows a seeded
// random history of three peers; extra.steps records, per step, the change chunks the observer took in (hex,
// in the order it got them) and the patches its callback received (values mapped as toJson maps them). The
// C++ test (tests/core/patch_log_test.cc) applies the same chunks to a document and compares
// Document::diff_incremental with each step's patches.
export function register({ A, T, ACT_A, ACT_B, ACT_C, scenario, hex, toJson, marksJson, mulberry32, randInt, pick }) {
  const ACT_O = "0d".repeat(16);
  // One vector per seed: patch_callback_random, then patch_callback_random_2, _3, ...
  const seeds = [0x9a7c4b1e, 0x3c6ef372, 0x5be0cd19, 0x1f83d9ab];

  // One random op on the shared shape: root keys, a nested map, a list (with maps in it), a text with
  // marks, a counter.
  function randomOp(rnd, x) {
    const keys = ["a", "b", "c", "d"];
    const len = x.list.length, tlen = x.text.length;
    switch (randInt(rnd, 13)) {
      case 0: x[pick(rnd, keys)] = randInt(rnd, 100); break;
      case 1: x[pick(rnd, keys)] = { v: randInt(rnd, 10), t: "x" }; break;
      case 2: delete x[pick(rnd, keys)]; break;
      case 3: x.m[pick(rnd, ["p", "q"])] = pick(rnd, ["s", 1, true, null]); break;
      case 4: x.list.insertAt(randInt(rnd, len + 1), rnd() < 0.3 ? { q: randInt(rnd, 9) } : randInt(rnd, 50)); break;
      case 5: if (len > 0) x.list.deleteAt(randInt(rnd, len)); break;
      case 6: if (len > 0) x.list[randInt(rnd, len)] = randInt(rnd, 50); break;
      case 7: {
        const i = len > 0 ? randInt(rnd, len) : -1;
        if (i >= 0 && typeof x.list[i] === "object" && x.list[i] !== null) x.list[i].q = randInt(rnd, 9);
        break;
      }
      case 8: A.splice(x, ["text"], randInt(rnd, tlen + 1), 0, pick(rnd, ["q", "wz", "é", "😀", "abc"])); break;
      case 9: if (tlen > 0) { const p = randInt(rnd, tlen); A.splice(x, ["text"], p, Math.min(1 + randInt(rnd, 3), tlen - p)); } break;
      case 10: x.cnt.increment(1 + randInt(rnd, 5)); break;
      case 11: x.plain = pick(rnd, ["one", "two"]) + randInt(rnd, 9); break;
      default: {
        // Marks and blocks on a second text, so that most steps also exercise the plain text's patches.
        const mlen = x.styled.length;
        if (mlen < 2) { A.splice(x, ["styled"], 0, 0, "styled text"); break; }
        if (rnd() < 0.25) {
          A.splitBlock(x, ["styled"], randInt(rnd, mlen + 1), { type: pick(rnd, ["paragraph", "heading"]), parents: [], attrs: {} });
          break;
        }
        const start = randInt(rnd, mlen - 1), end = start + 1 + randInt(rnd, mlen - start - 1);
        if (rnd() < 0.3) A.unmark(x, ["styled"], { start, end, expand: "none" }, "b");
        else A.mark(x, ["styled"], { start, end, expand: pick(rnd, ["none", "after", "both"]) }, pick(rnd, ["b", "i"]), pick(rnd, [true, 1, "x"]));
      }
    }
  }

  seeds.forEach((seed, n) => scenario(n === 0 ? "patch_callback_random" : `patch_callback_random_${n + 1}`, `Seeded (mulberry32, seed ${seed}) random history of 3 peers and an observer: 150 ` +
    "steps; a peer's change of 1-3 random ops (map keys, nested maps, a list with maps in it, text, a counter, marks on " +
    "a second text), a peer merging another, the observer merging a peer (its callback reports), applying a peer's " +
    "changes one batch at a time, or making a one-op change of its own. extra.steps = [{changes: [hex], patches, " +
    "spans, marks, cursors}] for every step where the observer's patchCallback ran: spans and marks of the styled " +
    "text, and where the cursors taken on the first state (extra.cursors: [{path, index, cursor}]) point now. A step " +
    "of the observer's own change also has `received`: the patches a copy of the observer taken before it gets " +
    "when it receives that change (a local change's callback logs each op as made, a received one the change of state).",
    function patch_callback_random() {
      const rnd = mulberry32(seed);
      let reported = [];
      let obs = A.init({ actor: ACT_O, patchCallback: (patches) => { reported.push(...patches); } });
      const peers = [ACT_A, ACT_B, ACT_C].map((actor) => A.init({ actor }));
      peers[0] = A.change(peers[0], T, (x) => {
        x.list = []; x.text = "hello world"; x.styled = "some styled text"; x.m = {}; x.cnt = new A.Counter(0);
      });
      peers[1] = A.merge(peers[1], peers[0]);
      peers[2] = A.merge(peers[2], peers[0]);
      const steps = [];
      let cursors = [];
      const read = () => ({
        spans: toJson(A.spans(obs, ["styled"])),
        marks: marksJson(obs, ["styled"]),
        cursors: cursors.map((c) => A.getCursorPosition(obs, c.path, c.cursor)),
      });
      // The observer's own change as a copy of it (taken before) receives it: patches from the diff of
      // the states, where the callback of the local change logs each op as made (a mark or unmark over
      // its whole range with its value, whether or not that changes what shows).
      const receivedPatches = (copyBefore, change) => {
        let got = [];
        const copy = A.load(copyBefore, { patchCallback: (patches) => { got.push(...patches); } });
        got = [];
        A.applyChanges(copy, [change]);
        return toJson(got);
      };
      const observe = (changes, fn) => {
        reported = [];
        obs = fn();
        steps.push({ changes: changes.map((c) => hex(c)), patches: toJson(reported), ...read() });
      };
      observe(A.getAllChanges(peers[0]), () => A.applyChanges(obs, A.getAllChanges(peers[0]))[0]);
      for (const path of [["text"], ["styled"]]) {
        for (const index of [0, 3, 7, 11]) {
          cursors.push({ path, index, cursor: A.getCursor(obs, path, index) });
        }
      }
      cursors.push({ path: ["text"], index: 5, cursor: A.getCursor(obs, ["text"], 5, "before") });
      for (let step = 0; step < 150; step++) {
        const i = randInt(rnd, 3);
        const r = rnd();
        if (r < 0.4) {
          peers[i] = A.change(peers[i], T, (x) => { for (let n = 1 + randInt(rnd, 3); n > 0; n--) randomOp(rnd, x); });
        } else if (r < 0.5) {
          peers[i] = A.merge(peers[i], pick(rnd, [obs, peers[(i + 1) % 3], peers[(i + 2) % 3]]));
        } else if (r < 0.7) {
          observe(A.getChanges(obs, peers[i]), () => A.merge(obs, peers[i]));
        } else if (r < 0.85) {
          const missing = A.getChanges(obs, peers[i]);
          if (missing.length === 0) continue;
          observe(missing, () => A.applyChanges(obs, missing)[0]);
        } else {
          const before = A.getHeads(obs);
          const saved = A.save(obs);
          reported = [];
          obs = A.change(obs, T, (x) => randomOp(rnd, x));
          if (JSON.stringify(A.getHeads(obs)) === JSON.stringify(before)) continue;  // the op did nothing
          const change = A.getLastLocalChange(obs);
          steps.push({ changes: [hex(change)], patches: toJson(reported), received: receivedPatches(saved, change), ...read() });
        }
      }
      return { doc: obs, extra: { seed, steps, cursors } };
    }));
}
