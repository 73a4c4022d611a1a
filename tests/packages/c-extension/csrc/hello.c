#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *name = argc > 1 ? argv[1] : "world";
    char *copy = malloc(strlen(name) + 1);
    char line[64];
    if (copy == NULL) return 1;
    strcpy(copy, name);
    snprintf(line, sizeof line, "hello, %s", copy);
    puts(line);
    free(copy);
    return 0;
}
