/* One small extension.  `greet` copies into a fixed stack buffer (so
 * -fstack-protector-strong instruments it: __stack_chk_fail) and into a
 * buffer of run-time size (so only _FORTIFY_SOURCE=3, which knows
 * __builtin_dynamic_object_size, turns strcpy into __strcpy_chk). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static PyObject *add(PyObject *self, PyObject *args) {
    long a, b;
    if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL;
    return PyLong_FromLong(a + b);
}

static PyObject *greet(PyObject *self, PyObject *args) {
    const char *name;
    char line[64];
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    size_t size = strlen(name) + 1;
    char *copy = malloc(size);
    if (copy == NULL) return PyErr_NoMemory();
    strcpy(copy, name);
    snprintf(line, sizeof line, "hello, %s", copy);
    free(copy);
    return PyUnicode_FromString(line);
}

static PyMethodDef methods[] = {
    {"add", add, METH_VARARGS, "Add two integers."},
    {"greet", greet, METH_VARARGS, "Greet someone."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) { return PyModule_Create(&module); }
