// Golden-data harness over llama.cpp (the independent implementation our tests compare against).
// Built against a local llama.cpp build by make_golden.sh; its outputs are committed as data.
//
//   llama_golden tokenize MODEL < records      one line of token ids per record
//   llama_golden greedy MODEL N < records      per record: generated ids, then the top-2 logit gap per step
//   llama_golden logits MODEL < records        per record: the logits after the last prompt token
//
// Records on stdin: "<byte length>\n<bytes>\n", repeated. Tokenization adds special tokens as the
// model asks and parses special-token text.
#include "llama.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

static bool read_record(std::string &out) {
    size_t n;
    if (scanf("%zu", &n) != 1) return false;
    getchar();
    out.resize(n);
    if (n > 0 && fread(&out[0], 1, n, stdin) != n) return false;
    getchar();
    return true;
}

static std::vector<llama_token> tokenize(const llama_vocab *vocab, const std::string &text) {
    std::vector<llama_token> tokens(text.size() + 16);
    int n = llama_tokenize(vocab, text.data(), (int32_t)text.size(), tokens.data(), (int32_t)tokens.size(), true, true);
    if (n < 0) { tokens.resize(-n); n = llama_tokenize(vocab, text.data(), (int32_t)text.size(), tokens.data(), (int32_t)tokens.size(), true, true); }
    tokens.resize(n);
    return tokens;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: llama_golden tokenize|greedy|logits MODEL [N]\n"); return 2; }
    std::string mode = argv[1];
    llama_backend_init();
    llama_log_set([](ggml_log_level, const char *, void *) {}, nullptr);
    auto mparams = llama_model_default_params();
    mparams.vocab_only = mode == "tokenize";
    llama_model *model = llama_model_load_from_file(argv[2], mparams);
    if (!model) { fprintf(stderr, "cannot load %s\n", argv[2]); return 1; }
    const llama_vocab *vocab = llama_model_get_vocab(model);
    std::string text;
    if (mode == "tokenize") {
        while (read_record(text)) {
            auto tokens = tokenize(vocab, text);
            for (size_t i = 0; i < tokens.size(); i++) printf(i ? " %d" : "%d", tokens[i]);
            printf("\n");
        }
        return 0;
    }
    int n_predict = argc > 3 ? atoi(argv[3]) : 32;
    auto cparams = llama_context_default_params();
    cparams.n_ctx = 2048;
    cparams.n_batch = 2048;
    cparams.n_threads = 1;
    cparams.n_threads_batch = 1;
    // LLAMA_GOLDEN_FA=0/1 forces flash attention off/on (default: llama.cpp's automatic choice).
    if (const char *fa = getenv("LLAMA_GOLDEN_FA")) cparams.flash_attn_type = atoi(fa) ? LLAMA_FLASH_ATTN_TYPE_ENABLED : LLAMA_FLASH_ATTN_TYPE_DISABLED;
    llama_context *ctx = llama_init_from_model(model, cparams);
    const int n_vocab = llama_vocab_n_tokens(vocab);
    while (read_record(text)) {
        llama_memory_clear(llama_get_memory(ctx), true);
        auto tokens = tokenize(vocab, text);
        if (llama_decode(ctx, llama_batch_get_one(tokens.data(), (int32_t)tokens.size()))) { fprintf(stderr, "decode failed\n"); return 1; }
        if (mode == "logits") {
            const float *logits = llama_get_logits_ith(ctx, -1);
            for (int i = 0; i < n_vocab; i++) printf(i ? " %.9g" : "%.9g", logits[i]);
            printf("\n");
            continue;
        }
        std::vector<llama_token> out;
        std::vector<float> gaps;
        for (int step = 0; step < n_predict; step++) {
            const float *logits = llama_get_logits_ith(ctx, -1);
            int best = 0, second = -1;
            for (int i = 1; i < n_vocab; i++) {
                if (logits[i] > logits[best]) { second = best; best = i; }
                else if (second < 0 || logits[i] > logits[second]) second = i;
            }
            out.push_back(best);
            gaps.push_back(logits[best] - logits[second]);
            if (llama_vocab_is_eog(vocab, best)) break;
            llama_token t = best;
            if (llama_decode(ctx, llama_batch_get_one(&t, 1))) { fprintf(stderr, "decode failed\n"); return 1; }
        }
        for (size_t i = 0; i < out.size(); i++) printf(i ? " %d" : "%d", out[i]);
        printf("\n");
        for (size_t i = 0; i < gaps.size(); i++) printf(i ? " %.6g" : "%.6g", gaps[i]);
        printf("\n");
    }
    llama_free(ctx);
    llama_model_free(model);
    return 0;
}
