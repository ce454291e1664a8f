/* The EWS schema files of tools/m365sim/schema/libxml2/, built into m365sim so that it validates
 * requests from any working directory without reading a file (ews_schema.c resolves the schema's
 * imports from these bytes). The Makefile assembles this from the repository root and passes
 * -I tools/m365sim/schema/libxml2, which is where .incbin finds the files. Each blob is followed by
 * a NUL byte that its size does not count. */

#define EWS_SCHEMA_BLOB(symbol, file)                                                              \
	.globl symbol;                                                                             \
	.globl symbol##_end;                                                                       \
	.balign 16;                                                                                \
	symbol:                                                                                    \
	.incbin file;                                                                              \
	symbol##_end:                                                                              \
	.byte 0

	.section .rodata
EWS_SCHEMA_BLOB(m365sim_schema_ews_xsd, "ews.xsd")
EWS_SCHEMA_BLOB(m365sim_schema_messages_xsd, "messages.xsd")
EWS_SCHEMA_BLOB(m365sim_schema_types_xsd, "types.xsd")
EWS_SCHEMA_BLOB(m365sim_schema_xml_namespace_xsd, "xml-namespace.xsd")

/* No executable stack for the program that links this. */
	.section .note.GNU-stack, "", %progbits
