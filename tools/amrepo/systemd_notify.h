// The systemd readiness protocol (sd_notify(3)) without libsystemd: a service started with
// Type=notify gets $NOTIFY_SOCKET, and tells systemd it is ready or stopping with one datagram.
#pragma once

#include <string_view>

namespace amrepo {

/// Sends `state` ("READY=1", "STOPPING=1", "STATUS=...", lines joined by '\n') to $NOTIFY_SOCKET.
/// Does nothing when the variable is unset (not run by systemd); false when sending failed.
bool notify_systemd(std::string_view state);

}  // namespace amrepo
