// train/config_v1.cpp — config.json's earlier "loss_options" (train/config_v1.h). The bag's keys
// are frozen here, and named nowhere else in train/ (tests/test_architecture.cpp checks it).
#include "train/config_v1.h"

#include <map>
#include <string>

namespace chalk {

namespace {

using json = nlohmann::json;

// Each key of the bag, with the value that meant "the loss's default" (null: none did).
const std::map<std::string, json>& v1_keys() {
  static const std::map<std::string, json> keys = {
      {"margin", -1},          {"scale", -1},           {"normalize", -1},      {"reduction", ""},
      {"mining", nullptr},     {"distance", nullptr},   {"soft_margin", nullptr}, {"centroids", nullptr},
      {"label_smoothing", nullptr}, {"sphere_m", nullptr}, {"easy_margin", nullptr}, {"m1", nullptr},
      {"m2", nullptr},         {"m3", nullptr}};
  return keys;
}

}  // namespace

bool is_v1_loss_options(const json& loss_options) {
  if (!loss_options.is_object()) return false;
  for (const auto& [key, unset] : v1_keys())
    if (!loss_options.contains(key)) return false;
  return true;
}

json loss_options_of_v1(const json& loss_options, const LossEntry* loss) {
  json out = json::object();
  for (const auto& [key, value] : loss_options.items()) {
    auto it = v1_keys().find(key);
    if (it != v1_keys().end() && !it->second.is_null() && value == it->second) continue;  // -1 == -1.0 too
    if (loss && it != v1_keys().end() && !find_option(*loss, key)) continue;
    out[key] = value;
  }
  return out;
}

}  // namespace chalk
