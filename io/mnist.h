// io/mnist.h — the MNIST files: where they are and how a split is read.
//
//   auto where = chalk::locate_mnist(data_flag);     // --data DIR, else full, else shipped subset
//   std::cout << "data: " << where.description << "\n";
//   chalk::MnistSplit train = chalk::load_mnist(where.dir, /*train=*/true);
//
// Images stay as bytes in memory (47 MB for the full training set); train/batches.h turns the
// images of one batch into a normalised float tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace chalk {

// ---- MNIST ----

struct MnistSplit {
  std::vector<std::uint8_t> images;  // n * rows * cols pixels, 0..255, image after image
  std::vector<std::int64_t> labels;  // n labels, 0..9
  std::int64_t n = 0, rows = 0, cols = 0;
};

// Load the training (train-*) or test (t10k-*) split from `dir`, which holds
// the standard file names, each raw or with .gz appended:
//   train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte
// Throws chalk::Error naming the file if one is missing or damaged (io/idx.h), or readable but
// not usable: no images, images that are not 28 x 28, a label outside 0..9, or a label count
// that differs from the image count.
MnistSplit load_mnist(const std::string& dir, bool train);

// Where the MNIST files are, and why that folder was chosen.
enum class MnistSource {
  Given,   // the folder the user asked for (--data DIR)
  Full,    // data/mnist-full: the full 70,000 images (scripts/fetch-mnist.sh)
  Subset,  // data/mnist-subset: the 7,000 images shipped with chalk
};
struct MnistLocation {
  std::string dir;
  MnistSource source = MnistSource::Subset;
  std::string description;  // one line for the program to print
};

// Pick the data folder: `data_dir` if not empty (it must hold all four files),
// else <data>/mnist-full if all four files are there, else the shipped
// <data>/mnist-subset. <data> is `data_root` if given, else CHALK_DATA_DIR
// (set by CMake to the repository's data/ folder).
MnistLocation locate_mnist(const std::string& data_dir = "", const std::string& data_root = "");

// The folder of the 7,000-image subset shipped in the repository (<data>/mnist-subset, <data> as
// above): what the demos train on unless given --data.
std::string mnist_subset_dir();

// True if `dir` holds the four MNIST files (each raw or .gz).
bool has_mnist_files(const std::string& dir);

}  // namespace chalk
