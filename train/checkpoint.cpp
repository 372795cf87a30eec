// train/checkpoint.cpp — saving, loading and resuming a run, and scoring a saved one (train/checkpoint.h).
#include "train/checkpoint.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>
#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "core/checks.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "nn/schedule.h"
#include "train/parts.h"
#include "train/sampler.h"

namespace chalk {

using json = nlohmann::json;

void save_checkpoint(const std::string& path, const nn::Module& model, const nn::Module& loss,
                     const nn::Optimizer& optimizer, const TrainConfig& config, const CheckpointState& state) {
  TensorMap tensors;
  for (auto& [n, t] : model.named_parameters()) tensors["model." + n] = t.detach();
  for (auto& [n, t] : model.named_buffers()) tensors["model." + n] = t.detach();
  for (auto& [n, t] : loss.named_parameters()) tensors["loss." + n] = t.detach();
  for (auto& [n, t] : loss.named_buffers()) tensors["loss." + n] = t.detach();
  for (auto& [n, t] : optimizer.state()) tensors["optim." + n] = t.detach();
  json history = json::array();
  for (const EpochMetrics& m : state.history) history.push_back(json::parse(m.to_json()));
  Metadata meta = {{"format", "chalk checkpoint v1"},
                   {"epochs_done", std::to_string(state.epochs_done)},
                   {"global_step", std::to_string(state.global_step)},
                   {"first_embedding_norm", json(state.first_embedding_norm).dump()},
                   {"config", config.to_json()},
                   {"metrics", history.dump()}};
  save_safetensors(path, tensors, meta);
}

namespace {

// Every model and loss tensor a checkpoint must hold, under its name in the file.
std::vector<std::pair<std::string, Tensor>> checkpoint_targets(const nn::Module& model, const nn::Module& loss) {
  std::vector<std::pair<std::string, Tensor>> targets;
  for (auto& [n, t] : model.named_parameters()) targets.emplace_back("model." + n, t);
  for (auto& [n, t] : model.named_buffers()) targets.emplace_back("model." + n, t);
  for (auto& [n, t] : loss.named_parameters()) targets.emplace_back("loss." + n, t);
  for (auto& [n, t] : loss.named_buffers()) targets.emplace_back("loss." + n, t);
  return targets;
}

// The file's model and loss tensors match the targets exactly: the same names, shapes and
// dtypes, nothing more, and finite values.
void check_tensors_match(const std::string& path, const SafetensorsFile& file,
                         const std::vector<std::pair<std::string, Tensor>>& targets) {
  TensorMap only;
  for (auto& [n, t] : file.tensors)
    if (n.rfind("optim.", 0) != 0) only[n] = t;
  for (auto& [name, target] : targets) {
    auto it = only.find(name);
    if (it == only.end()) fail(path, ": checkpoint has no tensor '", name, "' (does it come from another model or loss?)");
    if (it->second.shape() != target.shape() || it->second.dtype() != target.dtype())
      fail(path, ": tensor '", name, "' is ", dtype_name(it->second.dtype()), " ", shape_str(it->second.shape()),
           " in the file, the model expects ", dtype_name(target.dtype()), " ", shape_str(target.shape()));
    if (is_floating(it->second.dtype())) check_finite(it->second, str_cat("tensor '", name, "'").c_str(), path.c_str());
    only.erase(it);
  }
  if (!only.empty()) fail(path, ": checkpoint has a tensor '", only.begin()->first, "' the model does not have");
}

// A metadata field that holds a whole number >= 0 ("epochs_done", "global_step").
std::int64_t read_count(const std::string& path, const Metadata& metadata, const char* key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) fail(path, ": checkpoint metadata has no '", key, "'");
  const std::string& text = it->second;
  std::int64_t v = -1;
  try {
    std::size_t used = 0;
    v = std::stoll(text, &used);
    if (used != text.size()) v = -1;
  } catch (const std::exception&) {
    v = -1;
  }
  if (v < 0) fail(path, ": checkpoint metadata '", key, "' is \"", text, "\", not a whole number >= 0");
  return v;
}

// The metadata besides the configuration: counts, the first norm, the history.
CheckpointState read_state(const std::string& path, const Metadata& metadata) {
  CheckpointState state;
  state.global_step = read_count(path, metadata, "global_step");
  if (auto f = metadata.find("first_embedding_norm"); f != metadata.end()) {  // absent before it existed
    double v = -1;
    try {
      const json j = json::parse(f->second);
      if (j.is_number()) v = j.get<double>();
    } catch (const std::exception&) {
    }
    if (!(v >= 0) || !std::isfinite(v))
      fail(path, ": checkpoint metadata 'first_embedding_norm' is \"", f->second, "\", not a number >= 0");
    state.first_embedding_norm = v;
  }
  state.epochs_done = static_cast<int>(read_count(path, metadata, "epochs_done"));
  auto it = metadata.find("metrics");
  if (it != metadata.end()) {  // checkpoints before the metrics history have none
    try {
      for (const json& m : json::parse(it->second)) state.history.push_back(EpochMetrics::from_json(m.dump()));
    } catch (const std::exception& e) {
      fail(path, ": checkpoint metadata 'metrics' is not the list of epoch metrics chalk writes: ", e.what());
    }
  }
  return state;
}

}  // namespace

CheckpointState load_checkpoint(const std::string& path, nn::Module& model, nn::Module& loss, nn::Optimizer& optimizer) {
  const std::vector<std::pair<std::string, Tensor>> targets = checkpoint_targets(model, loss);
  const SafetensorsFile file = load_safetensors(path);
  // Everything is checked before anything is overwritten: tensors, metadata, optimizer state.
  check_tensors_match(path, file, targets);
  const CheckpointState state = read_state(path, file.metadata);
  nn::NamedTensors optim;
  for (auto& [n, t] : file.tensors)
    if (n.rfind("optim.", 0) == 0) optim.emplace_back(n.substr(6), t);
  optimizer.load_state(optim);
  for (auto& [name, target] : targets) {
    const Tensor& src = file.tensors.at(name);
    std::copy(static_cast<const char*>(src.impl()->storage->data),
              static_cast<const char*>(src.impl()->storage->data) + src.numel() * dtype_size(src.dtype()),
              static_cast<char*>(target.impl()->storage->data));
    increment_version(target);  // overwritten in place: a graph that saved it is now stale
  }
  return state;
}

TrainConfig checkpoint_config(const std::string& path) {
  SafetensorsFile file;
  try {
    file = load_safetensors(path);
  } catch (const Error& e) {
    fail(path, " is not a chalk checkpoint (not a readable safetensors file): ", e.what());
  }
  auto it = file.metadata.find("config");
  if (it == file.metadata.end()) fail(path, ": not a chalk checkpoint (no 'config' in its metadata)");
  try {
    return TrainConfig::from_json(it->second);
  } catch (const Error& e) {
    fail(path, ": checkpoint metadata 'config': ", e.what());
  }
}

TrainConfig resume_config(const TrainConfig& stored, const TrainConfig& given,
                          const std::vector<std::string>& given_flags) {
  // What may change on resume: the length (--epochs extends), the threads, the progress bar and
  // the folder. Every other flag given must agree with the run's stored configuration.
  TrainConfig merged = stored;
  merged.out_dir = given.out_dir;
  merged.progress = given.progress;
  merged.threads = given.threads;
  const json want = json::parse(given.to_json()), have = json::parse(stored.to_json());
  for (const std::string& flag : given_flags) {
    if (flag == "--epochs") {
      merged.epochs = given.epochs;
      continue;
    }
    std::string key = flag.substr(flag.find_first_not_of('-'));
    std::replace(key.begin(), key.end(), '-', '_');
    if (key == "data") key = "data_dir";
    // A loss option the stored run has no value for took a default its loss chose (null here).
    const json none;
    const json* a = nullptr;
    const json* b = nullptr;
    if (have.contains(key)) a = &have.at(key), b = &want.at(key);
    else if (want.at("loss_options").contains(key)) {
      const json& stored_options = have.at("loss_options");
      a = stored_options.contains(key) ? &stored_options.at(key) : &none;
      b = &want.at("loss_options").at(key);
    }
    if (!a) continue;  // not part of the run's configuration (--threads, --quiet, --out, ...)
    const bool same = a->is_number() && b->is_number() ? a->get<double>() == b->get<double>() : *a == *b;
    if (!same)
      fail(flag, " ", b->dump(), " contradicts the run being resumed, which has ", key, " = ",
           a->is_null() ? std::string("its loss's own default") : a->dump(),
           " (a resumed run keeps its configuration: drop ", flag, ", or start a new run with another --out)");
  }
  return merged;
}

namespace {

// The data set a checkpoint is evaluated on: `dataset` if named, else the one whose folder
// data_dir is, else (a folder chalk does not know, or none) the one it was trained on. Another
// one than that is an error unless allow_other (then a warning in the log).
const Dataset& evaluation_dataset(const std::string& path, const Dataset& trained_on, const std::string& data_dir,
                                  const std::string& dataset, bool allow_other, std::ostream& log) {
  std::string wanted = dataset.empty() && !data_dir.empty() ? dataset_of_folder(data_dir) : dataset;
  if (wanted.empty()) wanted = trained_on.name;
  const Dataset& given = find_dataset(wanted);
  if (given.name == trained_on.name) return given;
  if (!allow_other)
    fail(path, " was trained on ", trained_on.display_name, " (", trained_on.name, ") but would be evaluated on ",
         given.display_name, " (", given.name, data_dir.empty() ? "" : ", --data " + data_dir,
         "): its test metrics would score a model on classes it never learned. Evaluate it with --dataset ",
         trained_on.name, ", or pass --allow-other-dataset to score it anyway");
  log << "warning: " << path << " was trained on " << trained_on.display_name << ", evaluated here on "
      << given.display_name << " (--allow-other-dataset): a label number names a different class in each, "
      << "so the metrics below do not measure what it learned\n";
  return given;
}

// The learning rate of the checkpoint's last step (not the optimizer's initial one): its own
// metrics say it (EpochMetrics::lr is the rate of the epoch's last step). A checkpoint written
// before chalk kept that history gets the schedule's value, exact unless it ended in a warm-up
// (of trained_warmup steps; the schedule here has none).
double last_step_lr(const TrainerParts& parts, const CheckpointState& state, std::int64_t trained_warmup,
                    std::ostream& log) {
  if (!state.history.empty()) return state.history.back().lr;
  const TrainConfig& c = parts.config;
  const Sampler sampler(parts.data.train.labels, parts.data.num_classes(), parts.loss->wants_pk_batches(),
                        c.batch_size, c.samples_per_class, c.seed);
  const nn::LRSchedule schedule = nn::make_schedule(c.schedule, c.lr, sampler.num_batches() * c.epochs, 0);
  if (trained_warmup > 0 && state.global_step <= trained_warmup)
    log << "note: the checkpoint has no metrics history and ended in its warm-up: the lr below ignores the warm-up\n";
  return schedule.lr_at(std::max<std::int64_t>(state.global_step - 1, 0));
}

}  // namespace

Evaluation evaluate_checkpoint(const std::string& path, const std::string& data_dir, std::ostream& log,
                                 const std::string& dataset, bool allow_other_dataset) {
  TrainConfig cfg = checkpoint_config(path);
  const Dataset& trained_on = [&]() -> const Dataset& {  // "mnist" for a checkpoint that records none
    try {
      return find_dataset(cfg.dataset);
    } catch (const Error& e) {
      fail(path, ": the checkpoint was trained on a data set this chalk does not know: ", e.what());
    }
  }();
  cfg.dataset = evaluation_dataset(path, trained_on, data_dir, dataset, allow_other_dataset, log).name;
  cfg.data_dir = data_dir;
  cfg.out_dir.clear();
  // Evaluation takes no step, so the run's warm-up need not fit this data: a run's warm-up on
  // full MNIST can be longer than a whole epoch of the shipped subset, and the Trainer would
  // refuse it.
  const std::int64_t trained_warmup = cfg.warmup_steps;
  cfg.warmup_steps = 0;
  TrainerParts parts = make_trainer_parts(cfg);
  std::vector<Tensor> params = parts.model->parameters();
  for (auto& p : parts.loss->parameters()) params.push_back(p);
  const std::unique_ptr<nn::Optimizer> optimizer = make_optimizer(parts.config, std::move(params));
  const CheckpointState state = load_checkpoint(path, *parts.model, *parts.loss, *optimizer);
  // The loss as the run's last step left it: SphereFace anneals its lambda with the step (the
  // run's own last evaluation saw that lambda, not the initial one).
  parts.loss->set_iteration(std::max<std::int64_t>(state.global_step - 1, 0));
  log << "checkpoint " << path << ": " << cfg.model << " + " << cfg.loss << ", " << state.epochs_done
      << " epoch(s) on " << trained_on.display_name << "\n"
      << "loss: " << parts.loss->name() << "; options: " << option_values_str(parts.config.loss_options) << "\n"
      << "data: " << parts.data.description << "\n";
  if (state.epochs_done < 1) fail(path, ": the checkpoint has no trained epoch (epochs_done = ", state.epochs_done, ")");
  Evaluation ev = evaluate(*parts.model, *parts.loss, parts.data, parts.flat_input, parts.config.seed);
  ev.metrics.epoch = state.epochs_done;
  ev.metrics.lr = last_step_lr(parts, state, trained_warmup, log);
  print_metrics(log, ev.metrics, /*trained=*/false);
  return ev;
}

}  // namespace chalk
