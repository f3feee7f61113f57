#include "bench.h"

#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>
#include <vector>

#include "am/document.h"

namespace amrepo {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Reads a file that may be gzip-compressed (gzread passes plain files through).
bool read_maybe_gzip(const std::string& path, std::string& out) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) return false;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  const bool ok = n == 0;
  gzclose(f);
  return ok;
}

// Calls `emit(pos, del, ins)` for each `[pos, del, "ins"]` inside the "patches" arrays of an
// editing-traces file, up to `limit` (negative: all). Returns false on malformed input.
template <class Emit>
bool scan_patches(const std::string& s, long limit, Emit&& emit) {
  std::size_t i = s.find("\"txns\"");
  if (i == std::string::npos) return false;
  long count = 0;
  auto skip_ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) ++i;
  };
  auto number = [&](std::size_t& out) {
    skip_ws();
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    out = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') out = out * 10 + static_cast<std::size_t>(s[i++] - '0');
    return true;
  };
  auto string = [&](std::string& out) {
    skip_ws();
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] != '\\') {
        out.push_back(s[i++]);
        continue;
      }
      if (++i >= s.size()) return false;
      const char c = s[i++];
      switch (c) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u': {
          if (i + 4 > s.size()) return false;
          const unsigned cp = static_cast<unsigned>(std::stoul(s.substr(i, 4), nullptr, 16));
          i += 4;
          // The trace is ASCII plus the odd BMP character; surrogate pairs are not expected.
          if (cp < 0x80) {
            out.push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
          } else {
            out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
            out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
            out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
          }
          break;
        }
        default: out.push_back(c);
      }
    }
    if (i >= s.size()) return false;
    ++i;
    return true;
  };
  while ((i = s.find("\"patches\"", i)) != std::string::npos) {
    i = s.find('[', i);
    if (i == std::string::npos) return false;
    ++i;
    for (;;) {
      skip_ws();
      if (i < s.size() && s[i] == ']') {
        ++i;
        break;
      }
      if (i < s.size() && s[i] == ',') ++i;
      skip_ws();
      if (i >= s.size() || s[i] != '[') return false;
      ++i;
      std::size_t pos = 0, del = 0;
      std::string ins;
      if (!number(pos)) return false;
      skip_ws();
      if (i >= s.size() || s[i++] != ',') return false;
      if (!number(del)) return false;
      skip_ws();
      if (i < s.size() && s[i] == ',') {
        ++i;
        if (!string(ins)) return false;
      }
      skip_ws();
      if (i >= s.size() || s[i++] != ']') return false;
      if (limit >= 0 && count >= limit) return true;
      emit(pos, del, std::move(ins));
      ++count;
    }
  }
  return true;
}

}  // namespace

int bench_trace(const TraceBenchOptions& options) {
  std::string text;
  if (!read_maybe_gzip(options.file, text)) {
    std::cerr << "amrepo: bench: cannot read " << options.file << "\n";
    return 4;
  }
  // The trace is scanned, not parsed into a DOM: a DOM of 260k patches would dominate peak RSS.
  struct Edit {
    std::size_t pos, del;
    std::string ins;
  };
  std::vector<Edit> edits;
  if (!scan_patches(text, options.limit, [&](std::size_t pos, std::size_t del, std::string ins) {
        edits.push_back({pos, del, std::move(ins)});
      })) {
    std::cerr << "amrepo: bench: " << options.file << " is not an editing-traces JSON file\n";
    return 5;
  }
  text.clear();
  text.shrink_to_fit();

  am::Document doc(am::DocumentOptions{am::ActorId::from_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
                                       am::TextUnit::kUtf16});
  const auto start = Clock::now();
  auto obj = doc.put_object(am::ObjId::root(), "text", am::ObjType::kText);
  if (!obj) {
    std::cerr << "amrepo: bench: " << obj.error().to_string() << "\n";
    return 1;
  }
  double commit_ms = 0;
  for (const Edit& e : edits) {
    if (auto s = doc.splice_text(*obj, e.pos, e.del, e.ins); !s) {
      std::cerr << "amrepo: bench: edit failed: " << s.error().to_string() << "\n";
      return 1;
    }
    if (!options.single) {
      const auto c = Clock::now();
      doc.commit();
      commit_ms += ms_since(c);
    }
  }
  if (options.single) {
    const auto c = Clock::now();
    doc.commit();
    commit_ms += ms_since(c);
  }
  const double apply_ms = ms_since(start);
  const std::size_t text_len = doc.length(*obj).value_or(0);

  nlohmann::json out;
  out["mode"] = options.single ? "single" : "per-edit";
  out["edits"] = edits.size();
  out["apply_ms"] = apply_ms;
  out["commit_ms"] = commit_ms;
  out["changes"] = doc.change_count();
  out["text_len"] = text_len;
  out["peak_rss_kb"] = peak_rss_kb();
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace amrepo
