#include <stdio.h>
int main(void) { printf("probe: %s\n", PROBE); return 0; }
