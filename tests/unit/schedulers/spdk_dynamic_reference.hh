#pragma once
#include "sim/spdk_dynamic_reference.hh"  // moved to src/sim/ (reactor-sim runs it as spdk-dynamic)
namespace reactor::test { namespace spdk = ::reactor::sim::spdk; }
