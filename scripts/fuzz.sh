#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer) in build-fuzz/ and runs
# each briefly on its seed corpus. A crash, a hang, a sanitizer report or an exception other than
# seqnet::Error fails the script and leaves the reproducer in build-fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
scripts/install-deps.sh
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
      -DSEQNET_FUZZ=ON -DSEQNET_BUILD_TESTS=OFF -DSEQNET_BUILD_BENCH=OFF -DSEQNET_BUILD_CLI=OFF \
      -DSEQNET_BUILD_EXAMPLES=OFF -DSEQNET_WITH_MPI=OFF -DSEQNET_NATIVE=OFF > /dev/null
targets=(fuzz_model_files fuzz_npy fuzz_csv fuzz_idx fuzz_text_files)
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}"

# The seeds are real files: Keras-written models, NumPy-written arrays, CSV and IDX samples.
declare -A seeds=(
  [fuzz_model_files]="tests/fixtures/model_files build-fuzz/seeds/model_json tests/fuzz/corpus/model_json"
  [fuzz_npy]="tests/fixtures/data"
  [fuzz_csv]="tests/fuzz/corpus/csv"
  [fuzz_idx]="tests/fuzz/corpus/idx"
  [fuzz_text_files]="tests/fuzz/corpus/text"
)
mkdir -p build-fuzz/seeds/model_json
rm -rf build-fuzz/artifacts && mkdir -p build-fuzz/artifacts
# Keras JSON configs, gathered from the fixtures rather than kept twice in the repository.
cp tests/fixtures/hybrid_model.json tests/fixtures/imdb_conv1d_model.json build-fuzz/seeds/model_json/
unzip -p tests/fixtures/model_files/gru.keras config.json > build-fuzz/seeds/model_json/gru_config.json

# The innermost frame of a failure's stack that is neither the fuzzer, the sanitizer (its allocator
# interceptors too: an oversized allocation stops in "malloc"), libc nor libstdc++.
innermost_frame() {
  grep -E '^ +#[0-9]+ ' |
    grep -vE 'fuzzer::|__sanitizer|__asan|__interceptor|libc\.so|libstdc\+\+|LLVMFuzzer|asan_' |
    grep -vE ' in (malloc|calloc|realloc|free|aligned_alloc|posix_memalign|operator new|operator delete)' | head -1
}

failed=0
for t in "${targets[@]}"; do
  # New inputs go to a scratch folder first on the command line, never into the repository's seeds.
  work="build-fuzz/corpus/$t"
  mkdir -p "$work"
  echo "fuzz: $t for ${seconds} s"
  # Fork mode keeps going after a failure so that one run sees every kind; each is triaged below.
  # shellcheck disable=SC2086
  ASAN_OPTIONS=detect_leaks=0 build-fuzz/"$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix=build-fuzz/artifacts/"$t"- "$work" ${seeds[$t]} > build-fuzz/"$t".log 2>&1 || true
  grep -E '^#[0-9]+: cov: ' build-fuzz/"$t".log | tail -1 | sed 's/^/  /'
  for a in build-fuzz/artifacts/"$t"-*; do
    [[ -e "$a" ]] || continue
    # Every reproducible crash, hang or out-of-memory fails the run, whoever's code it is in: libhdf5's own
    # failures on damaged files are kept out of the process by reading each image in a child process first
    # (src/io/hdf5_file.cpp), so one here is a hole in that. An artifact that runs clean on its own is reported
    # but does not fail: in fork mode a job's out-of-memory can come from all the inputs it ran before.
    rc=0
    out=$(ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 timeout 120 build-fuzz/"$t" -timeout=20 -rss_limit_mb=2048 "$a" 2>&1) || rc=$?
    frame=$(innermost_frame <<< "$out" || true)
    # What went wrong, in the sanitizer's or libFuzzer's words ("runtime error: 1e+300 is outside the range of
    # representable values of type 'int'"): UBSan prints no stack unless asked, so this may be all there is.
    what=$(grep -m1 -E 'runtime error:|ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|terminate called' <<< "$out" || true)
    if [[ $rc -eq 0 ]]; then
      echo "  not reproducible on its own (reported, not failing): $a"
    else
      echo "  FAILURE (exit $rc) on $a:$(sed 's/(BuildId.*//' <<< "$frame")" >&2
      [[ -z "$what" ]] || echo "    $what" >&2
      failed=1
    fi
  done
done
if [[ $failed -ne 0 ]]; then
  echo "fuzz: failures above; reproduce with build-fuzz/TARGET ARTIFACT" >&2
  exit 1
fi
echo "fuzz: all targets ran clean"
