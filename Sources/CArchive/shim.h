#include <archive.h>
#include <archive_entry.h>
// AE_IFREG/AE_IFDIR are cast macros that Swift cannot import.
static const unsigned int TLLM_AE_IFREG = AE_IFREG;
static const unsigned int TLLM_AE_IFDIR = AE_IFDIR;
