#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    char buffer[64];
    strncpy(buffer, "hello from greeter", sizeof buffer - 1);
    buffer[sizeof buffer - 1] = '\0';
    printf("%s (%d)\n", buffer, argc);
    return 0;
}
