#pragma once
// USDT probes of libreactor (provider `reactor`), for perf, bpftrace and
// SystemTap. Each probe is a single `nop` plus an ELF note (.note.stapsdt)
// naming it and where its arguments live: nothing runs unless a tracer
// attaches, so the macros may sit on the hot path. Arguments must be cheap to
// have at hand (integers already loaded, string literals or c_str() of a
// string that exists anyway): never format text for a probe.
//
// The probe list is documented in README.md ("Tracing"); the test
// usdt_probes_test reads the ELF notes of the built library and checks that
// every documented probe is present. Keep the three in step.
//
// Built without <sys/sdt.h> (-DREACTOR_USDT=OFF) the macros expand to nothing.

#if defined(REACTOR_HAVE_SDT)
#include <sys/sdt.h>
#define REACTOR_PROBE1(name, a) DTRACE_PROBE1(reactor, name, a)
#define REACTOR_PROBE2(name, a, b) DTRACE_PROBE2(reactor, name, a, b)
#define REACTOR_PROBE3(name, a, b, c) DTRACE_PROBE3(reactor, name, a, b, c)
#define REACTOR_PROBE4(name, a, b, c, d) DTRACE_PROBE4(reactor, name, a, b, c, d)
#else
#define REACTOR_PROBE1(name, a) ((void)0)
#define REACTOR_PROBE2(name, a, b) ((void)0)
#define REACTOR_PROBE3(name, a, b, c) ((void)0)
#define REACTOR_PROBE4(name, a, b, c, d) ((void)0)
#endif
