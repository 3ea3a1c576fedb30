// USDT probes: the probe table documented in README.md ("Tracing") and the
// probes in the ELF notes of the built libreactor (`readelf -n`) are the same
// set, each with provider `reactor` and the documented number of arguments.

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

struct Probe {
  std::string provider;
  size_t args = 0;
  int count = 0;  // probe sites (one macro may be inlined into several)
};

// "Provider: P\n    Name: N\n    Location: ...\n    Arguments: A B C" per note.
std::map<std::string, Probe> probes_in_elf(const std::string& lib) {
  const std::string text = run("readelf -n '" + lib + "' 2>&1");
  std::map<std::string, Probe> out;
  std::istringstream in(text);
  std::string line;
  std::string provider;
  std::string name;
  const std::regex kv(R"(^\s*(Provider|Name|Arguments):\s*(.*)$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, kv)) continue;
    if (m[1] == "Provider") {
      provider = m[2];
    } else if (m[1] == "Name") {
      name = m[2];
    } else {
      Probe& p = out[name];
      p.provider = provider;
      std::istringstream a(m[2].str());
      std::string arg;
      size_t n = 0;
      while (a >> arg) ++n;
      p.args = n;
      ++p.count;
    }
  }
  return out;
}

// Rows "| `reactor:NAME` | arg, arg (notes, ...), arg | ... |" of README.md.
std::map<std::string, size_t> probes_in_readme(const std::string& readme) {
  std::ifstream f(readme);
  std::map<std::string, size_t> out;
  std::string line;
  const std::regex row(R"(^\|\s*`reactor:([a-z_]+)`\s*\|([^|]*)\|)");
  std::smatch m;
  while (std::getline(f, line)) {
    if (!std::regex_search(line, m, row)) continue;
    // Drop parenthesised notes, then count the comma-separated arguments.
    std::string args = std::regex_replace(m[2].str(), std::regex(R"(\([^)]*\))"), "");
    size_t n = 1;
    for (char c : args)
      if (c == ',') ++n;
    out[m[1]] = n;
  }
  return out;
}

TEST(UsdtProbes, EveryDocumentedProbeIsInTheLibraryAndNothingElse) {
  const auto documented = probes_in_readme(REACTOR_README);
  // The README's table is the contract: an empty parse is a broken test.
  ASSERT_GE(documented.size(), 9u) << "no probe table found in " << REACTOR_README;
  const auto elf = probes_in_elf(REACTOR_LIB);
  ASSERT_FALSE(elf.empty()) << "readelf -n found no stapsdt notes in " << REACTOR_LIB;
  for (const auto& [name, nargs] : documented) {
    SCOPED_TRACE(name);
    auto it = elf.find(name);
    ASSERT_NE(it, elf.end()) << "documented probe reactor:" << name << " is not in " << REACTOR_LIB;
    EXPECT_EQ(it->second.provider, "reactor");
    EXPECT_EQ(it->second.args, nargs) << "README documents " << nargs << " arguments";
    EXPECT_GE(it->second.count, 1);
  }
  for (const auto& [name, p] : elf)
    EXPECT_TRUE(documented.count(name)) << "probe " << p.provider << ":" << name << " is not documented in README.md";
}

TEST(UsdtProbes, TheCoreProbesOfTheIssueAreDocumented) {
  const auto documented = probes_in_readme(REACTOR_README);
  for (const char* name : {"thread_move", "switch_begin", "switch_end", "round", "reactor_sleep", "reactor_wake",
                           "stall", "io_submit", "io_complete"})
    EXPECT_TRUE(documented.count(name)) << name;
}

}  // namespace
