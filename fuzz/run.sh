#!/bin/sh
# Runs each libFuzzer target of fuzz/ in turn, one at a time (the targets
# are single-process), with its seed corpus from the repository.
#
#   fuzz/run.sh BUILD_DIR [SECONDS] [RUNS] [TARGET...]
#
# BUILD_DIR was configured with -DAHTTP_BUILD_FUZZ=ON and clang (`make fuzz`
# does that). The targets are the ones fuzz/CMakeLists.txt registers, read
# with their -max_len from BUILD_DIR/fuzz/targets.txt, or only the TARGETs
# named. Each runs for SECONDS (default 60) or, when RUNS is given and not
# 0, for exactly RUNS executions; fuzz/TARGET.dict, if there is one, is its
# libFuzzer dictionary. New corpus entries and any crashing input go to a
# fresh temporary directory, never into the repository; the directory is
# printed and kept. Exits non-zero as soon as a target finds a failure.
set -eu

usage="usage: fuzz/run.sh BUILD_DIR [SECONDS] [RUNS] [TARGET...]"
build=${1:?$usage}
seconds=${2:-60}
runs=${3:-0}
shift $(($# < 3 ? $# : 3))
here=$(cd "$(dirname "$0")" && pwd)
list=$build/fuzz/targets.txt
if [ ! -r "$list" ]; then
  echo "fuzz: $list is missing (configure BUILD_DIR with cmake first)" >&2
  exit 2
fi
for name in "$@"; do
  if ! grep -q "^$name " "$list"; then
    echo "fuzz: $name is not a registered target (see $list)" >&2
    exit 2
  fi
done
work=$(mktemp -d /tmp/ahttp-fuzz-XXXXXX)
echo "fuzz: new corpus entries and crashes go to $work"

while read -r target max_len; do
  if [ $# -gt 0 ]; then
    case " $* " in
      *" $target "*) ;;
      *) continue ;;
    esac
  fi
  bin=$build/fuzz/fuzz_$target
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is missing (configure with -DAHTTP_BUILD_FUZZ=ON)" >&2
    exit 2
  fi
  mkdir -p "$work/$target"
  if [ "$runs" != 0 ]; then
    limit="-runs=$runs"
  else
    limit="-max_total_time=$seconds"
  fi
  dict=
  if [ -f "$here/$target.dict" ]; then
    dict="-dict=$here/$target.dict"
  fi
  echo "fuzz: $target: $bin $limit -max_len=$max_len $dict"
  # The first directory receives new entries; the repository's is read
  # only. stdin is the target list, so the fuzzer gets /dev/null.
  if ! "$bin" "$limit" -max_len="$max_len" ${dict:+"$dict"} \
      -print_final_stats=1 -artifact_prefix="$work/$target-" \
      "$work/$target" "$here/corpus/$target" \
      </dev/null >"$work/$target.log" 2>&1; then
    tail -n 40 "$work/$target.log" >&2
    echo "fuzz: $target FAILED; the input is in $work/$target-*" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units)' "$work/$target.log" || true
done <"$list"
echo "fuzz: all targets passed; logs in $work"
