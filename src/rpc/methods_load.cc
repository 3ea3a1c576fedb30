// Synthetic load threads: the scheduler test-app methods (rpc-compat.md §3.12)
// scheduler_thread_create / scheduler_thread_set_active / scheduler_thread_delete.
//
// A load thread at N % owns one timed poller, named after the thread, period
// 100 ms, that busy-waits N ms and reports busy; at 0 % it owns no poller at
// all. Unlike SPDK's test app there is no always-on active poller spinning
// 10 µs per call (rpc-compat.md, first section): such a poller would keep its
// reactor awake forever, so an idle load thread could never let its core
// sleep. On a polling reactor the thread's idle passes between two runs make
// busy/(busy+idle) come out near N %, as in SPDK.
//
// Replies come from the load thread itself, after its poller changes took
// effect: create answers once the poller is registered (the thread is live
// and listed), set_active once the old poller is gone and the new one
// registered, delete once exit() has been called. The registry (thread id ->
// LoadThread) lives on the control thread; the poller id in each LoadThread
// is touched only by messages running on that load thread.
//
// Decoders are strict (unknown keys, null, wrong types: -32602 "Invalid
// parameters provided: ..."); a range or mask problem is -22 "Invalid
// argument: ..."; an id that is not a live load thread is -2 "No such file or
// directory: ...". The SPDK texts start each message, the detail follows.

#include <chrono>
#include <utility>

#include <fmt/format.h>

#include "rpc/methods.hh"
#include "rpc/methods_internal.hh"
#include "rpc/params.hh"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace reactor::rpc {

using json = nlohmann::json;
using methods_detail::with_detail;

namespace {

constexpr int kEinval = -22;  // SPDK answers the negative errno as the code
constexpr int kEnoent = -2;
constexpr std::string_view kInvalidParams = "Invalid parameters provided";
constexpr std::string_view kInvalidArgument = "Invalid argument";
constexpr std::string_view kNoSuchThread = "No such file or directory";
// What the load methods accept, named in their type errors.
constexpr std::string_view kActiveAccepts = "a percentage 0-100";
constexpr std::string_view kThreadIdAccepts = "a thread id (an integer from 1, as scheduler_thread_create returned)";

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

// The busy poller: busy-waits active% of the 100 ms period, reports busy.
PollerFn make_burner(uint64_t active) {
  const auto busy = std::chrono::microseconds(active * kLoadPollerPeriodUs / 100);
  return [busy] {
    const auto end = std::chrono::steady_clock::now() + busy;
    while (std::chrono::steady_clock::now() < end) cpu_relax();
    return PollStatus::Busy;
  };
}

}  // namespace

struct ControlPlane::LoadThread {
  ThreadRef ref;
  std::optional<PollerId> poller;  // on-thread only

  // On the load thread: replaces the busy poller for `active` %.
  Result<void> apply(uint64_t active) {
    LwThread* self = current_thread();
    if (poller) {
      (void)self->unregister_poller(*poller);
      poller.reset();
    }
    if (active == 0) return {};
    auto id = self->register_poller(self->name(), make_burner(active),
                                    std::chrono::microseconds(kLoadPollerPeriodUs));
    if (!id) return tl::unexpected(id.error());
    poller = *id;
    return {};
  }
};

std::shared_ptr<ControlPlane::LoadThread> ControlPlane::find_load(uint64_t id) {
  const auto it = loads_.find(id);
  if (it == loads_.end()) return nullptr;
  if (it->second->ref->state() != ThreadState::Running) {  // exited behind our back (pool stop)
    loads_.erase(it);
    return nullptr;
  }
  return it->second;
}

void ControlPlane::load_create(const json* params, RpcResponder r) {
  std::optional<uint64_t> active;
  std::optional<std::string> name;
  std::optional<std::string> mask_text;
  auto ok = decode_object(params,
                          {field("active", active, Presence::required, kActiveAccepts), field("name", name),
                           field("cpu_mask", mask_text)},
                          Decoding::strict, Presence::required);
  if (!ok) return r.error(error_code::invalid_params, with_detail(kInvalidParams, ok.error()));
  if (*active > 100)
    return r.error(kEinval, fmt::format("{}: 'active' must be a percentage 0-100, got {}", kInvalidArgument, *active));
  if (name && name->size() > kMaxNameBytes)
    return r.error(error_code::invalid_params, fmt::format("{}: 'name' is {} bytes, at most {}", kInvalidParams,
                                                           name->size(), kMaxNameBytes));
  ReactorPool& pool = runtime_->pool();
  CpuSet mask = pool.cores();
  if (mask_text) {
    auto parsed = CpuSet::parse(*mask_text);
    if (!parsed) return r.error(kEinval, fmt::format("{}: cpu_mask: {}", kInvalidArgument, parsed.error().message));
    if (parsed->empty()) return r.error(kEinval, fmt::format("{}: cpu_mask '{}' names no core", kInvalidArgument, *mask_text));
    if (!parsed->is_subset_of(pool.cores()))
      return r.error(kEinval, fmt::format("{}: cpu_mask '{}' (cores [{}]) is not inside the reactor cores [{}]",
                                          kInvalidArgument, *mask_text, parsed->to_list(), pool.cores().to_list()));
    mask = *parsed;
  }

  auto load = std::make_shared<LoadThread>();
  // Shared so that the control thread can still answer if spawn() fails (the
  // init task, which would have answered, is destroyed inside spawn then).
  auto reply = std::make_shared<RpcResponder>(std::move(r));
  ThreadOptions options;
  options.name = name.value_or("");
  options.cpumask = mask;
  const uint64_t pct = *active;
  auto spawned = pool.spawn(std::move(options), [load, reply, pct] {
    if (auto applied = load->apply(pct); !applied) {
      reply->error(error_code::internal_error,
                   fmt::format("Internal error: cannot register the load poller: {}", applied.error().message));
      current_thread()->exit();
      return;
    }
    reply->result(current_thread()->id().value);
  });
  if (!spawned) {
    reply->error(error_code::internal_error,
                 fmt::format("Internal error: cannot create the load thread: {}", spawned.error().message));
    return;
  }
  load->ref = *spawned;
  loads_[spawned->id().value] = std::move(load);
}

void ControlPlane::load_set_active(const json* params, RpcResponder r) {
  std::optional<uint64_t> id;
  std::optional<uint64_t> active;
  auto ok = decode_object(params,
                          {field("thread_id", id, Presence::required, kThreadIdAccepts), field("active", active, Presence::required, kActiveAccepts)},
                          Decoding::strict, Presence::required);
  if (!ok) return r.error(error_code::invalid_params, with_detail(kInvalidParams, ok.error()));
  if (*active > 100)
    return r.error(kEinval, fmt::format("{}: 'active' must be a percentage 0-100, got {}", kInvalidArgument, *active));
  auto load = find_load(*id);
  if (!load)
    return r.error(kEnoent, fmt::format("{}: no load thread with id {} (only threads made by "
                                        "scheduler_thread_create can be changed)",
                                        kNoSuchThread, *id));
  auto reply = std::make_shared<RpcResponder>(std::move(r));
  const uint64_t pct = *active;
  auto sent = load->ref.send([load, reply, pct] {
    if (auto applied = load->apply(pct); !applied)
      reply->error(error_code::internal_error,
                   fmt::format("Internal error: cannot register the load poller: {}", applied.error().message));
    else
      reply->result(true);
  });
  if (!sent) {
    if (sent.error().code == Errc::exited)
      reply->error(kEnoent, fmt::format("{}: load thread {} is exiting", kNoSuchThread, *id));
    else
      reply->error(error_code::internal_error,
                   fmt::format("Internal error: cannot reach load thread {}: {}", *id, sent.error().message));
  }
}

void ControlPlane::load_delete(const json* params, RpcResponder r) {
  std::optional<uint64_t> id;
  auto ok = decode_object(params, {field("thread_id", id, Presence::required, kThreadIdAccepts)}, Decoding::strict, Presence::required);
  if (!ok) return r.error(error_code::invalid_params, with_detail(kInvalidParams, ok.error()));
  auto load = find_load(*id);
  if (!load)
    return r.error(kEnoent, fmt::format("{}: no load thread with id {} (only threads made by "
                                        "scheduler_thread_create can be deleted)",
                                        kNoSuchThread, *id));
  auto reply = std::make_shared<RpcResponder>(std::move(r));
  auto sent = load->ref.send([reply] {
    current_thread()->exit();  // unregisters the poller; the thread leaves once its ring is empty
    reply->result(true);
  });
  if (!sent) {
    if (sent.error().code == Errc::exited) {
      reply->error(kEnoent, fmt::format("{}: load thread {} is exiting", kNoSuchThread, *id));
    } else {
      reply->error(error_code::internal_error,
                   fmt::format("Internal error: cannot reach load thread {}: {}", *id, sent.error().message));
      return;  // still alive: keep it registered
    }
  }
  loads_.erase(*id);
}

}  // namespace reactor::rpc
