// The README's embedding example compiled as C++. It links only when the
// library's headers give their declarations C linkage.
#include "embed_example.c"
