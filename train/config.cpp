// train/config.cpp — TrainConfig: the loss's defaults, the checks, and config.json (train/config.h).
#include "train/config.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <type_traits>
#include <variant>
#include <nlohmann/json.hpp>

#include "core/shape.h"
#include "core/error.h"
#include "io/mnist.h"
#include "nn/models.h"
#include "train/config_v1.h"

namespace chalk {

using json = nlohmann::json;

void TrainConfig::resolve() {
  nn::find_model(model);                               // throws, listing the known models
  const TrainingDefaults& d = find_loss(loss).defaults;  // throws, listing the known losses
  if (emb_dim < 0) emb_dim = d.emb_dim;
  if (emb_dim == 0 && !d.logits_output)
    fail("--emb-dim: the ", loss, " loss needs an embedding size >= 1 (0 means 'the model outputs the C logits' "
         "and is only for losses without a head of their own, e.g. --loss softmax)");
  if (optimizer.empty()) optimizer = d.optimizer;
  if (lr == -1) lr = optimizer == "sgd" ? d.sgd_lr : d.adam_lr;  // -1: the loss's default
  loss_options.values = resolve_options(find_loss(loss), loss_options.values);
  check();
  // A --data folder that is where chalk finds a data set holds that one: it names the run when
  // --dataset is not given, and contradicts any other --dataset.
  const std::string of_folder = data_dir.empty() ? "" : dataset_of_folder(data_dir);
  if (dataset.empty()) dataset = of_folder.empty() ? "mnist" : of_folder;
  const Dataset& ds = find_dataset(dataset);  // throws, listing the known data sets
  if (!of_folder.empty() && of_folder != dataset)
    fail("--dataset ", dataset, ": --data ", data_dir, " is where chalk finds ", find_dataset(of_folder).display_name,
         " (", of_folder, "), not ", ds.display_name, "; pass --dataset ", of_folder, ", or a folder of ",
         ds.display_name, "'s files");
  loss_options.num_classes = ds.num_classes();
  loss_options.emb_dim = emb_dim;
  loss_options.seed = seed;
}

void TrainConfig::check() const {
  if (optimizer != "sgd" && optimizer != "adam" && optimizer != "adamw")
    fail("--optimizer: expected sgd, adam or adamw, got '", optimizer, "'");
  if (!(lr > 0) || !std::isfinite(lr)) fail("--lr: expected a positive, finite learning rate, got ", lr);
  if (warmup_steps < -1) fail("--warmup-steps: expected >= 0 (or -1, the loss's default), got ", warmup_steps);
  if (schedule != "constant" && schedule != "step" && schedule != "cosine")
    fail("--schedule: expected constant, step or cosine, got '", schedule, "'");
  if (epochs < 1) fail("--epochs: expected >= 1, got ", epochs);
  if (batch_size < 2) fail("--batch-size: expected >= 2, got ", batch_size);
  if (samples_per_class < 1) fail("--samples-per-class: expected >= 1, got ", samples_per_class);
  if (threads < 0) fail("--threads: expected >= 0 (0: adaptive), got ", threads);
}

std::int64_t TrainConfig::resolved_warmup_steps(std::int64_t steps_per_epoch) const {
  if (warmup_steps >= 0) return warmup_steps;
  double epochs_of_warmup = 0;
  try {
    epochs_of_warmup = find_loss(loss).defaults.warmup_epochs;
  } catch (const Error& e) {  // a Trainer built from a loss of its own, named in no registry
    fail("warmup_steps -1 means the loss's default warm-up, and '", loss, "' is no registry loss to take it from (",
         e.what(), "); set warmup_steps (0: none)");
  }
  const std::int64_t total = checked_mul(steps_per_epoch, epochs, "--epochs", "the run's steps, steps per epoch x epochs =");
  return std::min(static_cast<std::int64_t>(std::llround(epochs_of_warmup * steps_per_epoch)), total / 2);
}

namespace {

// The one list of the fields a run's configuration saves (config.json, and the checkpoint's
// metadata): to_json and from_json both walk it, so a new option is one line here. The loss's
// options are not here: they are the loss's own (its table, losses/options.h).
template <class Config, class F>
void config_fields(Config& c, F&& f) {
  f("model", c.model), f("loss", c.loss), f("emb_dim", c.emb_dim), f("optimizer", c.optimizer), f("lr", c.lr);
  f("momentum", c.momentum), f("nesterov", c.nesterov), f("weight_decay", c.weight_decay);
  f("schedule", c.schedule), f("warmup_steps", c.warmup_steps), f("epochs", c.epochs);
  f("batch_size", c.batch_size), f("samples_per_class", c.samples_per_class), f("seed", c.seed);
  f("threads", c.threads), f("data_dir", c.data_dir), f("limit_train", c.limit_train);
}

// The loss named `loss` in the registry; nullptr for a loss a program built itself (then its
// options are read as they are: only the loss can check them).
const LossEntry* registry_entry(const std::string& loss) {
  for (const LossEntry& e : loss_registry())
    if (e.name == loss) return &e;
  return nullptr;
}

// config.json's "loss_options" of a run of `loss`: each key an option of the loss, its value of
// the option's kind (check_option_value).
std::map<std::string, OptionValue> read_loss_options(const std::string& loss, const json& given) {
  const LossEntry* entry = registry_entry(loss);
  const json options = is_v1_loss_options(given) ? loss_options_of_v1(given, entry) : given;
  std::map<std::string, OptionValue> out;
  for (const auto& [key, value] : options.items()) {
    const std::string what = "config: field 'loss_options." + key + "'";
    OptionValue v;
    if (value.is_boolean()) v = value.get<bool>();
    else if (value.is_number_integer()) v = value.get<std::int64_t>();
    else if (value.is_number()) v = value.get<double>();
    else if (value.is_string()) v = value.get<std::string>();
    else fail(what, " is ", value.dump(), ", not a number, a string or true/false");
    if (entry) {
      const OptionSpec* spec = find_option(*entry, key);
      if (!spec) fail(what, ": the ", loss, " loss has no option '", key, "' (", describe_option_names(entry->options), ")");
      v = check_option_value(*spec, v, what);
    }
    out[key] = std::move(v);
  }
  return out;
}

}  // namespace

std::string TrainConfig::to_json() const {
  json j, o;
  config_fields(*this, [&](const char* name, const auto& v) { j[name] = v; });
  j["dataset"] = dataset;
  j["hflip"] = hflip;
  o = json::object();
  for (const auto& [name, value] : loss_options.values) std::visit([&, &name = name](const auto& v) { o[name] = v; }, value);
  j["loss_options"] = o;
  return j.dump();
}

TrainConfig TrainConfig::from_json(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    fail("config: not valid JSON: ", e.what());
  }
  if (!j.is_object()) fail("config: expected a JSON object, got ", j.type_name());
  TrainConfig c;
  auto read = [](const json& from, const char* group) {
    return [&from, group](const char* name, auto& v) {
      if (!from.contains(name)) fail("config: missing field '", group, name, "'");
      try {
        from.at(name).get_to(v);
      } catch (const std::exception& e) {
        fail("config: field '", group, name, "' is ", from.at(name).dump(), ", not a ",
             std::is_same_v<std::decay_t<decltype(v)>, std::string> ? "string" : "number of the right kind", " (",
             e.what(), ")");
      }
    };
  };
  config_fields(c, read(j, ""));
  // "dataset" is read apart from the other fields: configurations written before chalk knew more
  // than one data set have none, and those runs were trained on MNIST.
  if (j.contains("dataset")) read(j, "")("dataset", c.dataset);
  else c.dataset = "mnist";
  // "hflip" likewise: configurations written before chalk had augmentation trained without it.
  if (j.contains("hflip")) read(j, "")("hflip", c.hflip);
  if (!j.contains("loss_options") || !j.at("loss_options").is_object()) fail("config: missing field 'loss_options'");
  c.loss_options.values = read_loss_options(c.loss, j.at("loss_options"));
  return c;
}

std::unique_ptr<nn::Optimizer> make_optimizer(const TrainConfig& config, std::vector<Tensor> params) {
  if (config.optimizer == "sgd") {
    nn::SGDOptions o;
    o.lr = config.lr;
    o.momentum = config.momentum;
    o.nesterov = config.nesterov;
    o.weight_decay = config.weight_decay;
    return std::make_unique<nn::SGD>(params, o);
  }
  nn::AdamOptions o;
  o.lr = config.lr;
  o.weight_decay = config.weight_decay;
  if (config.optimizer == "adam") return std::make_unique<nn::Adam>(params, o);
  if (config.optimizer == "adamw") return std::make_unique<nn::AdamW>(params, o);
  fail("make_optimizer: unknown optimizer '", config.optimizer, "' (expected sgd, adam or adamw)");
}

}  // namespace chalk
