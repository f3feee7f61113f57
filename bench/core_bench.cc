// Micro-benchmarks of the core's hot paths besides the sequence index (issue 6): an RLE column
// written and read, one-op changes committed (encode + SHA-256 + history), and a text document
// of 20,000 one-op changes saved and loaded. The "per_item" counter is the time per column
// item, per change, or per change of the document.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "am/document.h"
#include "core/encoding/rle.h"

namespace am {
namespace {

void set_per_item(benchmark::State& state, std::uint64_t items_per_iteration) {
  state.counters["per_item"] = benchmark::Counter(
      static_cast<double>(items_per_iteration),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// Column values like an op column's: runs of equal values, some nulls, some literals.
std::vector<std::optional<std::uint64_t>> column_values(std::size_t n) {
  std::mt19937_64 rng(7);
  std::vector<std::optional<std::uint64_t>> values;
  while (values.size() < n) {
    const std::uint64_t kind = rng() % 10;
    const std::size_t run = 1 + rng() % 8;
    const std::uint64_t v = rng() % 1000;
    for (std::size_t i = 0; i < run && values.size() < n; ++i) {
      if (kind == 0) values.push_back(std::nullopt);
      else if (kind < 4) values.push_back(rng() % 1000);  // a literal stretch
      else values.push_back(v);
    }
  }
  return values;
}

constexpr std::size_t kColumnItems = 100000;

void BM_RleUIntWrite(benchmark::State& state) {
  const auto values = column_values(kColumnItems);
  for (auto _ : state) {
    enc::UIntRleWriter w;
    for (const auto& v : values) w.append(v);
    benchmark::DoNotOptimize(w.finish());
  }
  set_per_item(state, kColumnItems);
}
BENCHMARK(BM_RleUIntWrite)->Unit(benchmark::kMicrosecond);

void BM_RleUIntRead(benchmark::State& state) {
  const auto values = column_values(kColumnItems);
  enc::UIntRleWriter w;
  for (const auto& v : values) w.append(v);
  const Bytes column = w.finish();
  for (auto _ : state) {
    enc::UIntRleReader r{ByteView(column)};
    std::optional<std::uint64_t> item;
    std::uint64_t sum = 0;
    while (r.next(item)) sum += item.value_or(0);
    benchmark::DoNotOptimize(sum);
  }
  set_per_item(state, kColumnItems);
}
BENCHMARK(BM_RleUIntRead)->Unit(benchmark::kMicrosecond);

constexpr std::size_t kChanges = 20000;

// A text typed one character per change (the shape of the editing trace).
Document typed_document(std::size_t changes) {
  Document d(DocumentOptions{*ActorId::from_hex("aaaaaaaa"), TextUnit::kUtf16});
  auto text = d.put_object(ObjId::root(), "text", ObjType::kText);
  d.commit();
  for (std::size_t i = 0; i < changes; ++i) {
    (void)d.splice_text(*text, i, 0, std::string(1, static_cast<char>('a' + i % 26)));
    d.commit();
  }
  return d;
}

// One-op changes: encode the change chunk, hash it, record it in the history.
void BM_CommitOneOpChanges(benchmark::State& state) {
  for (auto _ : state) {
    Document d = typed_document(kChanges);
    benchmark::DoNotOptimize(d.heads());
  }
  set_per_item(state, kChanges);
}
BENCHMARK(BM_CommitOneOpChanges)->Unit(benchmark::kMillisecond);

void BM_Save(benchmark::State& state) {
  const Document d = typed_document(kChanges);
  for (auto _ : state) benchmark::DoNotOptimize(d.save());
  set_per_item(state, kChanges);
}
BENCHMARK(BM_Save)->Unit(benchmark::kMillisecond);

// Load with the full change rebuild and head verification (the default).
void BM_Load(benchmark::State& state) {
  const Bytes saved = typed_document(kChanges).save();
  for (auto _ : state) {
    auto loaded = Document::load(saved);
    if (!loaded) state.SkipWithError("load failed");
    benchmark::DoNotOptimize(loaded);
  }
  set_per_item(state, kChanges);
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace am
