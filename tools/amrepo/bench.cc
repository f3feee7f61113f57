#include "bench.h"

#include <sys/resource.h>
#include <zlib.h>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "am/document.h"
#include "am/sync.h"

namespace amrepo {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// Peak resident set size of this process so far (Linux: kilobytes).
long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Current resident set size (kilobytes), from /proc/self/statm; -1 where unavailable.
long current_rss_kb() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long size = 0, resident = 0;
  const int n = std::fscanf(f, "%ld %ld", &size, &resident);
  std::fclose(f);
  if (n != 2) return -1;
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

std::vector<std::string> heads_hex(const am::Document& doc) {
  std::vector<std::string> out;
  for (const am::ChangeHash& h : doc.heads()) out.push_back(h.to_hex());
  return out;
}

// Length (UTF-16 units) of the text object at root key "text"; -1 when there is none.
long root_text_length(const am::Document& doc) {
  auto v = doc.get(am::ObjId::root(), std::string("text"));
  if (!v || !*v) return -1;
  const auto* ref = std::get_if<am::ObjectRef>(&**v);
  if (!ref || ref->type != am::ObjType::kText) return -1;
  auto len = doc.length(ref->id);
  return len ? static_cast<long>(*len) : -1;
}

struct SyncFigures {
  double ms = 0;
  std::size_t bytes = 0;
  std::size_t messages = 0;
  bool ok = false;
  std::string error;
};

// Syncs `doc` to a new empty document with fresh SyncStates, as two peers on a reliable channel
// would: each round the document's side generates and the peer receives, then the other way,
// until neither has anything to send. Every message counts as one round trip leg.
SyncFigures sync_to_empty_peer(am::Document& doc) {
  SyncFigures f;
  am::Document peer(am::DocumentOptions{am::ActorId::from_hex("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
                                        am::TextUnit::kUtf16});
  am::SyncState ours, theirs;
  const auto start = Clock::now();
  for (int round = 0; round < 1000; ++round) {
    auto a = am::generate_sync_message(doc, ours);
    if (a) {
      f.bytes += a->size();
      ++f.messages;
      if (auto s = am::receive_sync_message(peer, theirs, *a); !s) {
        f.error = "peer: " + s.error().to_string();
        return f;
      }
    }
    auto b = am::generate_sync_message(peer, theirs);
    if (b) {
      f.bytes += b->size();
      ++f.messages;
      if (auto s = am::receive_sync_message(doc, ours, *b); !s) {
        f.error = "document: " + s.error().to_string();
        return f;
      }
    }
    if (!a && !b) break;
  }
  f.ms = ms_since(start);
  if (peer.heads() != doc.heads()) {
    f.error = "peer heads differ after sync";
  } else if (root_text_length(peer) != root_text_length(doc)) {
    f.error = "peer text differs after sync";
  } else {
    f.ok = true;
  }
  return f;
}

bool write_file(const std::string& path, const am::Bytes& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  return static_cast<bool>(out);
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

// The mean time of a run of observed edits.
struct ObservedCost {
  double total_ms = 0;
  std::size_t n = 0;
  void add(double ms) {
    total_ms += ms;
    ++n;
  }
  double mean_us() const { return n == 0 ? 0.0 : total_ms * 1000.0 / static_cast<double>(n); }
};

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

  am::DocumentOptions doc_options{am::ActorId::from_hex("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), am::TextUnit::kUtf16};
  doc_options.commit_clock = [] { return std::int64_t{0}; };  // as the JS worker's {time: 0}: equal heads
  am::Document doc(doc_options);
  const auto start = Clock::now();
  auto obj = doc.put_object(am::ObjId::root(), "text", am::ObjType::kText);
  if (!obj) {
    std::cerr << "amrepo: bench: " << obj.error().to_string() << "\n";
    return 1;
  }
  double commit_ms = 0;
  // With --observe: the patches of every edit, as an editor's view would take them, and the mean
  // cost of an observed edit early and late in the trace (a size-independent cost keeps them equal).
  std::size_t patches = 0;
  ObservedCost early, late;
  const std::size_t window = std::min<std::size_t>(2000, edits.size() / 2);
  for (std::size_t i = 0; i < edits.size(); ++i) {
    const Edit& e = edits[i];
    const auto edit_start = Clock::now();
    if (auto s = doc.splice_text(*obj, e.pos, e.del, e.ins); !s) {
      std::cerr << "amrepo: bench: edit failed: " << s.error().to_string() << "\n";
      return 1;
    }
    if (!options.single) {
      const auto c = Clock::now();
      doc.commit();
      commit_ms += ms_since(c);
    }
    if (options.observe) {
      patches += doc.diff_incremental().size();
      if (i < window) early.add(ms_since(edit_start));
      if (i >= edits.size() - window) late.add(ms_since(edit_start));
    }
  }
  if (options.single || edits.empty()) {  // no edits: still one change, creating the text
    const auto c = Clock::now();
    doc.commit();
    commit_ms += ms_since(c);
  }
  const double apply_ms = ms_since(start);
  const std::size_t text_len = doc.length(*obj).value_or(0);
  const std::vector<std::string> heads = heads_hex(doc);

  nlohmann::ordered_json out;
  out["impl"] = "cpp";
  out["mode"] = options.single ? "single" : "per-edit";
  out["edits"] = edits.size();
  out["apply_ms"] = apply_ms;
  out["commit_ms"] = commit_ms;
  out["changes"] = doc.change_count();
  out["text_len"] = text_len;
  out["heads"] = heads;
  if (options.observe) {
    out["patches"] = patches;
    out["observed_edit_us_first"] = early.mean_us();
    out["observed_edit_us_last"] = late.mean_us();
  }
  std::vector<Edit>().swap(edits);

  // Save, then load those bytes in this process (warm: allocator and caches already in use).
  auto t = Clock::now();
  const am::Bytes saved = doc.save();
  out["save_ms"] = ms_since(t);
  out["save_bytes"] = saved.size();
  if (!options.save_to.empty() && !write_file(options.save_to, saved)) {
    std::cerr << "amrepo: bench: cannot write " << options.save_to << "\n";
    return 4;
  }
  {
    t = Clock::now();
    auto loaded = am::Document::load(saved);
    out["load_ms"] = ms_since(t);
    if (!loaded) {
      std::cerr << "amrepo: bench: load of the saved document failed: " << loaded.error().to_string() << "\n";
      return 1;
    }
    if (heads_hex(*loaded) != heads || root_text_length(*loaded) != static_cast<long>(text_len)) {
      std::cerr << "amrepo: bench: the loaded document differs from the saved one\n";
      return 1;
    }
  }

  if (!options.no_sync) {
    const SyncFigures sync = sync_to_empty_peer(doc);
    if (!sync.ok) {
      std::cerr << "amrepo: bench: sync to an empty peer failed: " << sync.error << "\n";
      return 1;
    }
    out["sync_ms"] = sync.ms;
    out["sync_bytes"] = sync.bytes;
    out["sync_round_trips"] = sync.messages;
  }
  out["rss_kb"] = current_rss_kb();
  out["peak_rss_kb"] = peak_rss_kb();
  std::cout << out.dump() << std::endl;
  return 0;
}

int bench_load(const LoadBenchOptions& options) {
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    std::cerr << "amrepo: bench: cannot read " << options.file << "\n";
    return 4;
  }
  const am::Bytes data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const long rss_before = current_rss_kb();
  am::LoadOptions load_options;
  load_options.verify_heads = !options.unchecked;
  const FaultCounter faults;
  const auto t = Clock::now();
  auto doc = am::Document::load(data, load_options);
  const double load_ms = ms_since(t);
  const FaultCounter::Figures load_faults = faults.since_start();
  if (!doc) {
    std::cerr << "amrepo: bench: " << doc.error().to_string() << "\n";
    return 5;
  }
  nlohmann::ordered_json out;
  out["impl"] = "cpp";
  out["mode"] = "load";
  out["file_bytes"] = data.size();
  out["load_ms"] = load_ms;
  out["changes"] = doc->change_count();
  out["text_len"] = root_text_length(*doc);
  out["heads"] = heads_hex(*doc);
  out["rss_before_kb"] = rss_before;
  out["rss_kb"] = current_rss_kb();
  out["peak_rss_kb"] = peak_rss_kb();
  out["load_minor_faults"] = load_faults.minor_faults;
  out["load_system_ms"] = load_faults.system_ms;
  std::cout << out.dump() << std::endl;
  return 0;
}

}  // namespace amrepo
