#!/bin/sh
# Runs each libFuzzer target of fuzz/ in turn, one at a time (the targets
# are single-process), with its seed corpus from the repository.
#
#   fuzz/run.sh BUILD_DIR [SECONDS] [RUNS]
#
# BUILD_DIR was configured with -DAHTTP_BUILD_FUZZ=ON and clang (`make fuzz`
# does that). Each target runs for SECONDS (default 60) or, when RUNS is
# given and not 0, for exactly RUNS executions. New corpus entries and any
# crashing input go to a fresh temporary directory, never into the
# repository; the directory is printed and kept. Exits non-zero as soon as
# a target finds a failure.
set -eu

build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS] [RUNS]}
seconds=${2:-60}
runs=${3:-0}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/ahttp-fuzz-XXXXXX)
echo "fuzz: new corpus entries and crashes go to $work"

for target in h1_response h1_body h1_extra_headers; do
  bin=$build/fuzz/fuzz_$target
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is missing (configure with -DAHTTP_BUILD_FUZZ=ON)" >&2
    exit 2
  fi
  case $target in
    h1_extra_headers) max_len=4096 ;;
    *) max_len=8192 ;;
  esac
  mkdir -p "$work/$target"
  if [ "$runs" != 0 ]; then
    limit="-runs=$runs"
  else
    limit="-max_total_time=$seconds"
  fi
  echo "fuzz: $target: $bin $limit -max_len=$max_len"
  # The first directory receives new entries; the repository's is read only.
  if ! "$bin" "$limit" -max_len="$max_len" -print_final_stats=1 \
      -artifact_prefix="$work/$target-" "$work/$target" \
      "$here/corpus/$target" >"$work/$target.log" 2>&1; then
    tail -n 40 "$work/$target.log" >&2
    echo "fuzz: $target FAILED; the input is in $work/$target-*" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units)' "$work/$target.log" || true
done
echo "fuzz: all targets passed; logs in $work"
