#include "history_cli.h"

#include <iostream>
#include <memory>

#include "core/json.h"
#include "file_tools.h"

namespace amrepo {
namespace {

using am::core::json_scalar;
using am::core::json_string;

// decodeChange names the datatype of ints, uints, floats, counters and timestamps in `set` ops
// and writes counters and timestamps as plain numbers; inc and mark values carry no datatype.
void op_value_json(std::string& out, const am::ChangeOpInfo& op) {
  const am::ScalarValue& v = *op.value;
  const bool typed = op.action == am::ChangeOpInfo::Action::kSet;
  const char* datatype = nullptr;
  std::string number;
  if (const auto* i = std::get_if<std::int64_t>(&v)) {
    datatype = "int";
    number = std::to_string(*i);
  } else if (const auto* u = std::get_if<std::uint64_t>(&v)) {
    datatype = "uint";
    number = std::to_string(*u);
  } else if (std::holds_alternative<double>(v)) {
    datatype = "float64";
  } else if (const auto* c = std::get_if<am::Counter>(&v)) {
    datatype = "counter";
    number = std::to_string(c->value);
  } else if (const auto* t = std::get_if<am::Timestamp>(&v)) {
    datatype = "timestamp";
    number = std::to_string(t->millis);
  }
  if (typed && datatype != nullptr) {
    out += ",\"datatype\":\"";
    out += datatype;
    out += "\"";
  }
  out += ",\"value\":";
  if (!number.empty()) {
    out += number;
  } else {
    json_scalar(out, v);
  }
}

void op_json(std::string& out, const am::ChangeOpInfo& op) {
  out += "{\"action\":\"";
  out += am::action_name(op.action);
  out += "\",\"obj\":";
  json_string(out, op.obj);
  if (op.key) {
    out += ",\"key\":";
    json_string(out, *op.key);
  } else if (op.elem_id) {
    out += ",\"elemId\":";
    json_string(out, *op.elem_id);
  }
  if (op.insert) out += ",\"insert\":true";
  if (op.mark_name) {
    out += ",\"name\":";
    json_string(out, *op.mark_name);
  }
  if (op.value) op_value_json(out, op);
  const bool is_mark = op.action == am::ChangeOpInfo::Action::kMarkBegin ||
                       op.action == am::ChangeOpInfo::Action::kMarkEnd;
  if (is_mark) out += op.expand ? ",\"expand\":true" : ",\"expand\":false";
  out += ",\"pred\":[";
  for (std::size_t i = 0; i < op.pred.size(); ++i) {
    if (i > 0) out += ",";
    json_string(out, op.pred[i]);
  }
  out += "]}";
}

}  // namespace

std::string change_info_json(const am::ChangeInfo& c, bool with_ops) {
  std::string out = "{";
  if (with_ops) {
    out += "\"ops\":[";
    for (std::size_t i = 0; i < c.ops.size(); ++i) {
      if (i > 0) out += ",";
      op_json(out, c.ops[i]);
    }
    out += "],";
  }
  out += "\"actor\":\"" + c.actor + "\",\"hash\":\"" + c.hash.to_hex() + "\"";
  out += ",\"seq\":" + std::to_string(c.seq) + ",\"startOp\":" + std::to_string(c.start_op);
  if (!with_ops) out += ",\"opCount\":" + std::to_string(c.op_count);
  out += ",\"time\":" + std::to_string(c.time) + ",\"message\":";
  if (c.message) {
    json_string(out, *c.message);
  } else {
    out += "null";
  }
  out += ",\"deps\":[";
  for (std::size_t i = 0; i < c.deps.size(); ++i) {
    if (i > 0) out += ",";
    out += "\"" + c.deps[i].to_hex() + "\"";
  }
  out += "]";
  if (!c.extra_bytes.empty()) {
    out += ",\"extra_bytes\":[";
    for (std::size_t i = 0; i < c.extra_bytes.size(); ++i) {
      if (i > 0) out += ",";
      out += std::to_string(c.extra_bytes[i]);
    }
    out += "]";
    if (c.author) out += ",\"author\":\"" + am::to_hex(*c.author) + "\"";
  }
  out += "}";
  return out;
}

namespace {

struct LogOptions {
  std::string file;
  bool no_ops = false;
};

int run_log(const LogOptions& o) {
  auto doc = load_file(o.file);
  if (!doc) return fail_with_error(doc.error());
  for (const am::ChangeInfo& c : doc->history(!o.no_ops)) std::cout << change_info_json(c, !o.no_ops) << "\n";
  return kExitOk;
}

struct DiffOptions {
  std::string file;
  std::string from;
  std::string to;
};

int run_diff(const DiffOptions& o) {
  auto doc = load_file(o.file);
  if (!doc) return fail_with_error(doc.error());
  auto from = parse_heads(o.from, "--from");
  if (!from) return fail_with_error(from.error());
  std::vector<am::ChangeHash> to = doc->heads();
  if (!o.to.empty()) {
    auto parsed = parse_heads(o.to, "--to");
    if (!parsed) return fail_with_error(parsed.error());
    to = std::move(*parsed);
  }
  auto patches = doc->diff(*from, to);
  if (!patches) return fail_with_error(patches.error());
  std::cout << am::patches_to_json(*patches) << "\n";
  return kExitOk;
}

}  // namespace

void add_history_commands(CLI::App& app, CommandRunners& runners) {
  auto l = std::make_shared<LogOptions>();
  CLI::App* log = app.add_subcommand(
      "log", "Print every change of FILE, one JSON line each in application order (JS getAllChanges order), "
             "with the fields of JS decodeChange");
  log->add_option("FILE", l->file, "Automerge file")->required();
  log->add_flag("--no-ops", l->no_ops, "leave out the ops (metadata only, with opCount; does not decode the changes)");
  runners.emplace_back(log, [l] { return run_log(*l); });

  auto d = std::make_shared<DiffOptions>();
  CLI::App* diff = app.add_subcommand(
      "diff", "Print the patches (JS Automerge.diff) that turn FILE as of --from into FILE as of --to, as one "
              "JSON array");
  diff->add_option("FILE", d->file, "Automerge file")->required();
  diff->add_option("--from", d->from, "heads to diff from (comma-separated hex hashes; default: the empty document)");
  diff->add_option("--to", d->to, "heads to diff to (default: the current heads)");
  runners.emplace_back(diff, [d] { return run_diff(*d); });
}

}  // namespace amrepo
