"""Regenerates the golden fixtures from llama.cpp (run by hand; outputs are committed data).

  python3 scripts/golden/make_golden.py --llama-golden PATH --perplexity PATH --model SMOLLM2.gguf

Needs the harness built from llama_golden.cpp against the llama.cpp build that
scripts/build-llama-cpp.sh makes (static libraries, OpenMP):

  L=~/.cache/agora/llama.cpp; g++ -O2 -std=c++17 scripts/golden/llama_golden.cpp -I$L/include -I$L/ggml/include \
    $L/build/src/libllama.a $L/build/ggml/src/libggml.a $L/build/ggml/src/libggml-cpu.a \
    $L/build/ggml/src/libggml-base.a -fopenmp -lpthread -o /tmp/llama_golden

and the `gguf` Python package to write vocabulary variants. `--only-synthetic` redoes the logits
of the synthetic models alone (needs neither --perplexity nor a real --model's other outputs).
"""
import argparse, json, os, re, subprocess, sys, tempfile
sys.path.insert(0, os.path.dirname(__file__))
import corpus

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "AgoraEngineTests", "Fixtures")


def records(texts):
    out = bytearray()
    for t in texts:
        b = t.encode("utf-8")
        out += f"{len(b)}\n".encode() + b + b"\n"
    return bytes(out)


def run(harness, mode, model, texts, *extra):
    p = subprocess.run([harness, mode, model, *extra], input=records(texts), capture_output=True, check=True)
    return p.stdout.decode().split("\n")


def ids(line):
    return [int(x) for x in line.split()] if line.strip() else []


def vocab_variant(src, dst, pre):
    """A vocabulary-only copy of src with another tokenizer.ggml.pre (same tokens and merges)."""
    import gguf
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, "llama")
    for k, f in r.fields.items():
        if k.startswith("GGUF.") or k == "general.architecture":
            continue
        v = f.contents()
        if k == "tokenizer.ggml.pre":
            v = pre
        vt = f.types[0]
        if vt == gguf.GGUFValueType.ARRAY:
            w.add_key_value(k, v, vt, sub_type=f.types[-1])
        else:
            w.add_key_value(k, v, vt)
    w.write_header_to_file(); w.write_kv_data_to_file(); w.close()


SYNTH_PROMPTS = ["Hello world, the Agora network", "<|im_start|>user\nhi<|im_end|>\n"]
SYNTH_CASES = [("llama", t, False) for t in ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
                                             "q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs"]] + \
              [("qwen2", "f16", True), ("qwen2", "q4_k", True), ("llama", "q8_0", True)]
# Several types in one file, as llama-quantize's Q4_K_M mixes them (`agora model synth --mixed`).
SYNTH_MIXED = [("llama", "q4_k", True), ("qwen2", "q4_k", True)]
# Further architectures and options: (arch, type, separate output, extra synth flags).
SYNTH_ARCHS = [("qwen3", "q8_0", False, []), ("qwen3", "f16", True, []), ("llama", "f16", False, ["--rope-scaling"]),
               ("phi3", "q4_0", False, []), ("phi3", "f16", True, []),
               ("gemma2", "f16", False, []), ("gemma2", "q8_0", False, []), ("gemma3", "f16", True, []), ("gemma3", "q4_k", False, []),
               # Mistral 7B and TinyLlama as llama.cpp reads them: llama blocks, a SentencePiece vocabulary.
               ("llama", "q4_k", True, ["--sentence-piece"])]


def synthetic_logits(args):
    """Logits of llama.cpp on the synthetic models that `agora model synth` writes."""
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        variants = [c + ([],) for c in SYNTH_CASES] + [c + (["--mixed"],) for c in SYNTH_MIXED] + SYNTH_ARCHS
        for n, (arch, ttype, separate, flags) in enumerate(variants):
            path = os.path.join(tmp, f"{n}-{arch}-{ttype}.gguf")
            cmd = [args.agora, "model", "synth", "--arch", arch, "--type", ttype, "--seed", "7", "--out", path] + flags
            if separate:
                cmd.append("--separate-output")
            subprocess.run(cmd, check=True, capture_output=True)
            lines = run(args.llama_golden, "logits", path, SYNTH_PROMPTS)
            greedy = run(args.llama_golden, "greedy", path, SYNTH_PROMPTS[:1], "12")
            cases.append({"arch": arch, "type": ttype, "separate_output": separate, "mixed": "--mixed" in flags,
                          "rope_scaling": "--rope-scaling" in flags, "sentence_piece": "--sentence-piece" in flags, "seed": 7,
                          "greedy": ids(greedy[0]), "greedy_gaps": [float(x) for x in greedy[1].split()],
                          "prompts": SYNTH_PROMPTS,
                          "logits": [[float(x) for x in lines[i].split()] for i in range(len(SYNTH_PROMPTS))]})
    json.dump({"cases": cases}, open(os.path.join(FIXTURES, "synthetic-logits.json"), "w"))


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--llama-golden", required=True)
    a.add_argument("--perplexity")
    a.add_argument("--model")
    a.add_argument("--agora", default=".build/release/agora")
    a.add_argument("--only-synthetic", action="store_true", help="regenerate synthetic-logits.json alone")
    args = a.parse_args()
    if args.only_synthetic:
        return synthetic_logits(args)
    if not args.perplexity or not args.model:
        a.error("--perplexity and --model are needed unless --only-synthetic")
    texts = corpus.corpus()

    lines = run(args.llama_golden, "tokenize", args.model, texts)
    json.dump({"model": "smollm2", "cases": [{"text": t, "ids": ids(l)} for t, l in zip(texts, lines)]},
              open(os.path.join(FIXTURES, "tokenizer-smollm2.json"), "w"), ensure_ascii=False)

    with tempfile.TemporaryDirectory() as tmp:
        for pre in ["gpt-2", "llama-bpe", "qwen2"]:
            path = os.path.join(tmp, pre + ".gguf")
            vocab_variant(args.model, path, pre)
            subset = texts[:800]
            lines = run(args.llama_golden, "tokenize", path, subset)
            json.dump({"pre": pre, "cases": [{"text": t, "ids": ids(l)} for t, l in zip(subset, lines)]},
                      open(os.path.join(FIXTURES, f"tokenizer-pre-{pre}.json"), "w"), ensure_ascii=False)

    # SentencePiece with byte fallback, on the synthetic SentencePiece vocabulary.
    with tempfile.TemporaryDirectory() as tmp:
        spm = os.path.join(tmp, "spm.gguf")
        subprocess.run([args.agora, "model", "synth", "--sentence-piece", "--out", spm], check=True, capture_output=True)
        subset = texts[:800]
        lines = run(args.llama_golden, "tokenize", spm, subset)
        json.dump({"cases": [{"text": t, "ids": ids(l)} for t, l in zip(subset, lines)]},
                  open(os.path.join(FIXTURES, "tokenizer-spm.json"), "w"), ensure_ascii=False)

    prompts = json.load(open(os.path.join(FIXTURES, "greedy-prompts.json")))

    def greedy(model, flash_attention):
        os.environ["LLAMA_GOLDEN_FA"] = flash_attention
        lines = run(args.llama_golden, "greedy", model, prompts, "48")
        return [(ids(lines[2 * i]), [float(x) for x in lines[2 * i + 1].split()]) for i in range(len(prompts))]

    # llama.cpp's two attention paths (flash attention on and off) on the Q4_1 file: their own
    # disagreement measures how sensitive greedy decoding of this model is to rounding.
    on, off = greedy(args.model, "1"), greedy(args.model, "0")
    cases = [{"prompt": p, "ids": a[0], "gaps": a[1], "ids_alt": b[0], "gaps_alt": b[1]} for p, a, b in zip(prompts, on, off)]
    json.dump({"model": "smollm2", "max_tokens": 48, "cases": cases},
              open(os.path.join(FIXTURES, "greedy-smollm2.json"), "w"), ensure_ascii=False, indent=0)

    # The same model with every matrix widened to F32 by `agora model convert` (exact): no activation
    # quantization, so both implementations agree to about 0.02 in the logits.
    with tempfile.TemporaryDirectory() as tmp:
        f32 = os.path.join(tmp, "smollm2-f32.gguf")
        subprocess.run([args.agora, "model", "convert", "-m", args.model, "--type", "f32", "--out", f32], check=True, capture_output=True)
        exact = greedy(f32, "0")
    cases = [{"prompt": p, "ids": a[0], "gaps": a[1]} for p, a in zip(prompts, exact)]
    json.dump({"model": "smollm2-f32", "max_tokens": 48, "cases": cases},
              open(os.path.join(FIXTURES, "greedy-smollm2-f32.json"), "w"), ensure_ascii=False, indent=0)

    synthetic_logits(args)

    text = os.path.join(FIXTURES, "perplexity.txt")
    p = subprocess.run([args.perplexity, "-m", args.model, "-f", text, "-c", "256", "-b", "256", "-t", "2"],
                       capture_output=True, text=True, check=True)
    m = re.search(r"Final estimate: PPL = ([0-9.]+)", p.stdout + p.stderr)
    json.dump({"model": "smollm2", "context": 256, "ppl": float(m.group(1))},
              open(os.path.join(FIXTURES, "perplexity-smollm2.json"), "w"))
    print("ppl", m.group(1))


if __name__ == "__main__":
    main()
