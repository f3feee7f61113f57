#include "status_page.h"

#include <nlohmann/json.hpp>

namespace amrepo {
namespace {

// The page polls /status.json; rates are differences between two polls. Plain DOM and SVG.
constexpr const char* kHtml = R"HTML(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>amrepo status</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;background:#fafafa}
h1{font-size:1.3em;margin:0 0 1em}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(11em,1fr));gap:.8em;max-width:60em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.7em 1em}
.card b{display:block;font-size:1.6em;font-variant-numeric:tabular-nums}
.card span{color:#666;font-size:.85em}
#chart{background:#fff;border:1px solid #ddd;border-radius:6px;margin-top:1em;max-width:60em}
#error{color:#b00}
table{border-collapse:collapse;margin-top:1em}td{padding:.1em .6em;font-family:monospace}
</style></head><body>
<h1>amrepo sync server <small id="state">(connecting)</small></h1>
<p id="error"></p>
<div class="grid">
<div class="card"><b id="uptime">-</b><span>uptime</span></div>
<div class="card"><b id="connections">-</b><span>connections</span></div>
<div class="card"><b id="peers">-</b><span>peers</span></div>
<div class="card"><b id="open_documents">-</b><span>open documents</span></div>
<div class="card"><b id="messages_rate">-</b><span>messages/s in / out</span></div>
<div class="card"><b id="bytes_rate">-</b><span>bytes/s in / out</span></div>
<div class="card"><b id="latency_count">-</b><span>sync replies timed</span></div>
<div class="card"><b id="latency_mean">-</b><span>mean sync reply (ms)</span></div>
</div>
<svg id="chart" width="640" height="220" role="img" aria-label="sync-reply latency histogram"></svg>
<div id="admin"></div>
<script>
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token");
let last = null, polls = 0;
const $ = id => document.getElementById(id);
function duration(s) {
  s = Math.floor(s); const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  return (d ? d + "d " : "") + (d || h ? h + "h " : "") + m + "m " + (s % 60) + "s";
}
function human(n) { return n >= 1e9 ? (n / 1e9).toFixed(1) + "G" : n >= 1e6 ? (n / 1e6).toFixed(1) + "M" : n >= 1e3 ? (n / 1e3).toFixed(1) + "k" : String(Math.round(n)); }
function chart(lat) {
  const svg = $("chart"), W = 640, H = 220, pad = 30, n = lat.counts.length;
  const perBucket = lat.counts.map((c, i) => c - (i ? lat.counts[i - 1] : 0));
  const max = Math.max(1, ...perBucket), bw = (W - 2 * pad) / n;
  let out = `<text x="${pad}" y="16" font-size="12">sync-reply latency (replies per bucket, ms)</text>`;
  perBucket.forEach((c, i) => {
    const h = (H - 2 * pad - 10) * c / max, x = pad + i * bw, y = H - pad - h;
    const label = i < lat.le_ms.length ? "\u2264" + lat.le_ms[i] : ">" + lat.le_ms[lat.le_ms.length - 1];
    out += `<rect class="bar" data-count="${c}" x="${x + 2}" y="${y}" width="${bw - 4}" height="${h}" fill="#4a7bd0"></rect>`;
    out += `<text x="${x + bw / 2}" y="${H - pad + 14}" font-size="10" text-anchor="middle">${label}</text>`;
    if (c) out += `<text x="${x + bw / 2}" y="${y - 3}" font-size="10" text-anchor="middle">${c}</text>`;
  });
  svg.innerHTML = out;
}
function show(s) {
  $("uptime").textContent = duration(s.uptime_s);
  for (const k of ["connections", "peers", "open_documents"]) { $(k).textContent = s[k]; $(k).dataset.value = s[k]; }
  $("latency_count").textContent = s.latency.count; $("latency_count").dataset.value = s.latency.count;
  $("latency_mean").textContent = s.latency.count ? (s.latency.sum_ms / s.latency.count).toFixed(1) : "-";
  if (last) {
    const dt = Math.max(0.001, s.uptime_s - last.uptime_s), r = k => Math.max(0, (s[k] - last[k]) / dt);
    $("messages_rate").textContent = human(r("messages_in")) + " / " + human(r("messages_out"));
    $("bytes_rate").textContent = human(r("bytes_in")) + " / " + human(r("bytes_out"));
  }
  chart(s.latency);
  const admin = $("admin");
  if (s.admin) {
    admin.innerHTML = "<h2>Open documents</h2><table id='documents'>" +
      s.documents.map(d => `<tr><td>automerge:${d}</td></tr>`).join("") + "</table><h2>Peers</h2><table id='peer_ids'>" +
      s.peer_ids.map(p => `<tr><td>${p.replace(/[<>&]/g, "")}</td></tr>`).join("") + "</table>";
  } else {
    admin.textContent = token ? "The admin token was not accepted: ids are hidden." : "";
  }
  last = s;
  document.body.dataset.polls = ++polls;
  $("state").textContent = "(live)";
}
async function poll() {
  try {
    const r = await fetch("status.json" + (token ? "?token=" + encodeURIComponent(token) : ""), { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    show(await r.json());
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = "cannot reach the server: " + e.message;
    $("state").textContent = "(offline)";
  }
  setTimeout(poll, 1000);
}
poll();
</script></body></html>
)HTML";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const std::string& status_page_html() {
  static const std::string html(kHtml);
  return html;
}

std::string status_json(const am::repo::Repo& repo, bool admin) {
  const am::repo::RepoStats s = repo.stats();
  nlohmann::json le = nlohmann::json::array();
  for (const auto ms : am::repo::kLatencyBucketsMs) le.push_back(ms);
  nlohmann::json out{{"uptime_s", static_cast<double>(s.uptime.count()) / 1000.0},
                     {"connections", s.connections},
                     {"peers", s.peers},
                     {"open_documents", s.open_documents},
                     {"connections_accepted", s.connections_accepted},
                     {"writes_refused", s.writes_refused},
                     {"messages_in", s.messages_in},
                     {"messages_out", s.messages_out},
                     {"bytes_in", s.bytes_in},
                     {"bytes_out", s.bytes_out},
                     {"latency", {{"le_ms", le}, {"counts", s.latency_buckets}, {"sum_ms", s.latency_sum_ms},
                                  {"count", s.latency_count}}},
                     {"admin", admin}};
  if (admin) {
    nlohmann::json documents = nlohmann::json::array();
    for (const auto& id : repo.open_documents()) documents.push_back(id.to_string());
    nlohmann::json peers = nlohmann::json::array();
    for (const auto& p : repo.peers()) peers.push_back(p.str());
    out["documents"] = documents;
    out["peer_ids"] = peers;
  }
  return out.dump() + "\n";
}

std::optional<std::string> token_parameter(std::string_view target) {
  const auto query_start = target.find('?');
  if (query_start == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(query_start + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.rfind("token=", 0) != 0) continue;
    const std::string_view raw = pair.substr(6);
    std::string value;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 && hex_value(raw[i + 2]) >= 0) {
        value += static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
        i += 2;
      } else {
        value += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    return value;
  }
  return std::nullopt;
}

}  // namespace amrepo
