// Local patch-log scenarios: what the reference's patchCallback reports for the observer's OWN changes, which
// it logs op by op as they are made (a received change is reported as the change of state it makes; that is
// patch_log.mjs). A seeded random history: the observer makes changes of 1-4 ops, described as plain records
// (extra.steps[i].ops) that the C++ test (tests/core/patch_log_local_test.cc) performs through the Document API;
// it must make the same change (extra.steps[i].change, hex) and report the same patches. Now and then a peer's
// concurrent changes arrive (steps with `changes`), so that local ops also meet conflicted keys and counters.
export function register({ A, T, ACT_A, scenario, hex, toJson, mulberry32, randInt, pick }) {
  const ACT_O = "0d".repeat(16);
  const seeds = [0x2545f491, 0x9e3779b9, 0x7f4a7c15];

  // Resolves a path of keys and indexes from the root of a change's proxy.
  const at = (x, path) => path.reduce((o, k) => o[k], x);

  // Performs one op record on the proxy `x`.
  function perform(x, op) {
    const o = at(x, op.path);
    switch (op.op) {
      case "put": o[op.prop] = op.value; break;
      case "putMap": o[op.prop] = { v: op.value }; break;
      case "putText": o[op.prop] = op.value; break;
      case "insert": o.insertAt(op.prop, op.value); break;
      case "insertMap": o.insertAt(op.prop, { q: op.value }); break;
      case "delete": if (typeof op.prop === "number") o.deleteAt(op.prop); else delete o[op.prop]; break;
      case "splice": A.splice(x, op.path, op.prop, op.del, op.text); break;
      case "inc": o[op.prop].increment(op.by); break;
      case "mark": A.mark(x, op.path, { start: op.start, end: op.end, expand: op.expand }, op.name, op.value); break;
      case "unmark": A.unmark(x, op.path, { start: op.start, end: op.end, expand: op.expand }, op.name); break;
      case "splitBlock": A.splitBlock(x, op.path, op.prop, op.block); break;
      case "updateText": A.updateText(x, op.path, op.text); break;
      default: throw new Error(`unknown op ${op.op}`);
    }
  }

  // One random op record valid on the proxy `x` (its current state).
  function randomOp(rnd, x) {
    const keys = ["a", "b", "c"];
    const list = x.list, text = x.text, styled = x.styled;
    const r = randInt(rnd, 16);
    const maps = [];
    for (let i = 0; i < list.length; i++) if (typeof list[i] === "object" && list[i] !== null) maps.push(i);
    switch (r) {
      case 0: return { op: "put", path: [], prop: pick(rnd, keys), value: pick(rnd, [1, 2, true, null]) };
      case 1: return { op: "putMap", path: [], prop: pick(rnd, keys), value: randInt(rnd, 5) };
      case 2: return { op: "putText", path: [], prop: pick(rnd, keys), value: pick(rnd, ["x", "yz"]) };
      case 3: return { op: "delete", path: [], prop: pick(rnd, keys) };
      case 4: return { op: "put", path: ["m"], prop: pick(rnd, ["p", "q"]), value: pick(rnd, [1, 2, false]) };
      case 5: return { op: "insert", path: ["list"], prop: randInt(rnd, list.length + 1), value: randInt(rnd, 9) };
      case 6: return { op: "insertMap", path: ["list"], prop: randInt(rnd, list.length + 1), value: randInt(rnd, 9) };
      case 7: return list.length > 0 ? { op: "delete", path: ["list"], prop: randInt(rnd, list.length) } : null;
      case 8: return list.length > 0 ? { op: "put", path: ["list"], prop: randInt(rnd, list.length), value: randInt(rnd, 4) } : null;
      case 9: return maps.length > 0 ? { op: "put", path: ["list", pick(rnd, maps)], prop: "q", value: randInt(rnd, 4) } : null;
      case 10: {
        const p = randInt(rnd, text.length + 1);
        const del = p < text.length && rnd() < 0.4 ? 1 + randInt(rnd, Math.min(3, text.length - p)) : 0;
        const ins = del > 0 && rnd() < 0.5 ? "" : pick(rnd, ["q", "wz", "é", "😀", "abc"]);
        if (del === 0 && ins === "") return null;
        return { op: "splice", path: ["text"], prop: p, del, text: ins };
      }
      case 11: return { op: "inc", path: [], prop: "cnt", by: 1 + randInt(rnd, 4) };
      case 12: {
        if (styled.length < 2) return { op: "splice", path: ["styled"], prop: 0, del: 0, text: "styled text" };
        const p = randInt(rnd, styled.length + 1);
        return { op: "splice", path: ["styled"], prop: p, del: 0, text: pick(rnd, ["Q", "xy"]) };
      }
      case 13: {
        if (styled.length < 2) return null;
        const start = randInt(rnd, styled.length - 1), end = start + 1 + randInt(rnd, styled.length - start - 1);
        const expand = pick(rnd, ["none", "after", "both", "before"]);
        if (rnd() < 0.35) return { op: "unmark", path: ["styled"], start, end, expand, name: pick(rnd, ["b", "i"]) };
        return { op: "mark", path: ["styled"], start, end, expand, name: pick(rnd, ["b", "i"]), value: pick(rnd, [true, 1, "x"]) };
      }
      case 14: {
        if (styled.length < 1) return null;
        return { op: "splitBlock", path: ["styled"], prop: randInt(rnd, styled.length + 1),
          block: { type: pick(rnd, ["paragraph", "heading"]), parents: rnd() < 0.5 ? [] : ["ordered-list-item"], attrs: {} } };
      }
      default: {
        const words = Array.from(text);
        const p = randInt(rnd, words.length + 1);
        words.splice(p, randInt(rnd, 3), pick(rnd, ["", "k", "mn"]));
        return { op: "updateText", path: ["text"], text: words.join("") };
      }
    }
  }

  seeds.forEach((seed, n) => scenario(n === 0 ? "patch_callback_local" : `patch_callback_local_${n + 1}`,
    `Seeded (mulberry32, seed ${seed}) random local changes of an observer with a patchCallback (its own ` +
    "changes of 1-4 ops: map puts of scalars, maps and text, deletes, list inserts and puts, text splices and " +
    "updateText, counter increments, marks, unmarks and blocks), with a peer's concurrent changes arriving now " +
    "and then. extra.init = the changes the observer starts from (hex); extra.steps = [{ops, change, patches}] for " +
    "a local change (ops as records, the change it made, the patches its callback got) or [{changes}] for received ones.",
    function patch_callback_local() {
      const rnd = mulberry32(seed);
      let reported = [];
      let peer = A.change(A.init({ actor: ACT_A }), T, (x) => {
        x.list = []; x.text = "hello world"; x.styled = "some styled text"; x.m = {}; x.cnt = new A.Counter(0);
      });
      let obs = A.init({ actor: ACT_O, patchCallback: (patches) => { reported.push(...patches); } });
      const init = A.getAllChanges(peer);
      [obs] = A.applyChanges(obs, init);
      const steps = [];
      for (let step = 0; step < 120; step++) {
        if (rnd() < 0.15) {
          peer = A.change(peer, T, (x) => {
            for (let k = 1 + randInt(rnd, 3); k > 0; k--) {
              const op = randomOp(rnd, x);
              if (op) perform(x, op);
            }
          });
          const missing = A.getChanges(obs, peer);
          if (missing.length > 0) {
            [obs] = A.applyChanges(obs, missing);
            steps.push({ changes: missing.map((c) => hex(c)) });
          }
          if (rnd() < 0.3) peer = A.merge(peer, obs);
          continue;
        }
        const before = A.getHeads(obs);
        const ops = [];
        reported = [];
        obs = A.change(obs, T, (x) => {
          for (let k = 1 + randInt(rnd, 4); k > 0; k--) {
            const op = randomOp(rnd, x);
            if (!op) continue;
            perform(x, op);
            ops.push(op);
          }
        });
        if (JSON.stringify(A.getHeads(obs)) === JSON.stringify(before)) continue;  // the ops changed nothing
        steps.push({ ops, change: hex(A.getLastLocalChange(obs)), patches: toJson(reported) });
      }
      return { doc: obs, extra: { seed, init: init.map((c) => hex(c)), steps } };
    }));
}
