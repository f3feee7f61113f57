// Document::update_text: the reference's updateText. Both texts are cut into extended grapheme
// clusters, Myers' diff runs over the clusters, and each removed or inserted run becomes one
// splice_text at the running index, left to right; unchanged runs only move the index. Deletes and
// inserts are not merged into replacements (the reference does not merge them for text either), so the
// ops come out in the reference's order.
#include <string>
#include <vector>

#include "am/document.h"
#include "core/document_impl.h"
#include "core/encoding/utf8.h"
#include "core/text/grapheme.h"
#include "core/text/myers.h"

namespace am {
namespace {

// Width of UTF-8 text in the document's text unit: code points, plus one more per astral code point
// when counting UTF-16 units.
std::size_t units(std::string_view s, core::WidthUnit unit) {
  std::size_t n = 0;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c & 0xC0) != 0x80) ++n;
    if (unit == core::WidthUnit::kUtf16 && c >= 0xF0) ++n;
  }
  return n;
}

// Turns the edit script into splices on the document; `pos` is where the next edit applies in the text
// as edited so far.
class SpliceSink final : public core::DiffSink {
 public:
  SpliceSink(Document& doc, const ObjId& obj, core::WidthUnit unit, const std::vector<std::string_view>& old_g,
             const std::vector<std::string_view>& new_g)
      : doc_(doc), obj_(obj), unit_(unit), old_(old_g), new_(new_g) {}

  Status equal(std::size_t old_index, std::size_t, std::size_t len) override {
    pos_ += width(old_, old_index, len);
    return {};
  }
  Status remove(std::size_t old_index, std::size_t old_len, std::size_t) override {
    return doc_.splice_text(obj_, pos_, width(old_, old_index, old_len), "");
  }
  Status insert(std::size_t, std::size_t new_index, std::size_t new_len) override {
    std::string text;
    for (std::size_t i = new_index; i < new_index + new_len; ++i) text += new_[i];
    AM_TRY_STATUS(doc_.splice_text(obj_, pos_, 0, text));
    pos_ += units(text, unit_);
    return {};
  }

 private:
  std::size_t width(const std::vector<std::string_view>& g, std::size_t from, std::size_t len) const {
    std::size_t w = 0;
    for (std::size_t i = from; i < from + len; ++i) w += units(g[i], unit_);
    return w;
  }

  Document& doc_;
  const ObjId& obj_;
  core::WidthUnit unit_;
  const std::vector<std::string_view>& old_;
  const std::vector<std::string_view>& new_;
  std::size_t pos_ = 0;
};

}  // namespace

Status Document::update_text(const ObjId& obj, std::string_view new_text) {
  // No for_local_write() here: nothing below keeps a pointer into the op set (the old text is a
  // copy), and each splice copies a shared op set itself, so the same text copies nothing.
  AM_TRY_ASSIGN(const ObjType type, object_type(obj));
  if (type != ObjType::kText) return fail(Error::invalid_argument("object " + obj.to_string(), "is not text"));
  if (!enc::is_valid_utf8(new_text)) return fail(Error::invalid_argument("update_text", "text is not valid UTF-8"));
  AM_TRY_ASSIGN(const std::string old_text, text(obj));
  const std::vector<std::string_view> old_g = core::grapheme_clusters(old_text);
  const std::vector<std::string_view> new_g = core::grapheme_clusters(new_text);
  SpliceSink sink(*this, obj, impl_->text_unit(), old_g, new_g);
  return core::myers_diff(old_g, new_g, sink);
}

}  // namespace am
