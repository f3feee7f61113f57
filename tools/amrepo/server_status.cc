#include "server_status.h"

#include <iterator>

#include <nlohmann/json.hpp>

namespace amrepo {

std::string health_json(const am::repo::Repo& repo) {
  const auto s = repo.stats();
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& p : repo.peers()) peers.push_back(p.str());
  return nlohmann::json{{"status", "ok"},
                        {"peer_id", repo.peer_id().str()},
                        {"storage_id", repo.storage_id() ? nlohmann::json(repo.storage_id()->str()) : nlohmann::json()},
                        {"peers", peers},
                        {"connections", s.connections},
                        {"open_documents", s.open_documents},
                        {"uptime_s", static_cast<double>(s.uptime.count()) / 1000.0}}
             .dump() + "\n";
}

std::string metrics_text(const am::repo::Repo& repo) {
  const auto s = repo.stats();
  std::string out;
  auto metric = [&](const char* name, const char* type, const char* help, const std::string& samples) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" + samples;
  };
  auto line = [](const std::string& name, std::uint64_t v) { return name + " " + std::to_string(v) + "\n"; };
  metric("amrepo_connections", "gauge", "Open transport connections.", line("amrepo_connections", s.connections));
  metric("amrepo_peers", "gauge", "Connections with a completed handshake.", line("amrepo_peers", s.peers));
  metric("amrepo_open_documents", "gauge", "Documents in memory.", line("amrepo_open_documents", s.open_documents));
  metric("amrepo_connections_accepted_total", "counter", "Connections accepted since start.",
         line("amrepo_connections_accepted_total", s.connections_accepted));
  metric("amrepo_writes_refused_total", "counter", "Sync messages whose changes were dropped: the peer may only read.",
         line("amrepo_writes_refused_total", s.writes_refused));
  metric("amrepo_messages_total", "counter", "Protocol messages.",
         line("amrepo_messages_total{direction=\"in\"}", s.messages_in) +
             line("amrepo_messages_total{direction=\"out\"}", s.messages_out));
  metric("amrepo_bytes_total", "counter", "Protocol message bytes.",
         line("amrepo_bytes_total{direction=\"in\"}", s.bytes_in) + line("amrepo_bytes_total{direction=\"out\"}", s.bytes_out));
  {
    std::string samples;
    for (std::size_t i = 0; i < s.latency_buckets.size(); ++i) {
      const std::string le = i < std::size(am::repo::kLatencyBucketsMs)
                                 ? std::to_string(static_cast<double>(am::repo::kLatencyBucketsMs[i]) / 1000.0)
                                 : "+Inf";
      samples += line("amrepo_sync_reply_seconds_bucket{le=\"" + le + "\"}", s.latency_buckets[i]);
    }
    samples += "amrepo_sync_reply_seconds_sum " + std::to_string(static_cast<double>(s.latency_sum_ms) / 1000.0) + "\n";
    samples += line("amrepo_sync_reply_seconds_count", s.latency_count);
    metric("amrepo_sync_reply_seconds", "histogram",
           "From receiving a sync message to sending the answer (after saving received changes).", samples);
  }
  metric("amrepo_uptime_seconds", "gauge", "Seconds since start.",
         line("amrepo_uptime_seconds", static_cast<std::uint64_t>(s.uptime.count() / 1000)));
  return out;
}

}  // namespace amrepo
