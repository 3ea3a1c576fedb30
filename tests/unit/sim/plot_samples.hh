#pragma once
// Test data for the plot tests and the screenshot: heatmaps, charts and a
// report shaped like what reactor-sim and reactor-bench draw. Deterministic
// (a fixed-seed generator), so a picture changes only when the code does.

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sim/plot.hh"

namespace reactor::sim::plot::samples {

/// `cores` x `columns` of 1 s: a diurnal load over the first half of the cores,
/// the upper cores asleep except in bursts, one overloaded core for a while,
/// and a move every `move_every` columns (0: none).
inline Heatmap heatmap(std::size_t cores, std::size_t columns, std::size_t move_every, std::string title) {
  Heatmap m;
  m.title = std::move(title);
  for (std::size_t c = 0; c < cores; ++c) m.cores.push_back(static_cast<uint32_t>(c));
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> noise(-8.0F, 8.0F);
  for (std::size_t t = 0; t < columns; ++t) {
    std::vector<float> busy(cores);
    std::vector<uint8_t> asleep(cores, 0);
    const double day = 0.5 + 0.45 * std::sin(2 * M_PI * static_cast<double>(t) / static_cast<double>(columns));
    for (std::size_t c = 0; c < cores; ++c) {
      const bool upper = c >= cores / 2;
      const bool burst = upper && (t / 37 + c) % 5 == 0;
      if (upper && !burst) {
        asleep[c] = 1;
        busy[c] = 0;
        continue;
      }
      float v = static_cast<float>(100.0 * day * (1.0 - static_cast<double>(c) / static_cast<double>(cores))) + noise(rng);
      if (c == 1 && t > columns / 3 && t < columns / 2) v = 130;  // one core overloaded for a while
      busy[c] = std::max(0.0F, v);
    }
    m.busy_pct.push_back(std::move(busy));
    m.sleeping.push_back(std::move(asleep));
    if (move_every && t % move_every == move_every - 1)
      m.moves.push_back({static_cast<double>(t) + 0.5, static_cast<uint32_t>(t % cores),
                         static_cast<uint32_t>((t * 7 + 3) % cores)});
  }
  return m;
}

/// Three panels over `n` points of `dt` s (CPU per core, queued work,
/// moves), two markers, and a gap (NaN) in the queued-work line.
inline LineChart chart(std::size_t n, double dt, std::string title) {
  LineChart ch;
  ch.title = std::move(title);
  ch.dt_s = dt;
  Panel cpu{"CPU (cores)", {{"polling", {}}, {"sleeping", {}}}};
  Panel queued{"queued work p99 (ms)", {{"p99 delay", {}, Aggregate::max}}};
  Panel moves{"moves per second", {{"moves", {}}}};
  for (std::size_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(i) / static_cast<double>(n);
    cpu.series[0].values.push_back(8 + 6 * std::sin(6.28 * x));
    cpu.series[1].values.push_back(8 - 6 * std::sin(6.28 * x));
    queued.series[0].values.push_back(i > n / 2 && i < n / 2 + n / 20 ? NAN : 2 + 40 * x * x);
    moves.series[0].values.push_back(i % 50 < 4 ? static_cast<double>(4 - i % 50) : 0.0);  // bursts
  }
  ch.panels = {cpu, queued, moves};
  const double end = dt * static_cast<double>(n);
  ch.markers = {{end / 3, "static -> dynamic, stall 1.2 ms"}, {2 * end / 3, "dynamic -> global, stall 0.4 ms"}};
  return ch;
}

}  // namespace reactor::sim::plot::samples
