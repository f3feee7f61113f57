// Two repos syncing over a transport the application wrote itself (docs/transports.md): a
// Unix-domain socket carrying length-prefixed frames (socket_transport.h, about 250 lines of
// POSIX with no library internals). The "server" repo accepts on a socket path with its own
// accept thread and hands each connection to Repo::add_connection; the "client" repo dials
// through Repo::connect, which redials with backoff when the connection drops. Both go through
// the same handshake, limits and connection events as the built-in WebSocket and TCP transports.
//
//   ./custom_transport        exits 0 once an edit made on each side has reached the other
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <variant>

#include "am/repo/repo.h"
#include "socket_transport.h"

using namespace std::chrono_literals;

namespace {

sockaddr_un address_of(const std::string& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  return address;
}

std::optional<std::string> get_string(const am::repo::DocHandle& doc, const std::string& key) {
  std::optional<std::string> out;
  doc.read([&](const am::Document& d) {
    auto v = d.get(am::ObjId::root(), key);
    if (!v || !*v) return;
    if (const auto* s = std::get_if<am::ScalarValue>(&**v)) {
      if (const auto* str = std::get_if<std::string>(s)) out = *str;
    }
  });
  return out;
}

bool eventually_equal(const am::repo::DocHandle& doc, const std::string& key, const std::string& want) {
  for (int i = 0; i < 1000; ++i) {
    if (get_string(doc, key) == want) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

int fail(const char* what) {
  std::fprintf(stderr, "custom_transport: %s\n", what);
  return 1;
}

}  // namespace

int main() {
  const std::string path =
      (std::filesystem::temp_directory_path() / ("am-custom-transport-" + std::to_string(::getpid()) + ".sock"))
          .string();
  ::unlink(path.c_str());

  am::repo::RepoOptions server_options;
  server_options.peer_id = "server";
  server_options.share_policy = am::repo::answer_requests_only();
  auto server = am::repo::Repo::open(server_options);
  am::repo::RepoOptions client_options;
  client_options.peer_id = "client";
  auto client = am::repo::Repo::open(client_options);
  if (!server || !client) return fail("open");

  // The accepting side: a listening Unix socket and a thread that hands each accepted socket
  // to the server repo, which answers the client's `join`.
  const int listen_fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  const sockaddr_un address = address_of(path);
  if (listen_fd < 0 || ::bind(listen_fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd, 8) != 0) {
    return fail("cannot listen on the socket path");
  }
  am::repo::Repo& server_repo = **server;
  std::atomic<bool> stopping{false};
  std::thread acceptor([&server_repo, &stopping, listen_fd, path] {
    for (;;) {
      const int fd = ::accept(listen_fd, nullptr, nullptr);
      if (fd < 0 && errno == EINTR) continue;
      if (fd < 0) return;
      if (stopping) {  // the wake-up connection below
        ::close(fd);
        return;
      }
      server_repo.add_connection(example::SocketConnection::make(fd, "unix " + path + " (accepted)"),
                                 am::repo::ConnectionRole::kAcceptor);
    }
  });

  // The dialing side: one attempt per call; the repo calls it again, with backoff, whenever the
  // attempt fails or the connection closes. (A Unix-socket connect does not wait on the network;
  // a slow dial would run on a thread of its own and call on_dialed from there.)
  (*client)->connect(
      [path](am::repo::DialCallback on_dialed) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        const sockaddr_un to = address_of(path);
        if (fd < 0 || ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0) {
          const std::string why = std::strerror(errno);
          if (fd >= 0) ::close(fd);
          return on_dialed(am::fail(am::Error(am::ErrorCode::kIOError, "connect " + path + ": " + why)));
        }
        on_dialed(std::shared_ptr<am::repo::Connection>(example::SocketConnection::make(fd, "unix " + path)));
      },
      "unix:" + path);

  int status = 0;
  if (!(*client)->wait_for_peer(am::repo::PeerId("server"), 10s)) {
    status = fail("no handshake over the Unix socket");
  } else {
    am::repo::DocHandle doc = (*client)->create();
    (void)doc.change([](am::Document& d) { (void)d.put(am::ObjId::root(), "title", std::string("hello over a unix socket")); });
    // The client announces its documents (the default share policy); the server keeps what it
    // is sent and answers requests (answer_requests_only, as a sync server).
    if (!doc.wait_synced(am::repo::PeerId("server"), 10s)) {
      status = fail("the document did not sync to the server");
    } else if (auto found = (*server)->find(doc.id(), 10s).get(); !found) {
      status = fail("the server could not find the client's document");
    } else if (!eventually_equal(*found, "title", "hello over a unix socket")) {
      status = fail("the client's edit did not reach the server");
    } else {
      (void)found->change([](am::Document& d) { (void)d.put(am::ObjId::root(), "reply", std::string("received")); });
      if (!eventually_equal(doc, "reply", "received")) status = fail("the server's edit did not reach the client");
    }
    if (status == 0) {
      const am::repo::RepoStats stats = (*server)->stats();
      std::printf("synced over %s: %llu messages in, %llu out on the server\n", path.c_str(),
                  static_cast<unsigned long long>(stats.messages_in),
                  static_cast<unsigned long long>(stats.messages_out));
    }
  }

  (*client)->stop();
  (*server)->stop();
  stopping = true;  // wake the accept thread with one last connection
  const int wake = ::socket(AF_UNIX, SOCK_STREAM, 0);
  if (wake >= 0 && ::connect(wake, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::shutdown(listen_fd, SHUT_RDWR);
  }
  acceptor.join();
  if (wake >= 0) ::close(wake);
  ::close(listen_fd);
  ::unlink(path.c_str());
  return status;
}
