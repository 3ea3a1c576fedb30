// reactor-sim: the policy lab (see src/sim/sim_cli.hh and README "Policy lab: reactor-sim").
#include <iostream>

#include <reactor/log.hh>

#include "sim/sim_cli.hh"

int main(int argc, char** argv) {
  // Every switch logs at Info; a lab run makes hundreds of them.
  reactor::set_log_level(reactor::LogLevel::Warn);
  return reactor::sim::run_cli(argc, argv, std::cout, std::cerr);
}
