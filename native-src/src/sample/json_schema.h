/* JSON Schema (common subset) -> GBNF. */
#ifndef FFL_SAMPLE_JSON_SCHEMA_H
#define FFL_SAMPLE_JSON_SCHEMA_H

#include <cstddef>
#include <cstdint>
#include <string>

namespace ffl_sample {

/* Converts a schema to a grammar whose root rule is "root". Returns FFL_OK, or a negative
 * status with `error` set (invalid JSON or schema: FFL_ERR_INVALID_ARGUMENT; a keyword the
 * converter cannot honour: FFL_ERR_UNSUPPORTED). */
int32_t json_schema_to_gbnf(const char *schema, size_t length, std::string &grammar, std::string &error);

} // namespace ffl_sample

#endif
