#pragma once
// Runtime events (arrivals, move requests, calls) travel in an unbounded
// intrusive MPSC queue, never in a bounded ring that user messages can fill.
// Producers: any OS thread (one atomic exchange). Consumer: the driving thread.

#include <atomic>
#include <memory>

#include <reactor/reactor.hh>
#include <reactor/thread.hh>

namespace reactor::detail {

struct ReactorEvent {
  enum class Kind { Arrive, Move, Call };
  explicit ReactorEvent(Kind k) : kind(k) {}
  Kind kind;
  std::atomic<ReactorEvent*> next{nullptr};
  std::shared_ptr<LwThread> thread;  // Arrive, Move
  CoreId to;                         // Move
  const char* cause = "request";     // Move: who asked (a literal), for the thread_move probe
  MoveTicket ack;                    // Arrive (from a move), Move
  Closure call;                         // Call: runs on the reactor, no current thread
};

/// Vyukov-style intrusive MPSC queue with a stub node.
struct EventQueue {
  EventQueue() = default;
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;
  ~EventQueue() {
    while (ReactorEvent* e = pop()) delete e;
  }

  void push(ReactorEvent* n) noexcept {
    n->next.store(nullptr, std::memory_order_relaxed);
    ReactorEvent* prev = head.exchange(n, std::memory_order_acq_rel);
    prev->next.store(n, std::memory_order_release);
  }

  /// Consumer only. May return nullptr while a producer is between its two
  /// steps; empty() then stays false, so the consumer does not sleep on it.
  ReactorEvent* pop() noexcept {
    ReactorEvent* t = tail;
    ReactorEvent* next = t->next.load(std::memory_order_acquire);
    if (t == &stub) {
      if (next == nullptr) return nullptr;
      tail = next;
      t = next;
      next = next->next.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail = next;
      return t;
    }
    if (t != head.load(std::memory_order_acquire)) return nullptr;
    push(&stub);
    next = t->next.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail = next;
      return t;
    }
    return nullptr;
  }

  /// Consumer only.
  bool empty() const noexcept {
    return head.load(std::memory_order_acquire) == tail && tail->next.load(std::memory_order_acquire) == nullptr;
  }

  ReactorEvent stub{ReactorEvent::Kind::Call};
  std::atomic<ReactorEvent*> head{&stub};
  ReactorEvent* tail = &stub;
};

}  // namespace reactor::detail
