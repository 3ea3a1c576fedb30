// Coroutine read loop against the callback read loop, in one run.
//
// One lightweight thread on one reactor (Poll mode) keeps --qd 4 KiB random
// reads in flight over a --file-mib page-cached temp file through one
// IoChannel, for --seconds per run:
//   callback:  each completion callback checks the result and submits the
//              next read from inside the callback;
//   coroutine: --qd tasks under when_all, each looping
//              `co_await co_read(...)`.
// Runs alternate callback, coroutine, callback, ... (--rounds pairs) so both
// see the same machine state; the table prints each side's IOPS and the
// within-pair ratio coroutine/callback, then the median ratio (target >= 0.95).
// Not a Google Benchmark: plain main(), about 2 x rounds x seconds.
//   coro_bench [--seconds S] [--rounds N] [--qd Q] [--file-mib M]

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include <reactor/io.hh>
#include <reactor/pool.hh>
#include <reactor/task.hh>

using namespace reactor;
using namespace std::chrono_literals;

namespace {

struct Options {
  double seconds = 1.0;
  int rounds = 5;
  uint32_t qd = 32;
  uint64_t file_mib = 64;
};

constexpr size_t kBlock = 4096;

uint64_t next_block(uint64_t& x, uint64_t blocks) {
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return x % blocks;
}

// The callback loop: a read per slot, resubmitted from its own completion.
struct CallbackLoop {
  IoChannel ch;
  int fd = -1;
  uint64_t blocks = 0;
  std::vector<std::unique_ptr<std::byte[]>> bufs;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  std::atomic<uint32_t> live{0};
  uint64_t seed = 88172645463325252ull;
  uint64_t errors = 0;

  void submit(uint32_t slot) {
    uint64_t blk = next_block(seed, blocks);
    auto r = ch.read(fd, bufs[slot].get(), kBlock, blk * kBlock, [this, slot](int res) {
      if (res != static_cast<int>(kBlock)) ++errors;
      done.store(done.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      if (stop.load(std::memory_order_relaxed)) {
        live.fetch_sub(1, std::memory_order_release);
        return;
      }
      submit(slot);
    });
    if (!r) {
      ++errors;
      live.fetch_sub(1, std::memory_order_release);
    }
  }
};

Task<void> coro_worker(IoChannel& ch, int fd, uint64_t blocks, const std::atomic<bool>& stop,
                       std::atomic<uint64_t>& done, uint64_t seed, uint64_t& errors) {
  auto buf = std::make_unique<std::byte[]>(kBlock);
  while (!stop.load(std::memory_order_relaxed)) {
    uint64_t blk = next_block(seed, blocks);
    auto r = co_await co_read(ch, fd, buf.get(), kBlock, blk * kBlock);
    if (!r || *r != kBlock) ++errors;
    done.store(done.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
}

double run_callback(ThreadRef& t, int fd, const Options& o) {
  auto loop = std::make_shared<CallbackLoop>();
  loop->fd = fd;
  loop->blocks = o.file_mib * 1024 * 1024 / kBlock;
  for (uint32_t i = 0; i < o.qd; ++i) loop->bufs.push_back(std::make_unique<std::byte[]>(kBlock));
  loop->live = o.qd;
  std::atomic<bool> started{false};
  (void)t.send([loop, &o, &started] {
    auto ch = IoChannel::create({.queue_depth = o.qd});
    if (!ch) std::abort();
    loop->ch = std::move(*ch);
    for (uint32_t i = 0; i < o.qd; ++i) loop->submit(i);
    started = true;
  });
  while (!started) std::this_thread::sleep_for(1ms);
  const uint64_t before = loop->done.load();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  const uint64_t after = loop->done.load();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  loop->stop = true;
  while (loop->live.load(std::memory_order_acquire) != 0) std::this_thread::sleep_for(1ms);
  std::atomic<bool> closed{false};
  (void)t.send([loop, &closed] {
    loop->ch = IoChannel();
    closed = true;
  });
  while (!closed) std::this_thread::sleep_for(1ms);
  if (loop->errors != 0) fmt::print(stderr, "coro_bench: callback loop saw {} errors\n", loop->errors);
  return static_cast<double>(after - before) / secs;
}

double run_coroutine(ThreadRef& t, int fd, const Options& o) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> done{0};
  uint64_t errors = 0;
  const uint64_t blocks = o.file_mib * 1024 * 1024 / kBlock;
  auto root = [&]() -> Task<void> {
    auto ch = IoChannel::create({.queue_depth = o.qd});
    if (!ch) std::abort();
    std::vector<Task<void>> ws;
    for (uint32_t i = 0; i < o.qd; ++i)
      ws.push_back(coro_worker(*ch, fd, blocks, stop, done, 88172645463325252ull + i * 7919, errors));
    co_await when_all(std::move(ws));
  };
  auto h = spawn(t, root());
  if (!h) std::abort();
  while (done.load() == 0) std::this_thread::sleep_for(1ms);
  const uint64_t before = done.load();
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
  const uint64_t after = done.load();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stop = true;
  while (!h->done()) std::this_thread::sleep_for(1ms);
  if (errors != 0) fmt::print(stderr, "coro_bench: coroutine loop saw {} errors\n", errors);
  return static_cast<double>(after - before) / secs;
}

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = (a == "--seconds" || a == "--rounds" || a == "--qd" || a == "--file-mib") ? value() : nullptr;
    char* end = nullptr;
    if (a == "--seconds" && v) o.seconds = std::strtod(v, &end);
    else if (a == "--rounds" && v) o.rounds = static_cast<int>(std::strtol(v, &end, 10));
    else if (a == "--qd" && v) o.qd = static_cast<uint32_t>(std::strtoul(v, &end, 10));
    else if (a == "--file-mib" && v) o.file_mib = std::strtoull(v, &end, 10);
    else {
      fmt::print(stderr, "coro_bench: unknown option or missing value '{}'\n"
                         "usage: coro_bench [--seconds S] [--rounds N] [--qd Q] [--file-mib M]\n", a);
      return false;
    }
    if (end == nullptr || *end != '\0') {
      fmt::print(stderr, "coro_bench: {} needs a number, got '{}'\n", a, v);
      return false;
    }
  }
  if (!(o.seconds > 0 && o.seconds <= 60) || o.rounds < 1 || o.rounds > 100 || o.qd < 1 || o.qd > 1024 ||
      o.file_mib < 1 || o.file_mib > 4096) {
    fmt::print(stderr, "coro_bench: out of range (seconds 0-60, rounds 1-100, qd 1-1024, file-mib 1-4096)\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) return 2;
  const char* base = std::getenv("TMPDIR");
  std::string path = std::string(base && *base ? base : "/var/tmp") + "/coro_bench.XXXXXX";
  int fd = ::mkstemp(path.data());
  if (fd < 0) {
    fmt::print(stderr, "coro_bench: cannot create a temp file in {}: {}\n", path, std::strerror(errno));
    return 1;
  }
  ::unlink(path.c_str());
  {
    std::vector<char> chunk(1 << 20, 'x');
    for (uint64_t i = 0; i < o.file_mib; ++i)
      if (::write(fd, chunk.data(), chunk.size()) != static_cast<ssize_t>(chunk.size())) {
        fmt::print(stderr, "coro_bench: writing the temp file failed: {}\n", std::strerror(errno));
        return 1;
      }
  }
  auto topo = Topology::discover();
  if (!topo) {
    fmt::print(stderr, "coro_bench: {}\n", topo.error().message);
    return 1;
  }
  PoolOptions po;
  po.topology = *topo;
  CoreId core = topo->all().cores().back();
  po.cores.set(core);
  po.baseline = ReactorMode::Poll;
  auto pool = ReactorPool::create(std::move(po));
  if (!pool) {
    fmt::print(stderr, "coro_bench: {}\n", pool.error().message);
    return 1;
  }
  ThreadOptions to;
  to.name = "coro_bench";
  auto t = (*pool)->spawn(std::move(to));
  if (!t) return 1;
  fmt::print("coro_bench: 4 KiB random reads, QD {}, {} MiB page-cached file, core {}, {} s per run\n", o.qd,
             o.file_mib, core.value, o.seconds);
  fmt::print("{:>5} {:>14} {:>14} {:>8}\n", "round", "callback IOPS", "coroutine IOPS", "ratio");
  std::vector<double> ratios;
  for (int r = 0; r < o.rounds; ++r) {
    double cb = run_callback(*t, fd, o);
    double co = run_coroutine(*t, fd, o);
    ratios.push_back(co / cb);
    fmt::print("{:>5} {:>14.0f} {:>14.0f} {:>8.3f}\n", r + 1, cb, co, co / cb);
  }
  std::sort(ratios.begin(), ratios.end());
  fmt::print("median coroutine/callback: {:.3f} (target >= 0.95)\n", ratios[ratios.size() / 2]);
  ::close(fd);
  return 0;
}
