// What `amrepo serve` answers over HTTP on its WebSocket port besides the upgrade: GET /health
// (JSON for load balancers), /metrics (Prometheus text).
#pragma once

#include <string>

#include "am/repo/repo.h"

namespace amrepo {

/// GET /health: status, ids, peers, connections, open documents, uptime (one JSON line).
std::string health_json(const am::repo::Repo& repo);

/// GET /metrics: the repo's counters and the sync-reply latency histogram (Prometheus text format).
std::string metrics_text(const am::repo::Repo& repo);

}  // namespace amrepo
