// update_text scenarios: A.updateText (a Myers diff over grapheme clusters applied as splices), each call its
// own change, and Intl.Segmenter's grapheme clusters of a set of strings for the C++ segmenter. Loaded by
// gen-vectors.mjs (loadTopicModules).
//
// Every update_text_* vector: change 1 is `d.text = ""`; change i+1 (i >= 1) is
// A.updateText(d, ["text"], steps[i-1][1]) where steps[i-1][0] is the text before it; a step whose text does
// not change makes no change (JS commits nothing for an empty change), so the C++ replay commits only pending ops.
export function register({ A, T, ACT_A, scenario, mulberry32, randInt, pick }) {
  function replay(texts) {
    let doc = A.init({ actor: ACT_A });
    doc = A.change(doc, T, (d) => { d.text = ""; });
    const steps = [];
    for (const next of texts) {
      const before = A.toJS(doc).text;
      doc = A.change(doc, T, (d) => { A.updateText(d, ["text"], next); });
      if (A.toJS(doc).text !== next) throw new Error(`updateText gave ${JSON.stringify(A.toJS(doc).text)}`);
      steps.push([before, next]);
    }
    return { doc, extra: { steps } };
  }

  scenario("update_text_edits", "A.updateText through plain edits: empty to text, insertions at the start, middle " +
    "and end, deletions, a replacement in the middle, a repeated-letter edit (many equal-length scripts), an " +
    "unchanged step, whole replacement, text to empty. extra.steps = [before, after] per updateText change.",
    function update_text_edits() {
      return replay(["hello world", "hello brave new world", ">> hello brave new world", ">> hello new world!",
        "hello, new world!", "hello, old world!", "aaaa bbbb aaaa", "abab baba abab", "abab baba abab",
        "completely different", "c", "", "ABC", "CBABAC", "ABCABBA", "x\ny\nz\n", "x\nz\ny\n"]);
    });

  scenario("update_text_unicode", "A.updateText on emoji (ZWJ families, skin tones, flags), combining marks, " +
    "CRLF, Hangul and Devanagari conjuncts (GB9c): graphemes are diffed whole, indexes count UTF-16 units. " +
    "extra.steps = [before, after] per updateText change.",
    function update_text_unicode() {
      return replay([
        "family: 👨‍👩‍👧 ok", "family: 👨‍👩‍👧‍👦 ok", "family: 👩‍👩‍👧 ok 👍🏽", "flags 🇫🇷🇩🇪 then 👍🏿",
        "flags 🇫🇷🇬🇧🇩🇪 then 👍🏿", "café é́ ñ", "cafe\u0301 e\u0301\u0301 n\u0303", "line1\r\nline2\r\n", "line1\nline2\r\n",
        "한국어 텍스트", "한글 텍스트", "क्षत्रिय हिन्दी", "क्षत्रिय हिंदी", "क्ष", "क्X", "👨‍👩‍👧 🇫🇷", "🇫🇷 👨‍👩‍👧",
      ]);
    });

  const seed = 0x7e57d1ff;
  scenario("update_text_random", `Seeded (mulberry32, seed ${seed}) random batch: 30 A.updateText calls, each a ` +
    "few random deletions, insertions and replacements of a random text over letters, spaces, newlines, emoji, " +
    "flags, ZWJ sequences and combining marks. extra.steps = [before, after] per updateText change.",
    function update_text_random() {
      const rnd = mulberry32(seed);
      const atoms = ["a", "b", "c", "d", "e", " ", " ", "\n", "é", "e\u0301", "😀", "👍🏽", "🇫🇷", "👨‍👩‍👧", "\r\n", "क्ष",
        "\u200d", "\u0301"];
      const atomText = (n) => Array.from({ length: n }, () => pick(rnd, atoms)).join("");
      const texts = [];
      let cur = atomText(40);
      for (let i = 0; i < 30; i++) {
        const cps = [...cur];
        const edits = 1 + randInt(rnd, 4);
        for (let e = 0; e < edits; e++) {
          const at = randInt(rnd, cps.length + 1);
          const del = Math.min(randInt(rnd, 6), cps.length - at);
          cps.splice(at, del, ...[...atomText(randInt(rnd, 5))]);
        }
        cur = cps.join("");
        texts.push(cur);
      }
      return replay(texts);
    });

  const segSeed = 0x6e4a9e;
  scenario("grapheme_segments", `Intl.Segmenter (granularity "grapheme", Node ${process.versions.node}, Unicode ` +
    `${process.versions.unicode}) of fixed strings and 200 random ones (mulberry32, seed ${segSeed}) built from ` +
    "code points of every Grapheme_Cluster_Break class, emoji, regional indicators and Indic conjunct parts. " +
    "extra.unicode = the Unicode version; extra.cases = [{text, clusters}]. The document is empty.",
    function grapheme_segments() {
      const fixed = ["", "a", "\r\n", "\n\r", "\r\r\n", "e\u0301\u0302", "\u0301a", "👨‍👩‍👧‍👦", "👍🏽", "🇫🇷🇩🇪🇬", "🇫🇷\u200d🇩🇪",
        "a\u200d👍", "👍\u200d", "👍\u0301\u200d❤️", "각", "\u1100\u1161\u11a8", "\u1100\u1100\u1161", "\uac00\u11a8\u11a8",
        "क्ष", "क्\u200dष", "क्\u0301ष", "क्ा", "क्क्क", "ক্ষ", "\u0915\u094d\u094d\u0937", "\u0600a", "\u0600\n",
        "a\u0903", "x\u0000y", "\u200d\u200d", "\u{e0061}a", "🏳️‍🌈 🏴‍☠️ 🫱🏼‍🫲🏿",
        "\u0d15\u0d4d\u0d15", "\u1a60\u1a20", "\u{11f42}\u{11f10}"];
      // Code points from each class (CR, LF, Control, Extend, ZWJ, RI, Prepend, SpacingMark, L, V, T, LV, LVT,
      // ExtPict, InCB Consonant/Linker/Extend, Other).
      const pool = ["\r", "\n", "\u0007", "\u0301", "\u0308", "\u200d", "🇫", "🇷", "\u0600", "\u0903", "\u1100", "\u1161",
        "\u11a8", "\uac00", "\uac01", "😀", "❤", "\u00a9", "क", "ष", "\u094d", "\u093c", "a", " ", "\ufe0f", "🏽",
        "\u0d15", "\u0d4d", "\u1b44", "\u{11f42}"];
      const rnd = mulberry32(segSeed);
      const cases = [];
      for (const text of fixed) cases.push(text);
      for (let i = 0; i < 200; i++) cases.push(Array.from({ length: 1 + randInt(rnd, 10) }, () => pick(rnd, pool)).join(""));
      const seg = new Intl.Segmenter(undefined, { granularity: "grapheme" });
      return { doc: A.init({ actor: ACT_A }), extra: { unicode: process.versions.unicode,
        cases: cases.map((text) => ({ text, clusters: [...seg.segment(text)].map((s) => s.segment) })) } };
    });
}
