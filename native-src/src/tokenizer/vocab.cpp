/* Vocabulary loading from GGUF metadata (tokenizer.ggml.*) and the vocabulary getters. */
#include "tokenizer/vocab.h"

#include "common/ffl_internal.h"
#include "gguf/gguf_internal.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab_impl.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <stdexcept>

using namespace ffl_tok;

namespace {

/* A load failure with its status; caught at the C boundary. */
struct LoadError {
    int32_t status;
    std::string message;
};

[[noreturn]] void fail_load(int32_t status, const std::string &message) { throw LoadError{status, message}; }

const ffl_gguf_kv *find_kv(const ffl_gguf *g, const char *key) {
    int64_t i = ffl_gguf_find_key(g, key);
    return i < 0 ? nullptr : &g->kv[i];
}

bool get_bool(const ffl_gguf *g, const char *key, bool *out) {
    const ffl_gguf_kv *kv = find_kv(g, key);
    if (!kv || kv->type == FFL_GGUF_STRING || kv->type == FFL_GGUF_ARRAY) return false;
    if (kv->type == FFL_GGUF_FLOAT32 || kv->type == FFL_GGUF_FLOAT64) *out = kv->num.f64 != 0.0;
    else *out = kv->num.u64 != 0;
    return true;
}

std::string get_string(const ffl_gguf *g, const char *key) {
    const ffl_gguf_kv *kv = find_kv(g, key);
    if (!kv || kv->type != FFL_GGUF_STRING) return std::string();
    return std::string(kv->str.data, kv->str.length);
}

/* Reads a special token id; keeps the default when absent or out of range (as llama.cpp does). */
void read_special(const ffl_gguf *g, const char *key, int32_t n_tokens, int32_t *id) {
    if (*id >= n_tokens) *id = -1;
    const ffl_gguf_kv *kv = find_kv(g, key);
    if (!kv || kv->type == FFL_GGUF_STRING || kv->type == FFL_GGUF_ARRAY || kv->type == FFL_GGUF_FLOAT32 ||
        kv->type == FFL_GGUF_FLOAT64)
        return;
    bool is_signed = kv->type == FFL_GGUF_INT8 || kv->type == FFL_GGUF_INT16 || kv->type == FFL_GGUF_INT32 ||
                     kv->type == FFL_GGUF_INT64;
    /* llama.cpp reads these as uint32, so -1 and 0xFFFFFFFF both mean "out of range". */
    uint64_t v = is_signed ? (uint64_t)(uint32_t)kv->num.i64 : kv->num.u64;
    if (v < (uint64_t)n_tokens) *id = (int32_t)v;
    else FFL_LOGD("tokenizer: %s = %llu is out of range, keeping %d", key, (unsigned long long)v, *id);
}

/* Numeric arrays sit unaligned inside the file image: read elements with memcpy. */
template <typename T> T array_elem(const ffl_gguf_kv *kv, size_t i) {
    T v;
    memcpy(&v, kv->array_data + i * sizeof(T), sizeof(T));
    return v;
}

int32_t attr_of_type(int32_t t) {
    switch (t) {
    case 1: return ATTR_NORMAL;
    case 2: return ATTR_UNKNOWN;
    case 3: return ATTR_CONTROL;
    case 4: return ATTR_USER_DEFINED;
    case 5: return ATTR_UNUSED;
    case 6: return ATTR_BYTE;
    default: return ATTR_UNDEFINED;
    }
}

/* Texts llama.cpp recognises as end-of-generation and special tokens when the metadata is silent. */
const char *const k_eot_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                   "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                   "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
                                   "<end_of_utterance>"};
const char *const k_eom_texts[] = {"<|eom_id|>"};
const char *const k_fim_pre_texts[] = {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                                       "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
                                       "\xe2\x96\x81<PRE>", "<|code_prefix|>"};
const char *const k_fim_suf_texts[] = {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                                       "<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", "<SUF>",
                                       "\xe2\x96\x81<SUF>", "<|code_suffix|>"};
const char *const k_fim_mid_texts[] = {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                                       "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
                                       "\xe2\x96\x81<MID>", "<|code_middle|>"};
const char *const k_fim_pad_texts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>"};
const char *const k_fim_rep_texts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
const char *const k_fim_sep_texts[] = {"<|file_sep|>"};
const char *const k_eog_texts[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
                                   "<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                                   "<|end_of_text|>", "<end_of_utterance>"};

template <size_t N> bool text_in(const std::string &t, const char *const (&list)[N]) {
    for (const char *s : list)
        if (t == s) return true;
    return false;
}

void load(const ffl_gguf *g, ffl_vocab &v) {
    const ffl_gguf_kv *model_kv = find_kv(g, "tokenizer.ggml.model");
    if (!model_kv || model_kv->type != FFL_GGUF_STRING) fail_load(FFL_ERR_FORMAT, "tokenizer: no tokenizer.ggml.model string in the file");
    v.model_name.assign(model_kv->str.data, model_kv->str.length);
    v.pre_name = get_string(g, "tokenizer.ggml.pre");

    PreTokenizerConfig pre_cfg;
    if (v.model_name == "llama") {
        v.type = FFL_VOCAB_SPM;
        v.bos = 1; v.eos = 2; v.unk = 0;
        v.add_space_prefix = true;
        v.add_bos = true;
        v.escape_whitespaces = true;
    } else if (v.model_name == "gpt2") {
        v.type = FFL_VOCAB_BPE;
        v.bos = 11; v.eos = 11;
        if (!pre_tokenizer_config(v.pre_name, &pre_cfg))
            fail_load(FFL_ERR_UNSUPPORTED, "tokenizer: unknown pre-tokenizer '" + v.pre_name + "'");
        v.ignore_merges = pre_cfg.ignore_merges;
        v.add_bos = pre_cfg.add_bos;
        v.add_sep = pre_cfg.add_sep;
        v.clean_spaces = pre_cfg.clean_spaces;
        if (pre_cfg.no_bos) v.bos = -1;
    } else if (v.model_name == "bert") {
        v.type = FFL_VOCAB_WPM;
        v.bos = 101; v.unk = 100; v.sep = 102; v.pad = 0; v.mask = 103;
        v.add_bos = true;
        v.add_sep = true;
        v.clean_spaces = true;
    } else if (v.model_name == "no_vocab" || v.model_name == "none") {
        v.type = FFL_VOCAB_NONE;
    } else {
        fail_load(FFL_ERR_UNSUPPORTED, "tokenizer: unsupported tokenizer model '" + v.model_name + "'");
    }
    get_bool(g, "tokenizer.ggml.add_space_prefix", &v.add_space_prefix);
    get_bool(g, "tokenizer.ggml.remove_extra_whitespaces", &v.remove_extra_whitespaces);

    const ffl_gguf_kv *tokens_kv = find_kv(g, "tokenizer.ggml.tokens");
    if (v.type == FFL_VOCAB_NONE) {
        v.bos = v.eos = v.unk = -1;
        int64_t n = ffl_gguf_get_int_or(g, (std::string(ffl_gguf_get_string_or(g, "general.architecture", "")) + ".vocab_size").c_str(), 0);
        if (n < 0 || n > INT32_MAX) n = 0;
        v.text.resize((size_t)n);
        v.score.assign((size_t)n, 0.0f);
        v.toktype.assign((size_t)n, 0);
        v.attr.assign((size_t)n, ATTR_UNDEFINED);
        v.eog.assign((size_t)n, 0);
        v.piece.resize((size_t)n);
        v.index.build(v.text);
        for (int &b : v.byte_tokens) b = -1;
        return;
    }
    if (!tokens_kv || tokens_kv->type != FFL_GGUF_ARRAY || tokens_kv->array_type != FFL_GGUF_STRING)
        fail_load(FFL_ERR_FORMAT, "tokenizer: no tokenizer.ggml.tokens string array in the file");
    if (tokens_kv->array_count == 0 || tokens_kv->array_count > (uint64_t)INT32_MAX)
        fail_load(FFL_ERR_FORMAT, "tokenizer: tokenizer.ggml.tokens has " + std::to_string(tokens_kv->array_count) + " entries");
    const int32_t n = (int32_t)tokens_kv->array_count;

    const ffl_gguf_kv *scores_kv = find_kv(g, "tokenizer.ggml.scores");
    if (scores_kv && (scores_kv->type != FFL_GGUF_ARRAY ||
                      (scores_kv->array_type != FFL_GGUF_FLOAT32 && scores_kv->array_type != FFL_GGUF_INT32) ||
                      scores_kv->array_count < (uint64_t)n))
        fail_load(FFL_ERR_FORMAT, "tokenizer: tokenizer.ggml.scores must be a float32 or int32 array with one entry per token");
    const ffl_gguf_kv *types_kv = find_kv(g, "tokenizer.ggml.token_type");
    if (types_kv && (types_kv->type != FFL_GGUF_ARRAY || types_kv->array_type != FFL_GGUF_INT32 ||
                     types_kv->array_count < (uint64_t)n))
        fail_load(FFL_ERR_FORMAT, "tokenizer: tokenizer.ggml.token_type must be an int32 array with one entry per token");

    v.text.resize((size_t)n);
    v.score.resize((size_t)n);
    v.toktype.resize((size_t)n);
    v.attr.resize((size_t)n);
    for (int32_t i = 0; i < n; ++i) {
        const ffl_gguf_str &s = tokens_kv->array_strings[i];
        if (s.length == 0) v.text[(size_t)i] = "[EMPTY_" + std::to_string(i) + "]";
        else v.text[(size_t)i].assign(s.data, s.length);
        v.max_token_len = std::max(v.max_token_len, v.text[(size_t)i].size());
        if (!scores_kv) v.score[(size_t)i] = 0.0f;
        else if (scores_kv->array_type == FFL_GGUF_FLOAT32) v.score[(size_t)i] = array_elem<float>(scores_kv, (size_t)i);
        else v.score[(size_t)i] = (float)array_elem<int32_t>(scores_kv, (size_t)i);
        v.toktype[(size_t)i] = types_kv ? array_elem<int32_t>(types_kv, (size_t)i) : 1;
        v.attr[(size_t)i] = types_kv ? attr_of_type(v.toktype[(size_t)i]) : ATTR_NORMAL;
    }
    v.index.build(v.text);

    if (v.type == FFL_VOCAB_SPM) {
        v.spm_split_safe = true;
        for (const std::string &t : v.text) {
            /* Unsafe: a U+2581 that follows anything but another U+2581 inside a token. */
            for (size_t p = t.find("\xe2\x96\x81", 1); p != std::string::npos; p = t.find("\xe2\x96\x81", p + 1)) {
                if (p < 3 || t.compare(p - 3, 3, "\xe2\x96\x81") != 0) {
                    v.spm_split_safe = false;
                    break;
                }
            }
            if (!v.spm_split_safe) break;
        }
    }

    if (v.type == FFL_VOCAB_BPE) {
        const ffl_gguf_kv *merges_kv = find_kv(g, "tokenizer.ggml.merges");
        if (!merges_kv || merges_kv->type != FFL_GGUF_ARRAY || merges_kv->array_type != FFL_GGUF_STRING)
            fail_load(FFL_ERR_FORMAT, "tokenizer: no tokenizer.ggml.merges string array in the file");
        for (uint64_t i = 0; i < merges_kv->array_count; ++i) {
            std::string m(merges_kv->array_strings[i].data, merges_kv->array_strings[i].length);
            size_t sp = m.find(' ', 1);
            if (sp == std::string::npos) v.merges.add(std::string(), std::string());
            else v.merges.add(m.substr(0, sp), m.substr(sp + 1));
        }
        v.merges.build();
        try {
            v.pre.reset(new PreTokenizer(pre_cfg.patterns));
        } catch (const std::runtime_error &e) {
            fail_load(FFL_ERR_INTERNAL, std::string("tokenizer: pre-tokenizer '") + v.pre_name + "': " + e.what());
        }
    }

    /* Byte fallback tokens: "<0xXX>" (SPM) or the byte's GPT-2 codepoint (BPE). */
    for (int b = 0; b < 256; ++b) {
        int32_t id = -1;
        if (v.type == FFL_VOCAB_SPM) {
            char buf[8];
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            id = v.find(buf, 6);
            if (id < 0) {
                char c = (char)b;
                id = v.find(&c, 1);
            }
        } else if (v.type == FFL_VOCAB_BPE || v.type == FFL_VOCAB_WPM) {
            const std::string &u = byte_to_unicode((uint8_t)b);
            id = v.find(u.data(), u.size());
        }
        v.byte_tokens[b] = id;
    }

    struct { const char *key; int32_t *id; } specials[] = {
        {"tokenizer.ggml.bos_token_id", &v.bos},         {"tokenizer.ggml.eos_token_id", &v.eos},
        {"tokenizer.ggml.eot_token_id", &v.eot},         {"tokenizer.ggml.eom_token_id", &v.eom},
        {"tokenizer.ggml.unknown_token_id", &v.unk},     {"tokenizer.ggml.seperator_token_id", &v.sep},
        {"tokenizer.ggml.padding_token_id", &v.pad},     {"tokenizer.ggml.mask_token_id", &v.mask},
        {"tokenizer.ggml.cls_token_id", &v.cls},
        {"tokenizer.ggml.fim_pre_token_id", &v.fim_pre}, {"tokenizer.ggml.fim_suf_token_id", &v.fim_suf},
        {"tokenizer.ggml.fim_mid_token_id", &v.fim_mid}, {"tokenizer.ggml.fim_pad_token_id", &v.fim_pad},
        {"tokenizer.ggml.fim_rep_token_id", &v.fim_rep}, {"tokenizer.ggml.fim_sep_token_id", &v.fim_sep},
        {"tokenizer.ggml.prefix_token_id", &v.fim_pre},  {"tokenizer.ggml.suffix_token_id", &v.fim_suf},
        {"tokenizer.ggml.middle_token_id", &v.fim_mid},
    };
    for (auto &s : specials) read_special(g, s.key, n, s.id);

    get_bool(g, "tokenizer.ggml.add_bos_token", &v.add_bos);
    get_bool(g, "tokenizer.ggml.add_eos_token", &v.add_eos);
    get_bool(g, "tokenizer.ggml.add_sep_token", &v.add_sep);
    if (v.add_bos && v.bos < 0) fail_load(FFL_ERR_FORMAT, "tokenizer: add_bos_token is true but there is no BOS token");
    if (v.add_eos && v.eos < 0) fail_load(FFL_ERR_FORMAT, "tokenizer: add_eos_token is true but there is no EOS token");
    if (v.add_sep && v.sep < 0) fail_load(FFL_ERR_FORMAT, "tokenizer: add_sep_token is true but there is no SEP token");

    /* Special tokens the metadata did not name, found by their text; they become control tokens. */
    auto detect = [&](int32_t *slot, auto &texts) {
        if (*slot >= 0) return;
        for (int32_t id = 0; id < n; ++id)
            if (text_in(v.text[(size_t)id], texts)) {
                *slot = id;
                v.attr[(size_t)id] |= ATTR_CONTROL;
                return;
            }
    };
    detect(&v.eot, k_eot_texts);
    detect(&v.eom, k_eom_texts);
    detect(&v.fim_pre, k_fim_pre_texts);
    detect(&v.fim_suf, k_fim_suf_texts);
    detect(&v.fim_mid, k_fim_mid_texts);
    detect(&v.fim_pad, k_fim_pad_texts);
    detect(&v.fim_rep, k_fim_rep_texts);
    detect(&v.fim_sep, k_fim_sep_texts);

    for (int32_t id = 0; id < n; ++id)
        if ((v.attr[(size_t)id] & ATTR_CONTROL) && v.text[(size_t)id].find("unused") != std::string::npos)
            v.attr[(size_t)id] |= ATTR_UNUSED;

    v.eog.assign((size_t)n, 0);
    for (int32_t id : {v.fim_pad, v.fim_rep, v.fim_sep, v.eos, v.eot, v.eom})
        if (id >= 0) v.eog[(size_t)id] = 1;
    for (int32_t id = 0; id < n; ++id)
        if (text_in(v.text[(size_t)id], k_eog_texts)) {
            v.eog[(size_t)id] = 1;
            v.attr[(size_t)id] |= ATTR_CONTROL;
        }
    /* o200k_harmony: "<|end|>" ends a message, not the generation, when "<|return|>" and "<|call|>" exist. */
    {
        int32_t ret = v.find("<|return|>", 10), call = v.find("<|call|>", 8), end = v.find("<|end|>", 7);
        if (ret >= 0 && call >= 0 && end >= 0 && v.eog[(size_t)ret] && v.eog[(size_t)call] && v.eog[(size_t)end]) {
            v.eog[(size_t)end] = 0;
            v.attr[(size_t)end] = ATTR_USER_DEFINED;
        }
    }

    for (int32_t id = 0; id < n; ++id)
        if (v.attr[(size_t)id] & (ATTR_CONTROL | ATTR_USER_DEFINED | ATTR_UNKNOWN)) v.special_tokens.push_back(id);
    std::stable_sort(v.special_tokens.begin(), v.special_tokens.end(), [&](int32_t a, int32_t b) {
        return v.text[(size_t)a].size() > v.text[(size_t)b].size();
    });

    v.piece.resize((size_t)n);
    for (int32_t id = 0; id < n; ++id) v.piece[(size_t)id] = token_to_piece(v, id);

    /* Newline token: the byte token for SPM, the first token of "\n" for BPE, PAD for WPM. */
    if (v.type == FFL_VOCAB_SPM) {
        v.nl = v.byte_tokens['\n'];
        if (v.nl < 0) v.nl = v.pad;
    } else if (v.type == FFL_VOCAB_WPM) {
        v.nl = v.pad;
    } else {
        std::vector<int32_t> ids;
        tokenize(v, "\n", 1, false, false, ids);
        v.nl = ids.empty() ? v.pad : ids[0];
    }
}

} // namespace

extern "C" int32_t ffl_vocab_from_gguf(const struct ffl_gguf *g, ffl_vocab **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_from_gguf: out is NULL");
    *out = nullptr;
    if (!g) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_from_gguf: gguf is NULL");
    ffl_vocab *v = nullptr;
    try {
        v = new ffl_vocab();
        load(g, *v);
        *out = v;
        FFL_LOGD("tokenizer: %s/%s vocabulary, %d tokens, %zu merges", v->model_name.c_str(),
                 v->pre_name.empty() ? "default" : v->pre_name.c_str(), v->n_tokens(), v->merges.size());
        return FFL_OK;
    } catch (const LoadError &e) {
        delete v;
        return ffl_fail(e.status, "%s", e.message.c_str());
    } catch (const std::bad_alloc &) {
        delete v;
        return ffl_fail(FFL_ERR_OUT_OF_MEMORY, "tokenizer: out of memory while loading the vocabulary");
    } catch (const std::exception &e) {
        delete v;
        return ffl_fail(FFL_ERR_INTERNAL, "tokenizer: %s", e.what());
    }
}

extern "C" int32_t ffl_vocab_load(const char *path, ffl_vocab **out) {
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_load: out is NULL");
    *out = nullptr;
    if (!path) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_load: path is NULL");
    ffl_gguf *g = nullptr;
    int32_t st = ffl_gguf_open(path, 0, &g); /* mapped: only the metadata pages are ever touched */
    if (st != FFL_OK) return st;
    st = ffl_vocab_from_gguf(g, out);
    ffl_gguf_close(g);
    return st;
}

extern "C" void ffl_vocab_free(ffl_vocab *vocab) { delete vocab; }

extern "C" int32_t ffl_vocab_n_tokens(const ffl_vocab *v) {
    if (!v) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_n_tokens: vocab is NULL");
    return v->n_tokens();
}

extern "C" int32_t ffl_vocab_get_type(const ffl_vocab *v) {
    if (!v) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_get_type: vocab is NULL");
    return v->type;
}

extern "C" const char *ffl_vocab_model_name(const ffl_vocab *v) { return v ? v->model_name.c_str() : ""; }

extern "C" const char *ffl_vocab_pre_name(const ffl_vocab *v) {
    if (!v) return "";
    return v->pre_name.empty() ? "default" : v->pre_name.c_str();
}

extern "C" int32_t ffl_vocab_flags(const ffl_vocab *v) {
    if (!v) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_flags: vocab is NULL");
    return (v->add_bos ? FFL_VOCAB_FLAG_ADD_BOS : 0) | (v->add_eos ? FFL_VOCAB_FLAG_ADD_EOS : 0) |
           (v->add_sep ? FFL_VOCAB_FLAG_ADD_SEP : 0) | (v->add_space_prefix ? FFL_VOCAB_FLAG_ADD_SPACE_PREFIX : 0) |
           (v->remove_extra_whitespaces ? FFL_VOCAB_FLAG_REMOVE_EXTRA_WHITESPACES : 0) |
           (v->clean_spaces ? FFL_VOCAB_FLAG_CLEAN_SPACES : 0) | (v->ignore_merges ? FFL_VOCAB_FLAG_IGNORE_MERGES : 0);
}

extern "C" int32_t ffl_vocab_special_token(const ffl_vocab *v, int32_t which) {
    if (!v) {
        ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_special_token: vocab is NULL");
        return -1;
    }
    switch (which) {
    case FFL_TOKEN_BOS: return v->bos;
    case FFL_TOKEN_EOS: return v->eos;
    case FFL_TOKEN_EOT: return v->eot;
    case FFL_TOKEN_EOM: return v->eom;
    case FFL_TOKEN_UNK: return v->unk;
    case FFL_TOKEN_SEP: return v->sep;
    case FFL_TOKEN_PAD: return v->pad;
    case FFL_TOKEN_MASK: return v->mask;
    case FFL_TOKEN_CLS: return v->cls >= 0 ? v->cls : (v->type == FFL_VOCAB_WPM ? v->bos : -1);
    case FFL_TOKEN_NL: return v->nl;
    case FFL_TOKEN_FIM_PRE: return v->fim_pre;
    case FFL_TOKEN_FIM_SUF: return v->fim_suf;
    case FFL_TOKEN_FIM_MID: return v->fim_mid;
    case FFL_TOKEN_FIM_PAD: return v->fim_pad;
    case FFL_TOKEN_FIM_REP: return v->fim_rep;
    case FFL_TOKEN_FIM_SEP: return v->fim_sep;
    default:
        ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_special_token: unknown kind %d", which);
        return -1;
    }
}

extern "C" int32_t ffl_vocab_is_eog(const ffl_vocab *v, int32_t token) {
    if (!v) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_is_eog: vocab is NULL");
    return token >= 0 && token < v->n_tokens() && v->eog[(size_t)token] ? 1 : 0;
}

static int32_t check_token(const ffl_vocab *v, int32_t token, const char *fn) {
    if (!v) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "%s: vocab is NULL", fn);
    if (token < 0 || token >= v->n_tokens())
        return ffl_fail(FFL_ERR_OUT_OF_RANGE, "%s: token %d is outside [0, %d)", fn, token, v->n_tokens());
    return FFL_OK;
}

extern "C" int32_t ffl_vocab_token_attr(const ffl_vocab *v, int32_t token) {
    int32_t st = check_token(v, token, "ffl_vocab_token_attr");
    return st ? st : v->attr[(size_t)token];
}

extern "C" int32_t ffl_vocab_token_type(const ffl_vocab *v, int32_t token) {
    int32_t st = check_token(v, token, "ffl_vocab_token_type");
    return st ? st : v->toktype[(size_t)token];
}

extern "C" int32_t ffl_vocab_token_score(const ffl_vocab *v, int32_t token, float *out) {
    int32_t st = check_token(v, token, "ffl_vocab_token_score");
    if (st) return st;
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_token_score: out is NULL");
    *out = v->score[(size_t)token];
    return FFL_OK;
}

extern "C" int32_t ffl_vocab_token_text(const ffl_vocab *v, int32_t token, const char **out, uint64_t *length) {
    int32_t st = check_token(v, token, "ffl_vocab_token_text");
    if (st) return st;
    if (!out) return ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_token_text: out is NULL");
    *out = v->text[(size_t)token].c_str();
    if (length) *length = v->text[(size_t)token].size();
    return FFL_OK;
}

extern "C" int32_t ffl_vocab_find_token(const ffl_vocab *v, const char *text, int64_t length) {
    if (!v || (!text && length != 0)) {
        ffl_fail(FFL_ERR_INVALID_ARGUMENT, "ffl_vocab_find_token: NULL argument");
        return -1;
    }
    if (length < 0) length = text ? (int64_t)strlen(text) : 0;
    return v->find(text ? text : "", (size_t)length);
}
