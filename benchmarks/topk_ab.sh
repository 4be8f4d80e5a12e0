#!/usr/bin/env bash
# Build and run benchmarks/topk_ab.cu: times the indexer top-k launcher under several forced
# configurations in one process (topk_force's arguments), with only the CUDA toolkit (no torch,
# no vLLM: runs on a bare GPU host in seconds).
#
#   bash benchmarks/topk_ab.sh SHAPES [ROUNDS] SPEC...
#   bash benchmarks/topk_ab.sh 64x4096,256x4096,2048x8192c 3 base=2,0,512,0,1,-1,0 \
#       scan=2,0,512,0,1,-1,1 auto=auto
#   bash benchmarks/topk_ab.sh 1x4096,64x4096 5 auto=auto floor=floor empty=empty
# (floor / empty: what any op costs in this harness, topk_ab.cu says how; 4096-column decodes)
#
# TREES="old=/path/to/topk new=csrc/topk" times other source trees of csrc/topk too: one binary
# per tree, run alternately (ROUNDS rounds of each; every binary gets the same SPECs).
# Binaries go to build/topk_ab/ and are rebuilt when a source is newer (or REBUILD=1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then sed -n 2,14p "$0"; exit 2; fi
NVCC=${NVCC:-nvcc}
command -v "$NVCC" > /dev/null || { echo "topk_ab: nvcc not found (set NVCC)" >&2; exit 2; }
ARCH=${TOPK_AB_ARCH:-90a}
mkdir -p build/topk_ab
build() {  # build NAME TREE
  local bin=build/topk_ab/$1 tree=$2
  if [ -n "${REBUILD:-}" ] || [ ! -x "$bin" ] || \
     [ -n "$(find "$tree" benchmarks/topk_ab.cu -newer "$bin" -print -quit)" ]; then
    echo "topk_ab: building $bin from $tree (sm_$ARCH)" >&2
    "$NVCC" -std=c++17 -O3 -DNDEBUG --expt-relaxed-constexpr \
      "-gencode=arch=compute_$ARCH,code=sm_$ARCH" -I "$tree" \
      benchmarks/topk_ab.cu "$tree/topk_kernels.cu" -o "$bin"
  fi
}
shapes=$1
shift
rounds=3
if [[ "$1" != *=* ]]; then rounds=$1; shift; fi
if [ -z "${TREES:-}" ]; then
  build topk_ab csrc/topk
  exec build/topk_ab/topk_ab "$shapes" "$rounds" "$@"
fi
names=()
for t in $TREES; do
  names+=("${t%%=*}")
  build "${t%%=*}" "${t#*=}" &
done
wait
for r in $(seq "$rounds"); do
  for nm in "${names[@]}"; do
    echo "## tree $nm, round $r"
    build/topk_ab/"$nm" "$shapes" 1 "$@"
  done
done
