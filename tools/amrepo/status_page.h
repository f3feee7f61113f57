// The status page of `amrepo serve`: GET / on the WebSocket port is a small self-contained HTML
// page (no external assets) that polls GET /status.json once a second and shows uptime,
// connections, peers, open documents, message and byte rates and the sync-reply latency
// histogram as a chart. Document ids and peer ids appear only when the request carries the
// admin token (--admin-token-file): the page takes it from its URL fragment (/#token=...) and
// sends it as /status.json?token=..., so it never reaches a proxy's access log as a page URL.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "am/repo/repo.h"

namespace amrepo {

/// The page's HTML (constant).
const std::string& status_page_html();

/// GET /status.json: the repo's counters; with `admin` also the open documents' and peers' ids.
std::string status_json(const am::repo::Repo& repo, bool admin);

/// The `token` query parameter of a request target ("/status.json?token=abc" -> "abc"),
/// percent-decoded; nullopt when absent.
std::optional<std::string> token_parameter(std::string_view target);

}  // namespace amrepo
