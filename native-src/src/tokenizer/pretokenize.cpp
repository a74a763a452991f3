/* Pre-tokenizer regex sequences per tokenizer.ggml.pre, as published by each model's tokenizer
 * (and adapted by llama.cpp where std::regex lacks a feature, e.g. (?i:...)). */
#include "tokenizer/pretokenize.h"

#include "tokenizer/unicode.h"

#include <cstring>

namespace ffl_tok {

namespace {

const char *const GPT2 = R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";
const char *const LLAMA3 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
const char *const QWEN2 =
    R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
const char *const PORO = R"re( ?[^(\s|.,!?…。，、।۔،)]+)re";
const char *const CJK_DEEPSEEK = R"re([一-龥ࠀ-一가-퟿]+)re";

enum Family {
    F_DEFAULT, F_LLAMA3, F_DEEPSEEK_LLM, F_DEEPSEEK_CODER, F_DEEPSEEK3, F_FALCON, F_STARCODER, F_GPT2, F_QWEN2,
    F_PORO, F_CHATGLM4, F_VIKING, F_TEKKEN, F_CHAMELEON, F_GPT4O, F_SEED_CODER, F_BAILINGMOE, F_SUPERBPE
};

enum : unsigned { IGNORE_MERGES = 1, ADD_BOS = 2, NO_CLEAN = 4, ADD_SEP = 8, NO_BOS = 16 };

struct Entry {
    const char *name;
    Family family;
    unsigned flags;
};

/* tokenizer.ggml.pre values and what llama.cpp sets for each. */
const Entry k_entries[] = {
    {"default", F_DEFAULT, 0},
    {"llama3", F_LLAMA3, IGNORE_MERGES | ADD_BOS},
    {"llama-v3", F_LLAMA3, IGNORE_MERGES | ADD_BOS},
    {"llama-bpe", F_LLAMA3, IGNORE_MERGES | ADD_BOS},
    {"falcon3", F_LLAMA3, IGNORE_MERGES | ADD_BOS},
    {"falcon-h1", F_LLAMA3, IGNORE_MERGES | ADD_BOS},
    {"pixtral", F_LLAMA3, IGNORE_MERGES | ADD_BOS},
    {"midm-2.0", F_LLAMA3, IGNORE_MERGES | ADD_BOS},
    {"lfm2", F_LLAMA3, IGNORE_MERGES | ADD_BOS},
    {"dbrx", F_LLAMA3, 0},
    {"smaug-bpe", F_LLAMA3, 0},
    {"deepseek-llm", F_DEEPSEEK_LLM, NO_CLEAN},
    {"deepseek-coder", F_DEEPSEEK_CODER, NO_CLEAN},
    {"deepseek-v3", F_DEEPSEEK3, NO_CLEAN},
    {"hunyuan-dense", F_DEEPSEEK3, NO_CLEAN},
    {"falcon", F_FALCON, 0},
    {"mpt", F_GPT2, 0},
    {"starcoder", F_STARCODER, 0},
    {"refact", F_STARCODER, 0},
    {"command-r", F_STARCODER, NO_CLEAN},
    {"smollm", F_STARCODER, NO_CLEAN},
    {"codeshell", F_STARCODER, 0},
    {"exaone", F_STARCODER, 0},
    {"minerva-7b", F_STARCODER, 0},
    {"gpt-2", F_GPT2, 0},
    {"phi-2", F_GPT2, 0},
    {"jina-es", F_GPT2, 0},
    {"jina-de", F_GPT2, 0},
    {"gigachat", F_GPT2, 0},
    {"jina-v2-es", F_GPT2, 0},
    {"jina-v2-de", F_GPT2, 0},
    {"a.x-4.0", F_GPT2, 0},
    {"mellum", F_GPT2, 0},
    {"modern-bert", F_GPT2, 0},
    {"exaone4", F_GPT2, 0},
    {"olmo", F_GPT2, 0},
    {"jais", F_GPT2, 0},
    {"trillion", F_GPT2, NO_CLEAN},
    {"jina-v1-en", F_GPT2, ADD_SEP},
    {"jina-v2-code", F_GPT2, ADD_SEP},
    {"roberta-bpe", F_GPT2, ADD_SEP},
    {"qwen2", F_QWEN2, NO_CLEAN},
    {"deepseek-r1-qwen", F_QWEN2, NO_CLEAN},
    {"megrez", F_QWEN2, 0},
    {"stablelm2", F_QWEN2, 0},
    {"hunyuan", F_QWEN2, NO_CLEAN},
    {"grok-2", F_QWEN2, NO_CLEAN},
    {"poro-chat", F_PORO, NO_CLEAN},
    {"bloom", F_PORO, 0},
    {"gpt3-finnish", F_PORO, 0},
    {"glm4", F_CHATGLM4, NO_BOS},
    {"chatglm-bpe", F_CHATGLM4, NO_BOS},
    {"viking", F_VIKING, NO_CLEAN},
    {"tekken", F_TEKKEN, IGNORE_MERGES | ADD_BOS | NO_CLEAN},
    {"chameleon", F_CHAMELEON, ADD_BOS | NO_CLEAN},
    {"gpt-4o", F_GPT4O, NO_CLEAN},
    {"llama4", F_GPT4O, NO_CLEAN},
    {"seed-coder", F_SEED_CODER, NO_CLEAN},
    {"bailingmoe", F_BAILINGMOE, NO_CLEAN},
    {"bailingmoe2", F_BAILINGMOE, NO_CLEAN},
    {"llada-moe", F_BAILINGMOE, NO_CLEAN},
    {"superbpe", F_SUPERBPE, NO_CLEAN},
};

std::vector<std::string> family_patterns(Family f) {
    switch (f) {
    case F_DEFAULT: return {R"re([\p{P}\$\+<=>\^~\|]+)re", GPT2, R"re(\p{N}+)re", "[0-9][0-9][0-9]"};
    case F_LLAMA3: return {LLAMA3};
    case F_DEEPSEEK_LLM:
        /* Keep these characters byte-exact: some (U+1F7D, U+1FBE, U+2126, U+212A, ...) are not in
         * NFC and editors or tools that normalize text would silently change them. */
        return {R"re([\r\n])re",
                R"re(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)re",
                R"re(\s?[!-/:-~！-／：-～‘-‟　-。]+)re", R"re(\s+$)re", CJK_DEEPSEEK, R"re(\p{N}+)re"};
    case F_DEEPSEEK_CODER: return {R"re([\r\n])re", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", CJK_DEEPSEEK, R"re(\p{N})re"};
    case F_DEEPSEEK3:
        return {R"re(\p{N}{1,3})re", R"re([一-龥぀-ゟ゠-ヿ]+)re",
                R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"};
    case F_FALCON: return {R"re([\p{P}\$\+<=>\^~\|`]+)re", GPT2, "[0-9][0-9][0-9]"};
    case F_STARCODER: return {R"re(\p{N})re", GPT2};
    case F_GPT2: return {GPT2};
    case F_QWEN2: return {QWEN2};
    case F_PORO: return {PORO};
    case F_CHATGLM4: return {LLAMA3};
    case F_VIKING: return {PORO, R"re(\p{N})re"};
    case F_TEKKEN:
        return {R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"};
    case F_CHAMELEON:
        return {"<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", R"re(([\t\n]|    |  ))re", R"re(\p{N})re",
                R"re([\p{P}!-/:-@\[-`{-~])re", GPT2};
    case F_GPT4O:
        return {R"re([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"};
    case F_SEED_CODER:
        return {R"re((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)re"};
    case F_BAILINGMOE:
        return {R"re('(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+)re"};
    case F_SUPERBPE: return {R"re(\p{N}+)re", R"re((?=(\d{3})+(?!\d)))re"};
    }
    return {};
}

} // namespace

bool pre_tokenizer_config(const std::string &name, PreTokenizerConfig *cfg) {
    const std::string key = name.empty() ? "default" : name;
    for (const Entry &e : k_entries) {
        if (key != e.name) continue;
        cfg->patterns = family_patterns(e.family);
        cfg->ignore_merges = (e.flags & IGNORE_MERGES) != 0;
        cfg->add_bos = (e.flags & ADD_BOS) != 0;
        cfg->clean_spaces = (e.flags & NO_CLEAN) == 0;
        cfg->add_sep = (e.flags & ADD_SEP) != 0;
        cfg->no_bos = (e.flags & NO_BOS) != 0;
        return true;
    }
    return false;
}

std::vector<std::string> pre_tokenizer_names() {
    std::vector<std::string> names;
    for (const Entry &e : k_entries) names.push_back(e.name);
    return names;
}

PreTokenizer::PreTokenizer(const std::vector<std::string> &patterns) {
    regexes_.reserve(patterns.size());
    for (const std::string &p : patterns) {
        regexes_.emplace_back(p);
        if (regexes_.back().collapsed()) any_collapsed_ = true;
        else any_wide_ = true;
    }
}

void PreTokenizer::split(const std::vector<uint32_t> &cps, std::vector<uint32_t> &lengths) const {
    lengths.clear();
    const size_t n = cps.size();
    if (n == 0) return;
    thread_local std::vector<uint32_t> collapsed, wide, next;
    if (any_collapsed_) {
        collapsed.resize(n);
        for (size_t i = 0; i < n; ++i) collapsed[i] = regex_collapse(cps[i]);
    }
    if (any_wide_) {
        wide.resize(n);
        for (size_t i = 0; i < n; ++i) wide[i] = regex_widen(cps[i]);
    }
    lengths.push_back((uint32_t)n);
    for (const Regex &re : regexes_) {
        const uint32_t *e = re.collapsed() ? collapsed.data() : wide.data();
        next.clear();
        size_t start = 0;
        for (uint32_t len : lengths) {
            const size_t fb = start, fe = start + len;
            size_t prev = fb, pos = fb;
            /* std::regex_iterator semantics: leftmost matches; after an empty match the same
             * position is retried for a non-empty one, else the search moves one further. */
            while (pos <= fe) {
                size_t ms, me;
                if (!re.search(e, fb, fe, pos, &ms, &me)) break;
                if (me == ms) {
                    size_t me2;
                    if (re.match_at(e, fb, fe, ms, true, &me2)) {
                        me = me2;
                    } else {
                        if (ms > prev) next.push_back((uint32_t)(ms - prev));
                        prev = ms;
                        pos = ms + 1;
                        continue;
                    }
                }
                if (ms > prev) next.push_back((uint32_t)(ms - prev));
                next.push_back((uint32_t)(me - ms));
                prev = me;
                pos = me;
            }
            if (prev < fe) next.push_back((uint32_t)(fe - prev));
            start = fe;
        }
        lengths.swap(next);
    }
}

} // namespace ffl_tok
