// Load trace format: a written trace reads back field for field; every kind of
// bad input is refused with one line naming the file, the line and the
// problem; unknown keys are ignored; the writer never leaves a file without
// its header.

#include "sim/trace.hh"

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace reactor::sim {
namespace {

using json = nlohmann::json;

TraceHeader make_header() {
  TraceHeader h;
  h.source = {"reactor-bench", 4242, "testhost", "2026-12-01T12:00:00Z"};
  h.tick_rate = 1'000'000'000;
  h.interval_us = 100'000;
  h.synthetic = "package:1 core:2 pu:2";
  h.cores = {{0, 0, 0, {0, 1}}, {1, 0, 0, {0, 1}}, {2, 0, 0, {2, 3}}, {3, 0, 0, {2, 3}}};
  h.reactor_cores = {0, 1, 2};
  h.isolated = {2};
  h.main_core = 0;
  h.baseline = ReactorMode::Interrupt;
  h.scheduler = {"dynamic", 100'000, 20, 80, 95};
  return h;
}

TraceSample make_sample(uint64_t seq, bool with_round) {
  TraceSample s;
  s.seq = seq;
  s.t_us = 100'000 * (seq + 1) + 7;
  s.ticks = 100'000'000;
  s.cores = {{0, 60'000'000, 40'000'000, ReactorMode::Poll, 2'400'000, 2, false},
             {1, 0, 0, ReactorMode::Interrupt, std::nullopt, 0, false},
             {2, 5, 99'999'995, ReactorMode::Poll, std::nullopt, 1, true}};
  s.threads = {{3, "io_0", 0, 1, {0, 1}, 50'000'000, 50'000'000, 0},
               {4, "app \"thread\"", 0, 0, {0, 1}, 10'000'000, 90'000'000, UINT32_MAX},
               {5, "iso", 2, 2, {2}, 5, 99'999'995, UINT32_MAX}};
  if (with_round) s.round = TraceRound{17 + seq, "dynamic", {{3, 1, 0, "core 1 idle: consolidate"}}};
  return s;
}

// header, samples 0..n-1 (sample 1 carries a round), end: one string per line.
std::vector<std::string> make_lines(uint64_t n = 3) {
  std::vector<std::string> lines{format_header(make_header())};
  for (uint64_t i = 0; i < n; ++i) lines.push_back(format_sample(make_sample(i, i == 1)));
  lines.push_back(format_end({n, TraceEndReason::Signal}));
  return lines;
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l;
  return out;
}

Result<Trace> parse(const std::string& text) {
  std::istringstream in(text);
  return parse_trace(in, "t.jsonl");
}

// Edits line `index` (0-based) as JSON and puts it back as one line.
void edit(std::vector<std::string>& lines, size_t index, const std::function<void(json&)>& f) {
  json j = json::parse(lines[index]);
  f(j);
  lines[index] = j.dump() + "\n";
}

// The parse fails with exactly one line that starts with `prefix` and contains `what`.
void expect_error(const std::string& text, const std::string& prefix, const std::string& what) {
  auto r = parse(text);
  ASSERT_FALSE(r.has_value()) << "accepted a bad trace; expected " << prefix << what;
  const std::string& msg = r.error().message;
  EXPECT_EQ(msg.rfind(prefix, 0), 0u) << msg;
  EXPECT_NE(msg.find(what), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  EXPECT_EQ(r.error().code, Errc::invalid_argument);
}

void expect_same(const TraceSample& a, const TraceSample& b) {
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.t_us, b.t_us);
  EXPECT_EQ(a.ticks, b.ticks);
  ASSERT_EQ(a.round.has_value(), b.round.has_value());
  if (a.round) {
    EXPECT_EQ(a.round->seq, b.round->seq);
    EXPECT_EQ(a.round->policy, b.round->policy);
    ASSERT_EQ(a.round->moves.size(), b.round->moves.size());
    for (size_t i = 0; i < a.round->moves.size(); ++i) {
      EXPECT_EQ(a.round->moves[i].thread, b.round->moves[i].thread);
      EXPECT_EQ(a.round->moves[i].from, b.round->moves[i].from);
      EXPECT_EQ(a.round->moves[i].to, b.round->moves[i].to);
      EXPECT_EQ(a.round->moves[i].reason, b.round->moves[i].reason);
    }
  }
  ASSERT_EQ(a.cores.size(), b.cores.size());
  for (size_t i = 0; i < a.cores.size(); ++i) {
    EXPECT_EQ(a.cores[i].id, b.cores[i].id);
    EXPECT_EQ(a.cores[i].busy, b.cores[i].busy);
    EXPECT_EQ(a.cores[i].idle, b.cores[i].idle);
    EXPECT_EQ(a.cores[i].mode, b.cores[i].mode);
    EXPECT_EQ(a.cores[i].freq_khz, b.cores[i].freq_khz);
    EXPECT_EQ(a.cores[i].threads, b.cores[i].threads);
    EXPECT_EQ(a.cores[i].stalled, b.cores[i].stalled);
  }
  ASSERT_EQ(a.threads.size(), b.threads.size());
  for (size_t i = 0; i < a.threads.size(); ++i) {
    EXPECT_EQ(a.threads[i].id, b.threads[i].id);
    EXPECT_EQ(a.threads[i].name, b.threads[i].name);
    EXPECT_EQ(a.threads[i].core, b.threads[i].core);
    EXPECT_EQ(a.threads[i].home, b.threads[i].home);
    EXPECT_EQ(a.threads[i].cpumask, b.threads[i].cpumask);
    EXPECT_EQ(a.threads[i].busy, b.threads[i].busy);
    EXPECT_EQ(a.threads[i].idle, b.threads[i].idle);
    EXPECT_EQ(a.threads[i].rounds_since_move, b.threads[i].rounds_since_move);
  }
}

void expect_same(const TraceHeader& a, const TraceHeader& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.source.tool, b.source.tool);
  EXPECT_EQ(a.source.pid, b.source.pid);
  EXPECT_EQ(a.source.host, b.source.host);
  EXPECT_EQ(a.source.started, b.source.started);
  EXPECT_EQ(a.tick_rate, b.tick_rate);
  EXPECT_EQ(a.interval_us, b.interval_us);
  EXPECT_EQ(a.synthetic, b.synthetic);
  ASSERT_EQ(a.cores.size(), b.cores.size());
  for (size_t i = 0; i < a.cores.size(); ++i) {
    EXPECT_EQ(a.cores[i].id, b.cores[i].id);
    EXPECT_EQ(a.cores[i].package, b.cores[i].package);
    EXPECT_EQ(a.cores[i].numa_node, b.cores[i].numa_node);
    EXPECT_EQ(a.cores[i].smt_siblings, b.cores[i].smt_siblings);
  }
  EXPECT_EQ(a.reactor_cores, b.reactor_cores);
  EXPECT_EQ(a.isolated, b.isolated);
  EXPECT_EQ(a.main_core, b.main_core);
  EXPECT_EQ(a.baseline, b.baseline);
  EXPECT_EQ(a.scheduler.policy, b.scheduler.policy);
  EXPECT_EQ(a.scheduler.period_us, b.scheduler.period_us);
  EXPECT_EQ(a.scheduler.load_limit, b.scheduler.load_limit);
  EXPECT_EQ(a.scheduler.core_limit, b.scheduler.core_limit);
  EXPECT_EQ(a.scheduler.core_busy, b.scheduler.core_busy);
}

struct TempDir {
  std::string path;
  TempDir() {
    std::string t = (std::getenv("TMPDIR") ? std::string(std::getenv("TMPDIR")) : "/tmp") + "/trace_test.XXXXXX";
    path = ::mkdtemp(t.data());
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path + "'").c_str()); }
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    DIR* d = ::opendir(path.c_str());
    while (dirent* e = ::readdir(d))
      if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") out.push_back(e->d_name);
    ::closedir(d);
    return out;
  }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TraceFormat, RoundTripThroughTheWriterAndReader) {
  TempDir dir;
  const std::string path = dir.path + "/trace.jsonl";
  auto w = TraceWriter::create(path, make_header());
  ASSERT_TRUE(w.has_value()) << w.error().message;
  std::vector<TraceSample> written;
  for (uint64_t i = 0; i < 3; ++i) {
    written.push_back(make_sample(i, i == 1));
    ASSERT_TRUE((*w)->write_sample(written.back()).has_value());
  }
  ASSERT_TRUE((*w)->write_end(TraceEndReason::DaemonGone).has_value());
  w->reset();

  auto t = read_trace(path);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  expect_same(make_header(), t->header);
  ASSERT_EQ(t->samples.size(), written.size());
  for (size_t i = 0; i < written.size(); ++i) expect_same(written[i], t->samples[i]);
  EXPECT_EQ(t->end.samples, 3u);
  EXPECT_EQ(t->end.reason, TraceEndReason::DaemonGone);
  // Only the trace is left in the directory (the temporary file was renamed).
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"trace.jsonl"});
  // One record per line, each line JSON with its "\n".
  EXPECT_EQ(slurp(path), format_header(make_header()) +
                             format_sample(written[0]) + format_sample(written[1]) + format_sample(written[2]) +
                             format_end({3, TraceEndReason::DaemonGone}));
}

TEST(TraceFormat, HeaderWithoutOptionalKeysAndFrequencies) {
  TraceHeader h = make_header();
  h.synthetic.reset();
  auto lines = make_lines(1);
  lines[0] = format_header(h);
  edit(lines, 0, [](json& j) {
    j["source"].erase("host");
    j["source"].erase("pid");
    j["source"].erase("started");
  });
  auto t = parse(join(lines));
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_FALSE(t->header.synthetic.has_value());
  EXPECT_EQ(t->header.source.pid, 0);
  EXPECT_EQ(t->samples[0].cores[0].freq_khz, std::optional<uint64_t>(2'400'000));
  EXPECT_FALSE(t->samples[0].cores[1].freq_khz.has_value());
}

TEST(TraceFormat, UnknownKeysAreIgnored) {
  auto lines = make_lines();
  for (size_t i = 0; i < lines.size(); ++i) edit(lines, i, [](json& j) { j["from_the_future"] = {1, 2}; });
  edit(lines, 2, [](json& j) {
    j["cores"][0]["temperature"] = 50;
    j["threads"][0]["numa_hits"] = 1;
    j["round"]["duration_us"] = 12;
    j["round"]["moves"][0]["cost"] = 3;
  });
  auto t = parse(join(lines));
  ASSERT_TRUE(t.has_value()) << t.error().message;
  ASSERT_EQ(t->samples.size(), 3u);
  expect_same(make_sample(1, true), t->samples[1]);
}

TEST(TraceFormat, StreamingReaderStopsAtTheEndRecord) {
  std::istringstream in(join(make_lines(4)));
  auto r = TraceReader::open(in, "t.jsonl");
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ((*r)->header().main_core, 0u);
  uint64_t n = 0;
  for (;;) {
    auto s = (*r)->next();
    ASSERT_TRUE(s.has_value()) << s.error().message;
    if (!*s) break;
    EXPECT_EQ((*s)->seq, n++);
  }
  EXPECT_EQ(n, 4u);
  EXPECT_EQ((*r)->end().samples, 4u);
  EXPECT_EQ((*r)->end().reason, TraceEndReason::Signal);
  auto again = (*r)->next();
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->has_value());
}

TEST(TraceFormatErrors, BadJson) {
  auto lines = make_lines();
  lines[2] = "{\"type\":\"sample\",\"seq\":1,\n";
  expect_error(join(lines), "t.jsonl:3: ", "not JSON");
  lines = make_lines();
  lines[0] = "not json at all\n";
  expect_error(join(lines), "t.jsonl:1: ", "not JSON");
}

TEST(TraceFormatErrors, WrongVersion) {
  auto lines = make_lines();
  edit(lines, 0, [](json& j) { j["version"] = 2; });
  expect_error(join(lines), "t.jsonl:1: ", "version 2 is not supported (1)");
  edit(lines, 0, [](json& j) { j.erase("version"); });
  expect_error(join(lines), "t.jsonl:1: ", "missing key 'version'");
}

TEST(TraceFormatErrors, NotATraceOrEmpty) {
  auto lines = make_lines();
  edit(lines, 0, [](json& j) { j["format"] = "spdk-trace"; });
  expect_error(join(lines), "t.jsonl:1: ", "not a reactor trace");
  auto r = parse("");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "t.jsonl: empty file (no header)");
}

TEST(TraceFormatErrors, MissingKeys) {
  auto lines = make_lines();
  edit(lines, 1, [](json& j) { j["threads"][1].erase("busy"); });
  expect_error(join(lines), "t.jsonl:2: ", "missing key 'busy' in threads[1] of sample 0");
  lines = make_lines();
  edit(lines, 0, [](json& j) { j.erase("tick_rate"); });
  expect_error(join(lines), "t.jsonl:1: ", "missing key 'tick_rate' in the header");
  lines = make_lines();
  edit(lines, 0, [](json& j) { j["topology"]["cores"][2].erase("smt_siblings"); });
  expect_error(join(lines), "t.jsonl:1: ", "missing key 'smt_siblings' in topology.cores[2]");
  lines = make_lines();
  edit(lines, 3, [](json& j) { j["cores"][0].erase("freq_khz"); });
  expect_error(join(lines), "t.jsonl:4: ", "missing key 'freq_khz' in cores[0] of sample 2");
  lines = make_lines();
  edit(lines, 2, [](json& j) { j.erase("round"); });
  expect_error(join(lines), "t.jsonl:3: ", "missing key 'round' in sample 1");
  lines = make_lines();
  edit(lines, 4, [](json& j) { j.erase("reason"); });
  expect_error(join(lines), "t.jsonl:5: ", "missing key 'reason' in the end record");
  lines = make_lines();
  edit(lines, 2, [](json& j) { j.erase("type"); });
  expect_error(join(lines), "t.jsonl:3: ", "missing key 'type' in line 3");
}

TEST(TraceFormatErrors, WrongTypesAndValues) {
  auto lines = make_lines();
  edit(lines, 1, [](json& j) { j["cores"][0]["busy"] = -5; });
  expect_error(join(lines), "t.jsonl:2: ", "'busy' in cores[0] of sample 0 must be a non-negative integer (got -5)");
  lines = make_lines();
  edit(lines, 1, [](json& j) { j["cores"][1]["mode"] = "sleep"; });
  expect_error(join(lines), "t.jsonl:2: ", "'mode' in cores[1] of sample 0 is 'sleep', not poll or interrupt");
  lines = make_lines();
  edit(lines, 0, [](json& j) { j["scheduler"]["core_busy"] = 101; });
  expect_error(join(lines), "t.jsonl:1: ", "'core_busy' in scheduler is 101, above 100");
  lines = make_lines();
  edit(lines, 0, [](json& j) { j["main_core"] = 3; });
  expect_error(join(lines), "t.jsonl:1: ", "main core 3 is not a reactor core (0,1,2)");
  lines = make_lines();
  edit(lines, 4, [](json& j) { j["reason"] = "bored"; });
  expect_error(join(lines), "t.jsonl:5: ", "'reason' in the end record is 'bored'");
  lines = make_lines();
  edit(lines, 2, [](json& j) { j["type"] = "snapshot"; });
  expect_error(join(lines), "t.jsonl:3: ", "unknown record type 'snapshot'");
}

TEST(TraceFormatErrors, SeqOutOfOrder) {
  auto lines = make_lines();
  edit(lines, 3, [](json& j) { j["seq"] = 0; });
  expect_error(join(lines), "t.jsonl:4: ", "sample seq 0 follows seq 1");
  lines = make_lines();
  edit(lines, 2, [](json& j) { j["seq"] = 5; });
  expect_error(join(lines), "t.jsonl:3: ", "sample seq 5 follows seq 0: 4 sample(s) missing");
  lines = make_lines();
  edit(lines, 1, [](json& j) { j["seq"] = 1; });
  expect_error(join(lines), "t.jsonl:2: ", "the first sample has seq 1 (expected 0)");
  lines = make_lines();
  edit(lines, 3, [](json& j) { j["t_us"] = 5; });
  expect_error(join(lines), "t.jsonl:4: ", "sample 2 has t_us 5, before the previous 200007");
}

TEST(TraceFormatErrors, TruncatedLastLine) {
  std::string text = join(make_lines());
  text.resize(text.size() - 10);  // the end record loses its tail and its "\n"
  expect_error(text, "t.jsonl:5: ", "truncated line (no newline at end of file)");
  // A complete record without its "\n" is truncated too: the writer died before finishing the line.
  text = join(make_lines());
  text.pop_back();
  expect_error(text, "t.jsonl:5: ", "truncated line (no newline at end of file)");
}

TEST(TraceFormatErrors, MissingEndRecord) {
  auto lines = make_lines();
  lines.pop_back();
  auto r = parse(join(lines));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, "t.jsonl: ends after line 4 without its end record: truncated?");
  lines = make_lines();
  edit(lines, 4, [](json& j) { j["samples"] = 2; });
  expect_error(join(lines), "t.jsonl:5: ", "the end record counts 2 samples, the trace has 3");
  lines = make_lines();
  lines.push_back(format_sample(make_sample(3, false)));
  expect_error(join(lines), "t.jsonl:6: ", "a line after the end record");
}

TEST(TraceFormatErrors, ThreadOnACoreNotInTheTopology) {
  auto lines = make_lines();
  edit(lines, 2, [](json& j) { j["threads"][0]["core"] = 7; });
  expect_error(join(lines), "t.jsonl:3: ", "thread 3 is on core 7, which is not in the topology");
  lines = make_lines();
  edit(lines, 2, [](json& j) { j["threads"][1]["cpumask"] = {0, 9}; });
  expect_error(join(lines), "t.jsonl:3: ", "thread 4 has core 9 in its cpumask, which is not in the topology");
  lines = make_lines();
  edit(lines, 2, [](json& j) { j["cores"][2]["id"] = 3; });  // in the topology, not a reactor core
  expect_error(join(lines), "t.jsonl:3: ", "is core 3, which is not a reactor core of the header (0,1,2)");
  lines = make_lines();
  edit(lines, 2, [](json& j) { j["round"]["moves"][0]["to"] = 8; });
  expect_error(join(lines), "t.jsonl:3: ", "names core 8, which is not in the topology");
  lines = make_lines();
  edit(lines, 2, [](json& j) { j["round"]["moves"][0]["thread"] = 99; });
  expect_error(join(lines), "t.jsonl:3: ", "moves thread 99, which is not in the sample");
  lines = make_lines();
  edit(lines, 0, [](json& j) { j["reactor_cores"] = {0, 1, 5}; });
  expect_error(join(lines), "t.jsonl:1: ", "reactor core 5 is not in the topology");
}

TEST(TraceFile, OpenErrorNamesTheFile) {
  auto r = read_trace("/nonexistent/dir/trace.jsonl");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, Errc::io);
  EXPECT_EQ(r.error().message, "cannot open /nonexistent/dir/trace.jsonl: No such file or directory");
}

TEST(TraceWriterTest, TheFileHoldsItsHeaderFromTheStart) {
  TempDir dir;
  const std::string path = dir.path + "/t.jsonl";
  auto w = TraceWriter::create(path, make_header());
  ASSERT_TRUE(w.has_value()) << w.error().message;
  // Before any sample: a reader sees the header and reports the missing end.
  auto r = read_trace(path);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message, path + ": ends after line 1 without its end record: truncated?");
  // Each sample is on disk as soon as write_sample returns (one write per line).
  ASSERT_TRUE((*w)->write_sample(make_sample(0, false)).has_value());
  EXPECT_EQ(slurp(path), format_header(make_header()) + format_sample(make_sample(0, false)));
}

TEST(TraceWriterTest, RefusesOutOfOrderSamplesAndBadHeaders) {
  TempDir dir;
  const std::string path = dir.path + "/t.jsonl";
  auto w = TraceWriter::create(path, make_header());
  ASSERT_TRUE(w.has_value());
  auto bad = (*w)->write_sample(make_sample(1, false));
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("sample seq 1 written after 0 samples"), std::string::npos);
  EXPECT_EQ(slurp(path), format_header(make_header()));
  ASSERT_TRUE((*w)->write_end(TraceEndReason::Duration).has_value());
  EXPECT_FALSE((*w)->write_sample(make_sample(0, false)).has_value());
  EXPECT_FALSE((*w)->write_end(TraceEndReason::Duration).has_value());

  TraceHeader h = make_header();
  h.main_core = 9;
  auto refused = TraceWriter::create(dir.path + "/other.jsonl", h);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().message, "bad trace header: main core 9 is not a reactor core (0,1,2)");
  auto nodir = TraceWriter::create(dir.path + "/missing/t.jsonl", make_header());
  ASSERT_FALSE(nodir.has_value());
  EXPECT_EQ(nodir.error().code, Errc::io);
  EXPECT_NE(nodir.error().message.find("No such file or directory"), std::string::npos);
  // Nothing but the first trace was created.
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"t.jsonl"});
}

}  // namespace
}  // namespace reactor::sim
