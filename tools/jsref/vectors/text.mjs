// Text scenarios: marks with every expand mode, unmark, block markers and cursors. Loaded by gen-vectors.mjs
// (see loadTopicModules there); ctx holds the reference module and the shared helpers.
export function register({ A, T, ACT_A, ACT_B, scenario, toJson, marksJson, marksAtJson }) {
  function marksScenario(expand) {
    return function marks_expand() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (d) => { d.text = "hello world"; });
      a = A.change(a, T, (d) => { A.mark(d, ["text"], { start: 2, end: 5, expand }, "bold", true); });
      const marks_initial = marksJson(a, ["text"]);
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 5, 0, "E"); });   // at the end boundary
      const marks_after_end_insert = marksJson(a, ["text"]);
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 2, 0, "S"); });   // at the start boundary
      return { doc: a, extra: { expand, marks_initial, marks_after_end_insert, marks: marksJson(a, ["text"]),
        marks_at: marksAtJson(a, ["text"], [...A.toJS(a).text].length),
        text: A.toJS(a).text, spans: toJson(A.spans(a, ["text"])) } };
    };
  }
  for (const e of ["before", "after", "both", "none"]) {
    scenario(`marks_${e}`, `A.mark "bold"=true on [2,5) of "hello world" with expand "${e}", then insert "E" at 5 and "S" at 2; ` +
      "extra records A.marks after each step.", marksScenario(e));
  }
  
  scenario("marks_unmark", "Marks with string/int values, unmark of a sub-range, and overlapping concurrent marks of the same " +
    "name from two actors (greater op id wins).",
    function marks_unmark() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (d) => { d.text = "the quick brown fox"; });
      a = A.change(a, T, (d) => {
        A.mark(d, ["text"], { start: 0, end: 19, expand: "after" }, "bold", true);
        A.mark(d, ["text"], { start: 4, end: 9, expand: "none" }, "link", "https://example.com/é");
      });
      a = A.change(a, T, (d) => { A.unmark(d, ["text"], { start: 2, end: 7, expand: "both" }, "bold"); });
      let b = A.merge(A.init({ actor: ACT_B }), a);
      a = A.change(a, T, (d) => { A.mark(d, ["text"], { start: 0, end: 10 }, "color", "red"); });
      b = A.change(b, T, (d) => { A.mark(d, ["text"], { start: 5, end: 15 }, "color", 7); });
      a = A.merge(a, b);
      return { doc: a, extra: { marks: marksJson(a, ["text"]), marks_at: marksAtJson(a, ["text"], [...A.toJS(a).text].length),
        text: A.toJS(a).text, spans: toJson(A.spans(a, ["text"])) } };
    });
  
  scenario("text_blocks", "Text with block markers (A.splitBlock: a makeMap inside the text) and a mark across a block.",
    function text_blocks() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (d) => { d.text = "Hello world"; });
      a = A.change(a, T, (d) => {
        A.splitBlock(d, ["text"], 5, { type: new A.RawString("paragraph"), parents: [], attrs: {} });
        A.mark(d, ["text"], { start: 3, end: 8 }, "em", true);
      });
      return { doc: a, extra: { text: A.toJS(a).text, spans: toJson(A.spans(a, ["text"])), marks: marksJson(a, ["text"]),
        marks_at: marksAtJson(a, ["text"], [...A.toJS(a).text].length) } };
    });
  
  scenario("cursors", "Cursors (A.getCursor) of \"abcdef\" after change 1 at every index 0..7 with move \"after\" and " +
    "\"before\", and of \"start\"/\"end\"; change 2 deletes \"ab\" and \"ef\"; a concurrent change by B inserts \"XY\" " +
    "at 3; change 4 (by A, after the merge) splices \"Z\" at the cursor of index 3 moving before. extra.positions: " +
    "A.getCursorPosition of every cursor after change 2 (doc of A alone) and at the end.",
    function cursors() {
      let a = A.init({ actor: ACT_A });
      a = A.change(a, T, (d) => { d.text = "abcdef"; });
      const cursors = [];
      for (let index = 0; index <= 7; index++) {
        for (const move of ["after", "before"]) cursors.push({ index, move, cursor: A.getCursor(a, ["text"], index, move) });
      }
      cursors.push({ index: "start", cursor: A.getCursor(a, ["text"], "start") });
      cursors.push({ index: "end", cursor: A.getCursor(a, ["text"], "end") });
      let b = A.merge(A.init({ actor: ACT_B }), a);
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 0, 2); A.splice(d, ["text"], 2, 2); });
      const after_delete = cursors.map((c) => A.getCursorPosition(a, ["text"], c.cursor));
      b = A.change(b, T, (d) => { A.splice(d, ["text"], 3, 0, "XY"); });
      a = A.merge(a, b);
      const splice_cursor = A.getCursor(a, ["text"], 3, "before");
      a = A.change(a, T, (d) => { A.splice(d, ["text"], splice_cursor, 0, "Z"); });
      const at_end = cursors.map((c) => A.getCursorPosition(a, ["text"], c.cursor));
      return { doc: a, extra: { cursors, positions: { after_delete, at_end }, splice_cursor, text: A.toJS(a).text } };
    });

  scenario("cursors_deleted_chain", "Where a cursor on a deleted element resolves, \"before\" and \"after\", when the " +
    "elements it was inserted after are not the ones before it in the text. One actor, one change per step: 0 " +
    "\"ab\u{1F600}cd\"; 1 \"XY\" spliced at 1; 2 mark \"bold\" on [1,3) expand both; 3 \"Q\" at 1 (after the mark " +
    "start); 4 deletes \"b\u{1F600}\"; 5 deletes \"aQ\"; 6 deletes \"c\"; 7 appends \"P\" and deletes \"d\". " +
    "extra.cursors: {step, index, move, cursor} taken after steps 1 and 3 at every character boundary; " +
    "extra.positions[i]: A.getCursorPosition of every cursor after step i (null before it was taken); extra.texts[i].",
    function cursors_deleted_chain() {
      let a = A.init({ actor: ACT_A });
      const cursors = [], positions = [], texts = [];
      const record = () => {
        positions.push(cursors.map((c) => A.getCursorPosition(a, ["text"], c.cursor)));
        texts.push(A.toJS(a).text);
      };
      const take = (step) => {
        const t = A.toJS(a).text;
        const bounds = [];
        for (let i = 0, at = 0; i <= t.length; i++) {
          if (i === at) { bounds.push(i); at += i < t.length && t.codePointAt(i) > 0xffff ? 2 : 1; }
        }
        for (const index of bounds) {
          for (const move of ["after", "before"]) cursors.push({ step, index, move, cursor: A.getCursor(a, ["text"], index, move) });
        }
      };
      a = A.change(a, T, (d) => { d.text = "ab\u{1F600}cd"; }); record();
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 1, 0, "XY"); }); take(1); record();
      a = A.change(a, T, (d) => { A.mark(d, ["text"], { start: 1, end: 3, expand: "both" }, "bold", true); }); record();
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 1, 0, "Q"); }); take(3); record();
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 4, 3); }); record();
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 0, 2); }); record();
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 2, 1); }); record();
      a = A.change(a, T, (d) => { A.splice(d, ["text"], 3, 0, "P"); A.splice(d, ["text"], 2, 1); }); record();
      // positions[i] covers the cursors taken so far; pad with null so every row has one entry per cursor.
      const rows = positions.map((r) => [...r, ...Array(cursors.length - r.length).fill(null)]);
      return { doc: a, extra: { cursors, positions: rows, texts } };
    });
}
