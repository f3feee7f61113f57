#include "client_commands.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "am/json_import.h"
#include "cli_common.h"
#include "client_session.h"
#include "doc_edit.h"
#include "file_tools.h"
#include "store.h"

namespace amrepo {
namespace {

using namespace std::chrono_literals;

// A store named by --data that must already hold a repo (ls, rm): nothing is created.
am::Result<std::shared_ptr<am::repo::StorageAdapter>> open_existing_store(const std::string& name) {
  auto spec = parse_store(name);
  if (!spec) return am::fail(spec.error());
  if (spec->kind == StoreSpec::Kind::kMemory) {
    return am::fail(am::Error::invalid_argument("--data", "memory: holds no documents to list or remove"));
  }
  if (spec->kind != StoreSpec::Kind::kPostgres && !std::filesystem::exists(spec->location)) {
    return am::fail(am::Error::not_found("--data", spec->location + " does not exist"));
  }
  OpenStoreOptions options;
  options.create = false;
  return open_store(*spec, options);
}

}  // namespace

int client_new(const ClientOptions& options, const std::string& json) {
  ClientSession session;
  if (int rc = open_client(options, session); rc != kExitOk) return rc;
  am::repo::DocHandle handle;
  if (json.empty()) {
    handle = session.repo->create();
  } else {
    auto doc = am::document_from_json(json);
    if (!doc) return fail_with(kExitUsage, "bad JSON: " + doc.error().to_string());
    auto created = session.repo->create(*doc);
    if (!created) return fail_with(kExitFailure, created.error().to_string());
    handle = *created;
  }
  if (session.server) {
    if (auto st = handle.wait_synced(*session.server, timeout_of(options)); !st) {
      return fail_with(kExitNetwork, "the server did not acknowledge the document: " + st.error().to_string());
    }
  }
  std::cout << handle.url() << std::endl;
  session.repo->stop();
  return kExitOk;
}

int client_cat(const ClientOptions& options, const std::string& url, const std::string& path) {
  ClientSession session;
  am::repo::DocHandle handle;
  if (int rc = open_remote_document(options, url, session, handle); rc != kExitOk) return rc;
  am::Result<nlohmann::json> json = am::fail(am::Error::internal("cat"));
  handle.read([&](const am::Document& d) { json = document_json(d, path); });
  if (!json) return fail_with(json.error().code == am::ErrorCode::kInvalidArgument ? kExitUsage : kExitCorrupt,
                              json.error().to_string());
  std::cout << json->dump() << std::endl;
  session.repo->stop();
  return kExitOk;
}

int client_edit(const ClientOptions& options, const std::string& url, const EditCommand& edit) {
  nlohmann::json value;
  if (edit.kind == EditCommand::Kind::kSet) {
    value = nlohmann::json::parse(edit.json, nullptr, false);
    if (value.is_discarded()) return fail_with(kExitUsage, "bad JSON value: " + edit.json);
  }
  ClientSession session;
  am::repo::DocHandle handle;
  if (int rc = open_remote_document(options, url, session, handle); rc != kExitOk) return rc;
  am::Status result;
  auto st = handle.change([&](am::Document& d) {
    auto target = resolve_path(d, edit.path);
    if (!target) {
      result = am::fail(target.error());
      return;
    }
    switch (edit.kind) {
      case EditCommand::Kind::kSet: result = set_json(d, *target, value); break;
      case EditCommand::Kind::kDelete: result = delete_at(d, *target); break;
      case EditCommand::Kind::kIncrement: result = increment_at(d, *target, edit.by); break;
      case EditCommand::Kind::kSplice: result = splice_at(d, *target, edit.pos, edit.del, edit.text); break;
    }
    if (!result) d.rollback();  // all or nothing
  });
  if (!st) return fail_with(kExitFailure, st.error().to_string());
  if (!result) return fail_with(kExitUsage, result.error().to_string());
  return finish(session, handle, options);
}

int client_editor(const ClientOptions& options, const std::string& url) {
  ClientSession session;
  am::repo::DocHandle handle;
  if (int rc = open_remote_document(options, url, session, handle); rc != kExitOk) return rc;
  am::Result<nlohmann::json> before = am::fail(am::Error::internal("edit"));
  handle.read([&](const am::Document& d) { before = document_json(d, ""); });
  if (!before) return fail_with(kExitCorrupt, before.error().to_string());
  const std::filesystem::path dir = std::filesystem::temp_directory_path();
  std::string file_template = (dir / "amrepo-edit-XXXXXX.json").string();
  const int fd = mkstemps(file_template.data(), 5);
  if (fd < 0) return fail_with(kExitFailure, "cannot create a temporary file in " + dir.string());
  const std::string text = before->dump(2) + "\n";
  const bool written = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written) return fail_with(kExitFailure, "cannot write " + file_template);
  const char* editor = std::getenv("VISUAL");
  if (editor == nullptr || *editor == '\0') editor = std::getenv("EDITOR");
  const std::string command = std::string(editor != nullptr && *editor != '\0' ? editor : "vi") + " '" + file_template + "'";
  const int status = std::system(command.c_str());
  if (status != 0) {
    return fail_with(kExitFailure, "the editor failed (" + command + "); nothing changed; your file: " + file_template);
  }
  std::ifstream in(file_template);
  const nlohmann::json after = nlohmann::json::parse(in, nullptr, false);
  if (after.is_discarded()) {
    return fail_with(kExitUsage, "the edited file is not valid JSON; nothing changed; your file: " + file_template);
  }
  am::Result<std::size_t> changed = std::size_t{0};
  auto st = handle.change([&](am::Document& d) {
    changed = apply_json_diff(d, *before, after);
    if (!changed) d.rollback();
  });
  if (!st) return fail_with(kExitFailure, st.error().to_string() + "; your file: " + file_template);
  if (!changed) return fail_with(kExitUsage, changed.error().to_string() + "; nothing changed; your file: " + file_template);
  std::filesystem::remove(file_template);
  std::cerr << "amrepo: " << *changed << (*changed == 1 ? " change" : " changes") << "\n";
  return finish(session, handle, options);
}

int client_watch(const ClientOptions& options, const std::string& url, const WatchOptions& watch) {
  const bool ephemeral = watch.ephemeral;
  const std::size_t count = watch.count;
  const sigset_t signals = block_stop_signals();
  ClientSession session;
  am::repo::DocHandle handle;
  if (int rc = open_remote_document(options, url, session, handle); rc != kExitOk) return rc;
  std::mutex out_mutex;
  std::size_t changes = 0;
  auto print_state = [&](const char* type, const am::Document& d, bool local) {
    auto json = document_json(d, "");
    std::lock_guard<std::mutex> lock(out_mutex);
    std::cout << R"({"type":")" << type << R"(","local":)" << (local ? "true" : "false")
              << R"(,"heads":)" << heads_json(d.heads()) << R"(,"doc":)" << (json ? json->dump() : "null") << "}"
              << std::endl;
  };
  handle.read([&](const am::Document& d) { print_state("snapshot", d, false); });
  auto change_sub = handle.on_change([&, handle](const am::repo::DocumentChange& c) mutable {
    handle.read([&](const am::Document& d) { print_state("change", d, c.local); });
    std::lock_guard<std::mutex> lock(out_mutex);
    if (count != 0 && ++changes >= count) kill(getpid(), SIGTERM);
  });
  am::repo::Subscription eph_sub;
  if (ephemeral) {
    eph_sub = handle.on_ephemeral([&](const am::repo::PeerId& sender, const am::Bytes& data) {
      nlohmann::json message = nlohmann::json::from_cbor(data, true, false);
      std::lock_guard<std::mutex> lock(out_mutex);
      std::cout << nlohmann::json{{"type", "ephemeral"}, {"sender", sender.str()},
                                  {"message", message.is_discarded() ? nlohmann::json() : message},
                                  {"bytes", data.size()}}
                       .dump()
                << std::endl;
    });
  }
  am::repo::Subscription heads_sub;
  if (watch.remote_heads) {
    auto print_heads = [&](const am::repo::RemoteHeads& r) {
      std::lock_guard<std::mutex> lock(out_mutex);
      std::cout << R"({"type":"remote-heads","storageId":)" << nlohmann::json(r.storage_id.str()).dump()
                << R"(,"heads":)" << heads_json(r.heads) << R"(,"timestamp":)" << r.timestamp_ms << "}" << std::endl;
    };
    heads_sub = handle.on_remote_heads(print_heads);
    std::vector<am::repo::StorageId> stores;
    for (const std::string& id : watch.storage_ids) stores.emplace_back(id);
    if (stores.empty() && session.server_storage_id) stores.push_back(*session.server_storage_id);
    // What was heard while the document was being found (the server's heads, from its first
    // sync message), before the observer was there; a line may repeat, never go missing.
    for (const am::repo::StorageId& id : stores) {
      if (auto known = handle.remote_heads(id)) print_heads(*known);
    }
    if (stores.empty()) std::cerr << "amrepo: the server has no StorageId; give --storage-id to watch remote heads\n";
    session.repo->subscribe_to_remotes(std::move(stores));
  }
  int signal_number = 0;
  sigwait(&signals, &signal_number);
  change_sub.reset();
  eph_sub.reset();
  heads_sub.reset();
  session.repo->stop();
  return kExitOk;
}

int client_broadcast(const ClientOptions& options, const std::string& url, const std::string& json) {
  nlohmann::json value = nlohmann::json::parse(json, nullptr, false);
  if (value.is_discarded()) return fail_with(kExitUsage, "bad JSON value: " + json);
  ClientSession session;
  am::repo::DocHandle handle;
  if (int rc = open_remote_document(options, url, session, handle); rc != kExitOk) return rc;
  if (session.server) (void)handle.wait_synced(*session.server, timeout_of(options));
  const std::vector<std::uint8_t> cbor = nlohmann::json::to_cbor(value);
  handle.broadcast(am::Bytes(cbor.begin(), cbor.end()));
  std::this_thread::sleep_for(200ms);  // fire-and-forget: give the frame time to leave
  session.repo->stop();
  return kExitOk;
}

int client_ls(const ClientOptions& options) {
  if (options.data.empty()) return fail_with(kExitUsage, "ls needs --data STORE (DIR, sqlite:FILE or postgres:CONNINFO)");
  auto storage = open_existing_store(options.data);
  if (!storage) return fail_with(storage.error().code == am::ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure,
                                 storage.error().to_string());
  auto ids = list_store_documents(**storage);
  if (!ids) return fail_with(kExitFailure, ids.error().to_string());
  for (const auto& id : *ids) std::cout << "automerge:" << id.to_string() << "\n";
  return kExitOk;
}

int client_rm(const ClientOptions& options, const std::string& url) {
  if (options.data.empty()) return fail_with(kExitUsage, "rm needs --data STORE (DIR, sqlite:FILE or postgres:CONNINFO)");
  auto id = am::repo::parse_document_id_loose(url);
  if (!id) return fail_with(kExitUsage, id.error().to_string());
  auto storage = open_existing_store(options.data);
  if (!storage) return fail_with(storage.error().code == am::ErrorCode::kInvalidArgument ? kExitUsage : kExitFailure,
                                 storage.error().to_string());
  auto entries = (*storage)->list_keys({id->to_string()});
  if (!entries) return fail_with(kExitFailure, entries.error().to_string());
  if (entries->empty()) return fail_with(kExitUnavailable, "no document " + id->to_string() + " in " + options.data);
  if (auto st = (*storage)->remove_range({id->to_string()}); !st) return fail_with(kExitFailure, st.error().to_string());
  return kExitOk;
}

}  // namespace amrepo
