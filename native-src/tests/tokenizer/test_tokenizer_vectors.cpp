/* llama.cpp's tokenizer test vectors: every string of every vocab's .inp must give exactly the ids of
 * its .out line (add_special = false, parse_special = false). */
#include "tok_test_common.h"

int main() {
    for (const char *name : k_vocab_names) {
        ffl_vocab *v = nullptr;
        int32_t st = ffl_vocab_load(vocab_path(name).c_str(), &v);
        CHECK_MSG(st == FFL_OK, "%s: load failed: %s", name, ffl_last_error());
        if (st != FFL_OK) continue;
        std::vector<std::string> inputs = read_inputs(vocab_path(name, ".inp"));
        std::vector<std::vector<int32_t>> expected = read_outputs(vocab_path(name, ".out"));
        CHECK_MSG(inputs.size() == expected.size() && !inputs.empty(), "%s: %zu inputs, %zu outputs", name, inputs.size(),
                  expected.size());
        size_t ok = 0;
        for (size_t i = 0; i < inputs.size() && i < expected.size(); ++i) {
            std::vector<int32_t> got = encode(v, inputs[i], 0);
            if (got == expected[i]) {
                ++ok;
                continue;
            }
            CHECK_MSG(got == expected[i], "%s: string %zu '%s'\n  expected: %s\n  got:      %s", name, i, inputs[i].c_str(),
                      join_ids(expected[i]).c_str(), join_ids(got).c_str());
        }
        printf("%s: %zu/%zu strings exact\n", name, ok, inputs.size());
        ffl_vocab_free(v);
    }
    return test_finish("test_tokenizer_vectors");
}
