/* The control API's request parser and schema checks (vmm/api.c's api_parse, with the
 * real command table of vmm/api_cmds.c), as the API thread runs them on every line a
 * client sends. The input is one line (a NUL ends it early, as it would end the text).
 *
 * Invariants: a request is accepted only with a known command and its arguments an
 * object that matches the command's schema (every key known, of the right type, every
 * required key there); a refused one has an error class and a terminated, non-empty
 * description; nothing leaks (LeakSanitizer). */
#include <jansson.h>

#include "tests/fuzz/fuzz.h"
#include "vmm/api.h"
#include "vmm/api_cmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct api_command *cmd = NULL;
	struct api_error err = {0};
	json_t *args = NULL, *id = NULL;
	size_t len = strnlen((const char *)data, size);
	int ret;

	if (len > API_MAX_LINE)
		return 0; /* the framing refuses longer lines before they get here */
	ret = api_parse((const char *)data, len, api_commands, api_nr_commands, &cmd, &args, &id,
			&err);
	if (ret == 0) {
		FUZZ_CHECK(cmd && cmd >= api_commands && cmd < api_commands + api_nr_commands);
		FUZZ_CHECK(json_is_object(args));
		FUZZ_CHECK(!err.cls);
		if (!cmd->args)
			FUZZ_CHECK(json_object_size(args) == 0);
	} else {
		FUZZ_CHECK(ret == -22 && !cmd && !args);
		FUZZ_CHECK(err.cls && err.desc[0] && memchr(err.desc, 0, sizeof(err.desc)));
	}
	json_decref(args);
	json_decref(id);
	return 0;
}
