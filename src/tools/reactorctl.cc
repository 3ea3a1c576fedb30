// reactorctl's main: everything lives in run() (reactorctl_cli.cc) so that
// tests drive the same code in-process.

#include <iostream>

#include "tools/reactorctl_cli.hh"

int main(int argc, char** argv) { return reactor::ctl::run(argc, argv, std::cout, std::cerr); }
