// chalk-eval — load a chalk-train checkpoint and report its test metrics.
//
//   chalk-eval runs/arc/checkpoint.safetensors [--dataset NAME] [--data DIR] [--threads N]
//              [--save-embeddings FILE.npy]
//
// Evaluates on the data set the checkpoint was trained on (its config's "dataset"; MNIST for a
// checkpoint that records none), found as chalk-train finds it. Another data set (--dataset, or a
// --data folder where chalk finds another one) is an error unless --allow-other-dataset.
//
// --save-embeddings writes the test set's embeddings as retrieval compared them (the loss's
// metric embedding: L2-normalised for the losses that normalise) with their labels, as one NumPy
// .npy file (io/npy.h).
//
// Exit status: 0 success, 1 error (not a chalk checkpoint, bad data, ...), 2 bad flags.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "core/gemm.h"
#include "core/error.h"
#include "io/mnist.h"
#include "core/parallel.h"
#include "io/npy.h"
#include "train/checkpoint.h"

int main(int argc, char** argv) {
  chalk::use_best_blas_kernels(argc, argv);  // OpenBLAS's fast kernels on CPUs it does not know (core/gemm.h)
  std::string path, data, dataset, save_embeddings;
  bool allow_other_dataset = false;
  int threads = 0;
  CLI::App app{"chalk-eval: test metrics of a chalk-train checkpoint"};
  app.add_option("checkpoint", path, "checkpoint.safetensors written by chalk-train")->required()->check(CLI::ExistingFile);
  app.add_option("--dataset", dataset, "data set to evaluate on (default: the checkpoint's)")
      ->check(CLI::IsMember(chalk::dataset_names()));
  app.add_option("--data", data, "folder with the four files of MNIST's format (default: the data set's, as chalk-train)")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--allow-other-dataset", allow_other_dataset,
               "evaluate on another data set than the checkpoint was trained on (its metrics then do not measure "
               "what it learned: e.g. to show a class it never saw)");
  app.add_option("--threads", threads, "threads for chalk and BLAS (one shared pool); 0 = adaptive: the cores other processes leave free, re-measured every 0.5 s (core/parallel.h)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--save-embeddings", save_embeddings,
                 "also write the test embeddings retrieval compares (the loss's metric embedding: L2-normalised "
                 "for the losses that normalise) and their labels to FILE, a NumPy .npy file of N records "
                 "(label int64, embedding float32 x D): a = numpy.load(FILE); a['embedding'], a['label']")
      ->type_name("FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    if (threads > 0) chalk::set_num_threads(threads);
    if (!save_embeddings.empty()) {  // before the evaluation's minute on full MNIST, not after it
      const std::filesystem::path folder = std::filesystem::absolute(save_embeddings).parent_path();
      if (!std::filesystem::is_directory(folder))
        chalk::fail("--save-embeddings ", save_embeddings, ": cannot write it: the folder ", folder.string(),
                    " does not exist");
    }
    const chalk::Evaluation ev = chalk::evaluate_checkpoint(path, data, std::cout, dataset, allow_other_dataset);
    if (!save_embeddings.empty()) {
      chalk::save_embeddings_npy(save_embeddings, ev.embeddings, ev.labels);
      std::cout << "embeddings: " << ev.embeddings.shape()[0] << " x " << ev.embeddings.shape()[1] << " written to "
                << save_embeddings << "\n";
    }
    std::cout << ev.metrics.to_json() << "\n";
  } catch (const chalk::Error& e) {
    std::cerr << "chalk-eval: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "chalk-eval: " << path << ": unexpected error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
