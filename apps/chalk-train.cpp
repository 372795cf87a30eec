// chalk-train — train an MLP or a small CNN on MNIST or Fashion-MNIST with any of chalk's losses.
//
//   chalk-train                                   # MLP + softmax, defaults below
//   chalk-train --model cnn --loss arcface --emb-dim 64 --epochs 5 --out runs/arc
//   chalk-train --out runs/arc --resume           # continue where the run stopped
//   chalk-train --help
//
// Data: --dataset NAME (mnist, the default, or fashion-mnist; io/mnist.h) finds the data set's full
// set (data/mnist-full from scripts/fetch-mnist.sh; /usr/share/datasets/fashion-mnist from Debian's
// dataset-fashion-mnist), else its 7,000-image subset shipped in data/. --data DIR (the four
// files of MNIST's format, raw or .gz) reads another folder.
// Exit status: 0 success, 1 error (bad data, an unreadable or mismatched checkpoint, divergence, ...),
// 2 bad flags (README.md, "chalk-train").
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/gemm.h"
#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/random.h"
#include "io/mnist.h"
#include "losses/loss.h"
#include "nn/models.h"
#include "train/checkpoint.h"
#include "train/run.h"
#include "train/sampler.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  chalk::use_best_blas_kernels(argc, argv);  // OpenBLAS's fast kernels on CPUs it does not know (core/gemm.h)
  chalk::TrainConfig cfg;
  bool resume = false, quiet = false;

  // --loss and --model list every entry of the registries with its own defaults and options
  // (one source: each loss's LossEntry and options table, listed in losses/registry.cpp; nn/models.cpp).
  std::vector<std::string> loss_names, model_names;
  std::string loss_help = "loss function (default " + cfg.loss + "):";
  for (const auto& e : chalk::loss_registry()) {
    loss_names.push_back(e.name);
    loss_help += "\n  " + e.name + ": " + e.description + "\n      defaults: " + chalk::describe_defaults(e.defaults) +
                 "\n      options: " + chalk::describe_options(e);
  }
  std::string model_help = "network (default " + cfg.model + "):";
  for (const auto& e : chalk::nn::model_registry()) {
    model_names.push_back(e.name);
    model_help += "\n  " + e.name + ": " + e.description;
  }

  // a learning rate: > 0 and finite, or -1 (the loss's default)
  const CLI::Validator finite_positive_or_default(
      [](std::string& text) -> std::string {
        double v = 0;
        try {
          std::size_t used = 0;
          v = std::stod(text, &used);
          if (used != text.size()) return "expected a number, got '" + text + "'";
        } catch (const std::exception&) {
          return "expected a number, got '" + text + "'";
        }
        if (v == -1 || (v > 0 && std::isfinite(v))) return "";
        return "expected a positive, finite number (or -1 for the loss's default), got " + text;
      },
      "POSITIVE or -1");
  // a real number: rejects nan and inf (CLI11's ranges let nan through)
  const CLI::Validator finite(
      [](std::string& text) -> std::string {
        try {
          if (std::isfinite(std::stod(text))) return "";
        } catch (const std::exception&) {
        }
        return "expected a finite number, got '" + text + "'";
      },
      "FINITE");
  CLI::App app{"chalk-train: train an embedding (or classifier) on MNIST or Fashion-MNIST with chalk's losses"};
  app.option_defaults()->always_capture_default();
  app.add_option("--model", cfg.model, model_help)->check(CLI::IsMember(model_names));
  app.add_option("--loss", cfg.loss, loss_help)->check(CLI::IsMember(loss_names));
  app.add_option("--emb-dim", cfg.emb_dim,
                 "model output size: the embedding dimension D (default -1: the loss's, see --loss; 0 = output "
                 "the 10 logits directly, for losses without a head)")
      ->check(CLI::Range(-1, 4096));
  app.add_option("--optimizer", cfg.optimizer, "sgd | adam | adamw (default: the loss's, see --loss)")->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  app.add_option("--lr", cfg.lr, "learning rate (default -1: the loss's for the optimizer, see --loss)")
      ->check(finite_positive_or_default);
  app.add_option("--momentum", cfg.momentum, "SGD momentum")->check(CLI::Range(0.0, 1.0))->check(finite);
  app.add_flag("--nesterov", cfg.nesterov, "Nesterov momentum (SGD)");
  app.add_option("--weight-decay", cfg.weight_decay, "weight decay (L2 for sgd/adam, decoupled for adamw)")
      ->check(CLI::NonNegativeNumber)->check(finite);
  app.add_option("--schedule", cfg.schedule, "learning-rate schedule: constant | step | cosine")
      ->check(CLI::IsMember({"constant", "step", "cosine"}));
  app.add_option("--warmup-steps", cfg.warmup_steps, "linear warm-up steps (default -1: the loss's, see --loss; at most half the run)")
      ->check(CLI::Range(std::int64_t{-1}, std::int64_t{1} << 40));
  app.add_option("--epochs", cfg.epochs, "training epochs")->check(CLI::Range(1, 100000));
  app.add_option("--batch-size", cfg.batch_size, "batch size")->check(CLI::Range(2, 65536));
  const std::int64_t mnist_p = chalk::pk_classes_per_batch(10, cfg.batch_size, cfg.samples_per_class);
  app.add_option("--samples-per-class", cfg.samples_per_class,
                 "K of the P x K batches used by the triplet loss (P = min(classes, max(2, batch size / K)): " +
                     std::to_string(mnist_p) + " x " + std::to_string(cfg.samples_per_class) + " on MNIST by default)")
      ->check(CLI::Range(2, 4096));
  app.add_option("--seed", cfg.seed, "random seed (the same seed gives the same numbers, whatever --threads)");
  app.add_option("--threads", cfg.threads, "threads for chalk and BLAS (one shared pool); 0 = adaptive: the cores other processes leave free, re-measured every 0.5 s (core/parallel.h)")
      ->check(CLI::Range(0, 1024));
  std::string dataset_help = "data set (default mnist; a --data folder where chalk finds one of them names it):";
  for (const auto& d : chalk::dataset_registry())
    dataset_help += "\n  " + d.name + ": " + d.display_name + ", full set from " +
                    (d.full_dir.front() == '/' ? d.full_dir : "data/" + d.full_dir) + " (" + d.full_hint +
                    "), else the subset in data/" + d.subset_dir;
  app.add_option("--dataset", cfg.dataset, dataset_help)->check(CLI::IsMember(chalk::dataset_names()));
  app.add_option("--data", cfg.data_dir, "folder with the four files of MNIST's format (raw or .gz), holding the "
                 "--dataset")->check(CLI::ExistingDirectory);
  app.add_option("--out", cfg.out_dir, "output folder: config.json, metrics.jsonl, checkpoint.safetensors");
  app.add_flag("--resume", resume, "continue from --out DIR/checkpoint.safetensors");
  app.add_option("--limit-train", cfg.limit_train, "use only the first N training images (quick runs)")
      ->check(CLI::NonNegativeNumber);
  app.add_flag("--hflip", cfg.hflip, "augmentation: flip each training image left-right with probability 1/2 "
               "(torchvision's RandomHorizontalFlip; for Fashion-MNIST: a mirrored digit is no digit)");
  app.add_flag("--quiet", quiet, "no progress bar");
  bool blas_info = false;
  app.add_flag("--blas-info", blas_info,
               "print the matrix-product library and the kernels it runs (as the log's 'BLAS:' line) and exit; "
               "bench/blas_kernels.sh reads it");
  bool detect_anomaly = false;
  app.add_flag("--detect-anomaly", detect_anomaly,
               "stop at the first op whose forward or backward gives nan/inf, naming it (slow; "
               "chalk::AnomalyGuard, like torch.autograd.detect_anomaly)");
  // Loss options: one flag for each option name of the registry's losses, made from the losses'
  // own tables (losses/options.h). Its help says, for each loss that has it, what it sets there
  // and its default; the text given is read as the chosen loss's option after parsing.
  std::vector<chalk::LossOptionFlag> option_flags;
  try {
    option_flags = chalk::loss_option_flags();
  } catch (const chalk::Error& e) {  // two losses declare one option differently: a programming error
    std::cerr << "chalk-train: " << e.what() << "\n";
    return 1;
  }
  std::map<std::string, std::string> option_text;  // option name -> the text of its flag
  std::map<std::string, bool> option_switch;       // option name -> a switch (--soft-margin) given
  for (const chalk::LossOptionFlag& f : option_flags) {
    const chalk::OptionSpec& kind = *f.takers.front().second;  // every taker's has the same kind
    std::string help;
    for (const auto& [loss, spec] : f.takers)
      help += (help.empty() ? "" : "\n") + loss->name + ": " + spec->help + " (default " + spec->default_str() +
              (spec->is_switch() ? "" : "; " + spec->allowed_str()) + ")";
    if (kind.is_switch()) {
      app.add_flag(kind.flag(), option_switch[f.name], help);
    } else {
      const char* type = kind.type == chalk::OptionType::Real  ? "FLOAT"
                         : kind.type == chalk::OptionType::Int ? "INT"
                         : kind.type == chalk::OptionType::Bool ? "0|1"
                                                                : "TEXT";
      app.add_option(kind.flag(), option_text[f.name], help)->type_name(type);
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    std::cerr << "run 'chalk-train --help' for the flags\n";
    return 2;
  }
  if (blas_info) {  // after use_best_blas_kernels: the kernels a training run would use
    std::cout << chalk::blas_description() << "\n";
    return 0;
  }
  cfg.progress = !quiet;
  // A resumed run keeps the configuration stored in its checkpoint. --resume without --out, or
  // with a folder that holds no checkpoint, is a bad flag (exit 2); a checkpoint that is there
  // but cannot be read (empty, truncated, not chalk's) is bad data, like a bad MNIST file (exit 1).
  chalk::TrainConfig stored;
  if (resume) {
    const std::string ckpt = cfg.out_dir + "/checkpoint.safetensors";
    std::string flag_error;
    if (cfg.out_dir.empty()) flag_error = "--resume needs --out DIR (the folder holding checkpoint.safetensors)";
    else if (!std::filesystem::exists(ckpt))
      flag_error = "--resume: " + ckpt + " does not exist (is --out the folder of the run to continue?)";
    if (!flag_error.empty()) {
      std::cerr << "chalk-train: " << flag_error << "\nrun 'chalk-train --help' for the flags\n";
      return 2;
    }
    try {
      stored = chalk::checkpoint_config(ckpt);
    } catch (const chalk::Error& e) {
      std::cerr << "chalk-train: " << e.what() << "\n";
      return 1;
    }
  }
  // Flag values are checked here, before any data is read: a bad value or combination exits 2.
  try {
    // A resumed run without --loss continues its stored loss: loss options are that loss's.
    if (resume && app.get_option("--loss")->count() == 0) cfg.loss = stored.loss;
    const chalk::LossEntry& loss = chalk::find_loss(cfg.loss);
    for (const chalk::LossOptionFlag& f : option_flags) {
      const chalk::OptionSpec& kind = *f.takers.front().second;
      if (app.get_option(kind.flag())->count() == 0) continue;
      const chalk::OptionSpec& spec = chalk::loss_option(loss, f.name);  // throws: "--mining: the cosface loss has no ..."
      cfg.loss_options.values[f.name] =
          spec.is_switch() ? chalk::OptionValue(true) : chalk::parse_option_text(spec, option_text[f.name], spec.flag());
    }
    if (resume) {
      // Flags given now must agree with the stored configuration (--epochs may extend the run;
      // --threads and --quiet may change).
      std::vector<std::string> given;
      for (const CLI::Option* o : app.get_options())
        if (o->count() > 0 && !o->get_name().empty()) given.push_back(o->get_name());
      chalk::TrainConfig flags = cfg;
      flags.resolve();
      cfg = chalk::resume_config(stored, flags, given);
    }
    cfg.resolve();
  } catch (const chalk::Error& e) {
    std::cerr << "chalk-train: " << e.what() << "\nrun 'chalk-train --help' for the flags\n";
    return 2;
  }
  try {
    std::optional<chalk::AnomalyGuard> anomaly;  // alive for the whole run
    if (detect_anomaly) anomaly.emplace();
    // The process's state is the program's to set, not the Trainer's: the thread count (0 keeps
    // the adaptive default) and the global generator (the Trainer's own draws use generators
    // seeded from cfg.seed; this makes any other draw reproducible too).
    if (cfg.threads > 0) chalk::set_num_threads(cfg.threads);
    chalk::manual_seed(cfg.seed);
    chalk::Trainer trainer(cfg);
    chalk::run_training(trainer, resume, std::cout);
  } catch (const chalk::FlagError& e) {  // a flag the data shows cannot work: a bad flag, exit 2
    std::cerr << "chalk-train: " << e.what() << "\nrun 'chalk-train --help' for the flags\n";
    return 2;
  } catch (const chalk::Error& e) {
    std::cerr << "chalk-train: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "chalk-train: unexpected error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
