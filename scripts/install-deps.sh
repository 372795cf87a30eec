#!/usr/bin/env bash
# Installs the Debian 12 packages chalk needs to build and test, and only
# those that are missing. Safe to run again. Needs root (or sudo).
#   build:  g++ cmake libopenblas-openmp-dev zlib1g-dev libcli11-dev nlohmann-json3-dev
#   tests:  libgtest-dev librapidcheck-dev (property tests)   benchmarks: libbenchmark-dev
#   demos:  libplplot-dev pkg-config — the charts (plot/) use PLplot's C++ API, found with
#           pkg-config (plplot-c++); its svg driver (plplot5.15.0/drivers/svg.so) comes with
#           libplplot17, which libplplot-dev depends on.
#           graphviz — its `dot` program draws the autograd graph (core/graph_dot.h, demo 02,
#           plot/graphviz.h); a program run at draw time, not a library chalk links.
#   build speed: ccache — CMakeLists.txt compiles through it when it is installed, so that the
#           suite's own second builds (the student edition, the break-its' copy) take seconds.
# Optional, not installed here: python3-torch (PyTorch 1.13) for the reference
# values script and the side-by-side benchmarks (scripts/make_reference.py, bench/*.sh).
#   --with-torch  adds python3-torch python3-numpy
#   --with-fuzz   adds clang, libclang-rt-14-dev (libFuzzer, sanitizers) and libomp-14-dev
#                 (OpenMP for clang): the preset "fuzz" and scripts/fuzz.sh
#   --with-fashion-mnist  adds dataset-fashion-mnist: the full Fashion-MNIST (70,000 images) in
#                 /usr/share/datasets/fashion-mnist/, which `chalk-train --dataset fashion-mnist`
#                 finds by itself. Optional because nothing the default build, tests or demos run
#                 needs it (they use MNIST, and --dataset fashion-mnist falls back to the 7,000
#                 images shipped in data/fashion-mnist-subset/), and it is a 30.9 MB download
#                 (30 MB installed): more than cmake and libopenblas-openmp-dev together (13.7 MB).
# The default build uses g++ and needs none of these.
set -euo pipefail
packages=(g++ cmake make libopenblas-openmp-dev zlib1g-dev libcli11-dev nlohmann-json3-dev
          libgtest-dev librapidcheck-dev libbenchmark-dev
          libplplot-dev pkg-config   # PLplot: the demos' SVG charts (plot/)
          graphviz                   # dot: the autograd graph's picture (plot/graphviz.cpp)
          ccache)                    # the suite's second builds (student edition, break-its) reuse the first's objects
for opt in "$@"; do
  case "$opt" in
    --with-torch) packages+=(python3-torch python3-numpy) ;;
    --with-fuzz) packages+=(clang libclang-rt-14-dev libomp-14-dev) ;;
    --with-fashion-mnist) packages+=(dataset-fashion-mnist) ;;
    *) echo "install-deps: unknown option $opt (known: --with-torch --with-fuzz --with-fashion-mnist)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
